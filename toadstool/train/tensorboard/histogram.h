#pragma once
// The summary of a tensor's values that TensorBoard's histogram and
// distribution dashboards draw (HistogramProto): count, min, max, sum, sum of
// squares, and counts in buckets given by their right edges.
#include <cstdint>
#include <vector>

#include "toadstool/tensor/tensor.h"

namespace toadstool::train::tensorboard {

struct Histogram {
  double min = 0, max = 0, num = 0, sum = 0, sum_squares = 0;
  // bucket[i] counts the values in (bucket_limit[i - 1], bucket_limit[i]]
  // (the first bucket from min); the last limit is max.
  std::vector<double> bucket_limit, bucket;
};

// `buckets` equal-width buckets from the smallest to the largest finite
// value (TensorBoard's own summary API's choice; its reader takes min as the
// first bucket's left edge and max as the last's right edge). NaN and
// infinite values are left out: a histogram of them has no width, and the
// scalars (the loss) already show a run that went non-finite. One bucket
// when all values are equal; none (num 0) when no value is finite. The
// tensor may be on any device and of any floating dtype. Error: buckets < 1.
Histogram histogram_of(const Tensor& values, int64_t buckets);

}  // namespace toadstool::train::tensorboard
