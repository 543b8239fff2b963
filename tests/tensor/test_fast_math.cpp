// The vectorizable float32 exp / tanh / erf of kernels/fast_math.h against
// libm in double, over a dense sweep and at the edges.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "toadstool/kernels/fast_math.h"
#include "toadstool/kernels/math.h"

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

TEST(FastMath, ExpNonpositiveWithinTwoUlp) {
  double worst = 0;
  for (double x = -87.0; x <= 0.0; x += 0.000731) {
    const float xf = static_cast<float>(x);
    worst = std::max(worst, ulp_error(fast_exp_nonpositive(xf), std::exp(static_cast<double>(xf))));
  }
  EXPECT_LT(worst, 2.0);
  EXPECT_EQ(fast_exp_nonpositive(0.0f), 1.0f);
  EXPECT_EQ(fast_exp_nonpositive(-100.0f), 0.0f);
  EXPECT_EQ(fast_exp_nonpositive(-std::numeric_limits<float>::infinity()), 0.0f);
  EXPECT_TRUE(std::isnan(fast_exp_nonpositive(std::nanf(""))));
}

TEST(FastMath, ErfcFromTheGaussianAbsoluteError) {
  double worst = 0;
  for (double z = 0.0; z < 10.0; z += 0.000377) {
    const float zf = static_cast<float>(z);
    const double zd = zf;
    worst = std::max(
        worst, std::fabs(erfc_nonnegative(zf, fast_exp_nonpositive(-zf * zf)) - std::erfc(zd)));
  }
  EXPECT_LT(worst, 5e-7);  // 1.5e-7 of the formula, the rest float rounding
}

// GELU's derivative in float (from one exponential) against the double
// formula (libm's erf and exp), including the tails where it is 0 or 1.
TEST(FastMath, GeluErfSlopeAbsoluteError) {
  double worst = 0;
  for (double x = -15.0; x < 15.0; x += 0.000377) {
    const float xf = static_cast<float>(x);
    worst =
        std::max(worst, std::fabs(gelu_erf_slope(xf) - gelu_erf_slope(static_cast<double>(xf))));
  }
  EXPECT_LT(worst, 4e-7);
  EXPECT_TRUE(std::isnan(gelu_erf_slope(std::nanf(""))));
  EXPECT_EQ(gelu_erf_slope(0.0f), 0.5f);
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
  // Exactly +-1 from 4 on, whatever the compiler does with the polynomials.
  for (float x : {4.0f, 100.0f, std::numeric_limits<float>::infinity()}) {
    EXPECT_EQ(fast_erf(x), 1.0f) << x;
    EXPECT_EQ(fast_erf(-x), -1.0f) << x;
  }
}

}  // namespace
}  // namespace toadstool::kernels
