// The vectorizable float32 exp / tanh / erf of kernels/fast_math.h against
// libm in double, over a dense sweep and at the edges.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kernels/fast_math.h"

namespace toadstool::kernels {
namespace {

double ulp_error(float got, double want) {
  const float w = static_cast<float>(want);
  const double ulp = std::nextafter(w, std::numeric_limits<float>::infinity()) - w;
  return std::fabs(got - want) / ulp;
}

TEST(FastMath, ExpWithinTwoUlpOverTheNormalRange) {
  double worst = 0;
  for (double x = -87.0; x < 88.7; x += 0.000731) {
    const float xf = static_cast<float>(x);
    worst = std::max(worst, ulp_error(fast_exp(xf), std::exp(static_cast<double>(xf))));
  }
  EXPECT_LT(worst, 2.0);
}

TEST(FastMath, ExpEdges) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(fast_exp(-inf), 0.0f);
  EXPECT_EQ(fast_exp(-100.0f), 0.0f);
  EXPECT_EQ(fast_exp(inf), inf);
  EXPECT_EQ(fast_exp(100.0f), inf);
  EXPECT_EQ(fast_exp(0.0f), 1.0f);
  EXPECT_TRUE(std::isnan(fast_exp(std::nanf(""))));
  EXPECT_TRUE(std::isfinite(fast_exp(88.7f)));
}

TEST(FastMath, TanhAndErfAbsoluteError) {
  double tanh_worst = 0, erf_worst = 0;
  for (double x = -12.0; x < 12.0; x += 0.000377) {
    const float xf = static_cast<float>(x);
    const double xd = xf;
    tanh_worst = std::max(tanh_worst, std::fabs(fast_tanh(xf) - std::tanh(xd)));
    erf_worst = std::max(erf_worst, std::fabs(fast_erf(xf) - std::erf(xd)));
  }
  EXPECT_LT(tanh_worst, 4e-7);
  EXPECT_LT(erf_worst, 4e-7);
  EXPECT_EQ(fast_tanh(10.0f), 1.0f);
  EXPECT_EQ(fast_tanh(-10.0f), -1.0f);
  EXPECT_EQ(fast_tanh(1e-5f), 1e-5f);  // tiny inputs keep full relative precision
  EXPECT_TRUE(std::isnan(fast_tanh(std::nanf(""))));
  EXPECT_TRUE(std::isnan(fast_erf(std::nanf(""))));
}

}  // namespace
}  // namespace toadstool::kernels
