#include "toadstool/train/tensorboard/histogram.h"

#include <algorithm>
#include <cmath>

#include "toadstool/tensor/error.h"

namespace toadstool::train::tensorboard {

Histogram histogram_of(const Tensor& values, int64_t buckets) {
  TS_CHECK(buckets >= 1, "histogram_of: buckets must be >= 1, got ", buckets);
  const Tensor host = values.detach().to(kCPU).to(kFloat64).contiguous();
  const double* data = host.data_ptr<double>();
  const int64_t n = host.numel();

  Histogram histogram;
  histogram.min = INFINITY;
  histogram.max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    const double v = data[i];
    if (!std::isfinite(v)) continue;
    histogram.min = std::min(histogram.min, v);
    histogram.max = std::max(histogram.max, v);
    histogram.num += 1;
    histogram.sum += v;
    histogram.sum_squares += v * v;
  }
  if (histogram.num == 0) {
    histogram.min = histogram.max = 0;
    return histogram;
  }
  const double width = (histogram.max - histogram.min) / static_cast<double>(buckets);
  if (width == 0) {
    histogram.bucket_limit = {histogram.max};
    histogram.bucket = {histogram.num};
    return histogram;
  }
  histogram.bucket.assign(static_cast<size_t>(buckets), 0);
  for (int64_t b = 1; b < buckets; ++b) {
    histogram.bucket_limit.push_back(histogram.min + width * static_cast<double>(b));
  }
  histogram.bucket_limit.push_back(histogram.max);  // exact, not min + width * buckets
  for (int64_t i = 0; i < n; ++i) {
    const double v = data[i];
    if (!std::isfinite(v)) continue;
    // The first limit >= v: buckets are closed on the right, as the reader assumes.
    const auto limit =
        std::lower_bound(histogram.bucket_limit.begin(), histogram.bucket_limit.end(), v);
    histogram.bucket[static_cast<size_t>(limit - histogram.bucket_limit.begin())] += 1;
  }
  return histogram;
}

}  // namespace toadstool::train::tensorboard
