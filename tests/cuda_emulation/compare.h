#pragma once
// The emulation tests' comparison of a result with the CPU backend's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace toadstool::kernels::cuda {

// Element by element within atol + rtol |want|: NaN where want is NaN, equal
// infinities. Reports the first five differences.
template <class Got, class Want>
void expect_close_values(const std::vector<Got>& got, const std::vector<Want>& want, double rtol,
                         double atol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < want.size() && reported < 5; ++i) {
    const double g = got[i], w = want[i];
    const bool same =
        std::isnan(w) ? std::isnan(g) : g == w || std::abs(g - w) <= atol + rtol * std::abs(w);
    if (!same) {
      ADD_FAILURE() << what << ": element " << i << " is " << g << ", the CPU's " << w;
      ++reported;
    }
  }
}

// The largest finite |value|: the scale of a tolerance relative to a whole result.
inline double largest_finite(const std::vector<double>& values) {
  double largest = 0;
  for (double v : values) {
    if (std::isfinite(v)) largest = std::max(largest, std::abs(v));
  }
  return largest;
}

}  // namespace toadstool::kernels::cuda
