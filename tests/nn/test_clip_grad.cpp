// nn::clip_grad_norm_ and clip_grad_value_: PyTorch's results from
// tests/golden/data/clip_grad.txt (tests/golden/make_golden_clip_grad.py,
// torch 1.13), then the cases the file does not cover.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "golden.h"
#include "test_util.h"
#include "toadstool/nn/clip_grad.h"

namespace toadstool {
namespace {

using testing::expect_close;
using testing::make;

// Leaf parameters (zeros) whose gradients are copies of `grads`.
std::vector<Tensor> params_with(const std::vector<Tensor>& grads) {
  std::vector<Tensor> params;
  for (const Tensor& g : grads) {
    Tensor p = zeros(g.shape(), g.dtype());
    p.requires_grad_();
    p.set_grad(g.clone());
    params.push_back(p);
  }
  return params;
}

TEST(Golden, ClipGrad) {
  const auto cases = testing::load_golden("clip_grad.txt");
  int norm_cases = 0, value_cases = 0;
  for (const auto& [name, stored] : cases) {
    SCOPED_TRACE(name);
    testing::TrackedCase c(stored);
    const auto params = params_with({c.get("g0"), c.get("g1"), c.get("g2")});
    const std::string runner = name.substr(0, name.find('/'));
    if (runner == "clip_norm") {
      const double total = nn::clip_grad_norm_(params, c.get("max_norm").item<double>(),
                                               c.get("norm_type").item<double>());
      EXPECT_NEAR(total, c.get("total").item<double>(), 1e-5 * total);
      ++norm_cases;
    } else if (runner == "clip_value") {
      nn::clip_grad_value_(params, c.get("clip_value").item<double>());
      ++value_cases;
    } else {
      ADD_FAILURE() << "no runner for " << name;
      continue;
    }
    for (size_t i = 0; i < params.size(); ++i) {
      const Tensor& expected = c.get("out" + std::to_string(i));
      EXPECT_EQ(params[i].grad().dtype(), expected.dtype());
      expect_close(params[i].grad(), expected, 1e-5, 1e-6);
    }
    EXPECT_TRUE(c.unused().empty()) << "unread: " << c.unused().front();
  }
  EXPECT_GT(norm_cases, 0);
  EXPECT_GT(value_cases, 0);
}

TEST(ClipGrad, NormByHandInFloat64) {
  // ||(3, 4, 12)||_2 = 13: scaled by 6.5 / (13 + 1e-6).
  auto params = params_with({make({3, 4}, {2}, kFloat64), make({12}, {1}, kFloat64)});
  EXPECT_DOUBLE_EQ(nn::clip_grad_norm_(params, 6.5), 13.0);
  const double coef = 6.5 / (13.0 + 1e-6);
  expect_close(params[0].grad(), make({3 * coef, 4 * coef}, {2}, kFloat64), 1e-15, 0);
  expect_close(params[1].grad(), make({12 * coef}, {1}, kFloat64), 1e-15, 0);
  // inf-norm: the largest absolute value.
  params = params_with({make({-7, 2}, {2}, kFloat64), make({5}, {1}, kFloat64)});
  EXPECT_DOUBLE_EQ(nn::clip_grad_norm_(params, 100, nn::kInfNorm), 7.0);
  expect_close(params[0].grad(), make({-7, 2}, {2}, kFloat64), 0, 0);  // below max_norm
}

TEST(ClipGrad, SkipsMissingGradientsAndReturnsZeroWithoutAny) {
  Tensor without = zeros({3});
  without.requires_grad_();
  EXPECT_EQ(nn::clip_grad_norm_({without}, 1.0), 0.0);
  EXPECT_FALSE(without.grad().defined());
  auto params = params_with({make({6, 8}, {2})});
  params.push_back(without);
  EXPECT_NEAR(nn::clip_grad_norm_(params, 5.0), 10.0, 1e-6);
  expect_close(params[0].grad(), make({3, 4}, {2}), 1e-6);
  nn::clip_grad_value_(params, 1.0);
  expect_close(params[0].grad(), make({1, 1}, {2}));
  EXPECT_FALSE(without.grad().defined());
}

TEST(ClipGrad, NonFiniteNorm) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto params = params_with({make({1, nan}, {2})});
  EXPECT_ERROR(nn::clip_grad_norm_(params, 1.0, 2.0, /*error_if_nonfinite=*/true),
               "clip_grad_norm_: the total 2-norm of the gradients of 1 parameters is nan");
  // Without the check, PyTorch's behaviour: the NaN factor reaches the gradients.
  EXPECT_TRUE(std::isnan(nn::clip_grad_norm_(params, 1.0)));
  EXPECT_TRUE(std::isnan(params[0].grad().select(0, 0).item<double>()));
}

TEST(ClipGrad, BadArguments) {
  auto params = params_with({make({1, 2}, {2})});
  EXPECT_ERROR(nn::clip_grad_norm_(params, -1.0), "clip_grad_norm_: max_norm must be >= 0, got -1");
  EXPECT_ERROR(nn::clip_grad_norm_(params, 1.0, 0.0), "norm_type must be > 0 (or inf), got 0");
  EXPECT_ERROR(nn::clip_grad_value_(params, -0.5), "clip_grad_value_: clip_value must be >= 0");
  expect_close(params[0].grad(), make({1, 2}, {2}));  // untouched
}

}  // namespace
}  // namespace toadstool
