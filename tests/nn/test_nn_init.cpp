// nn::init: each function draws from the distribution PyTorch's does (the
// same bounds and moments; the numbers themselves come from our generator).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "test_util.h"

namespace toadstool {
namespace {

struct Moments {
  double mean, std, min, max;
};

Moments moments(const Tensor& t) {
  const auto v = testing::values(t);
  double sum = 0, sq = 0;
  for (double x : v) sum += x;
  const double mean = sum / static_cast<double>(v.size());
  for (double x : v) sq += (x - mean) * (x - mean);
  return {mean, std::sqrt(sq / static_cast<double>(v.size())),
          *std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end())};
}

TEST(NnInit, UniformAndNormalHaveTheirMoments) {
  const Moments u = moments(nn::init::uniform_(empty({200, 100}), -2.0, 4.0));
  EXPECT_NEAR(u.mean, 1.0, 0.05);
  EXPECT_NEAR(u.std, 6.0 / std::sqrt(12.0), 0.02);
  EXPECT_GE(u.min, -2.0);
  EXPECT_LT(u.max, 4.0);
  const Moments n = moments(nn::init::normal_(empty({200, 100}, kFloat64), 3.0, 0.5));
  EXPECT_NEAR(n.mean, 3.0, 0.01);
  EXPECT_NEAR(n.std, 0.5, 0.01);
}

TEST(NnInit, TruncNormalStaysInsideAndIsSeeded) {
  Generator gen(7);
  const Tensor t = nn::init::trunc_normal_(empty({20000}), 0.0, 1.0, -0.5, 1.0, &gen);
  const Moments m = moments(t);
  EXPECT_GE(m.min, -0.5);
  EXPECT_LE(m.max, 1.0);
  // Mean of N(0, 1) truncated to [-0.5, 1]: (phi(-0.5) - phi(1)) / (Phi(1) - Phi(-0.5)).
  const double phi_a = std::exp(-0.125) / std::sqrt(2 * M_PI);
  const double phi_b = std::exp(-0.5) / std::sqrt(2 * M_PI);
  const double mass = 0.5 * (std::erf(1 / std::sqrt(2.0)) - std::erf(-0.5 / std::sqrt(2.0)));
  EXPECT_NEAR(m.mean, (phi_a - phi_b) / mass, 0.01);
  Generator again(7);
  testing::expect_close(nn::init::trunc_normal_(empty({20000}), 0.0, 1.0, -0.5, 1.0, &again), t, 0,
                        0);
  EXPECT_THROW(nn::init::trunc_normal_(empty({4}), 0.0, 1.0, 6.0, 7.0), Error);
}

TEST(NnInit, XavierAndKaimingUseFansAndGains) {
  // weight [out=30, in=20, k=5]: fan_in 100, fan_out 150.
  const auto [fan_in, fan_out] = nn::init::fan_in_and_fan_out(empty({30, 20, 5}));
  EXPECT_EQ(fan_in, 100);
  EXPECT_EQ(fan_out, 150);
  const Moments xu = moments(nn::init::xavier_uniform_(empty({300, 200}), 2.0));
  const double xu_bound = 2.0 * std::sqrt(6.0 / 500.0);
  EXPECT_LE(xu.max, xu_bound);
  EXPECT_GT(xu.max, 0.99 * xu_bound);
  const Moments xn = moments(nn::init::xavier_normal_(empty({300, 200})));
  EXPECT_NEAR(xn.std, std::sqrt(2.0 / 500.0), 0.002);
  const Moments ku =
      moments(nn::init::kaiming_uniform_(empty({300, 200}), 0.0, nn::init::FanMode::FanIn, "relu"));
  EXPECT_NEAR(ku.std, std::sqrt(2.0 / 200.0), 0.002);
  const Moments kn =
      moments(nn::init::kaiming_normal_(empty({300, 200}), 0.0, nn::init::FanMode::FanOut, "relu"));
  EXPECT_NEAR(kn.std, std::sqrt(2.0 / 300.0), 0.002);
  EXPECT_NEAR(nn::init::calculate_gain("leaky_relu", std::sqrt(5.0)), std::sqrt(1.0 / 3.0), 1e-12);
  EXPECT_NEAR(nn::init::calculate_gain("tanh"), 5.0 / 3.0, 1e-12);
  EXPECT_THROW(nn::init::calculate_gain("swish"), Error);
  EXPECT_THROW(nn::init::xavier_uniform_(empty({5})), Error);
  EXPECT_THROW(nn::init::normal_(empty({5}, kInt64)), Error);
}

TEST(NnInit, ConstantsAndNoRecording) {
  Tensor w = ones({3}).requires_grad_();
  nn::init::constant_(w, 0.25);
  testing::expect_close(w, full({3}, 0.25), 0, 0);
  EXPECT_TRUE(w.is_leaf());
  nn::init::zeros_(w);
  testing::expect_close(w, zeros({3}), 0, 0);
  nn::init::ones_(w);
  testing::expect_close(w, ones({3}), 0, 0);
}

}  // namespace
}  // namespace toadstool
