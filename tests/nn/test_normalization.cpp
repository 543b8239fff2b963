// BatchNorm1d / 2d and GroupNorm on cases counted by hand; PyTorch parity of
// outputs, gradients and running statistics is in
// tests/golden/test_nn_parity.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "test_util.h"
#include "toadstool/nn/normalization.h"

namespace toadstool {
namespace {

using testing::expect_close;
using testing::expect_values;
using testing::make;

TEST(BatchNorm, TrainingNormalisesEachChannelAndMovesTheRunningStatistics) {
  nn::BatchNorm1d norm(2);
  // Channel 0: 1, 3 (mean 2, biased variance 1, unbiased 2); channel 1: 5, 5.
  const Tensor x = make({1, 5, 3, 5}, {2, 2});
  const Tensor y = norm.forward(x);
  const double s = 1 / std::sqrt(1 + 1e-5);
  expect_values(y, {-s, 0, s, 0}, {2, 2}, 1e-6, 1e-6);
  // momentum 0.1: mean 0.9 * 0 + 0.1 * 2, variance 0.9 * 1 + 0.1 * 2 (unbiased).
  expect_values(norm.running_mean, {0.2, 0.5}, {2});
  expect_values(norm.running_var, {1.1, 0.9}, {2});
  EXPECT_EQ(norm.num_batches_tracked.item<int64_t>(), 1);
}

TEST(BatchNorm, EvalUsesTheRunningStatistics) {
  nn::BatchNorm2d norm(1);
  {
    const NoGradGuard no_grad;
    norm.running_mean.fill_(2);
    norm.running_var.fill_(4);
  }
  norm.eval();
  const Tensor x = make({2, 4, 6, 8}, {1, 1, 2, 2});
  expect_close(norm.forward(x), (x - 2) / std::sqrt(4 + 1e-5));
  EXPECT_EQ(norm.num_batches_tracked.item<int64_t>(), 0);  // eval leaves them
}

TEST(BatchNorm, WithoutRunningStatisticsEvalUsesTheBatch) {
  nn::BatchNorm1d norm(3, {.track_running_stats = false});
  EXPECT_FALSE(norm.running_mean.defined());
  EXPECT_TRUE(norm.named_buffers().empty());
  norm.eval();
  const Tensor y = norm.forward(randn({8, 3, 5}));
  expect_close(y.mean({0, 2}), zeros({3}), 0, 1e-6);
}

TEST(BatchNorm, StateDictAsPyTorch) {
  nn::BatchNorm2d norm(4);
  EXPECT_EQ(norm.state_dict().keys(),
            (std::vector<std::string>{"weight", "bias", "running_mean", "running_var",
                                      "num_batches_tracked"}));
  EXPECT_EQ(norm.num_batches_tracked.dtype(), kInt64);
  EXPECT_EQ(norm.extra_repr(), "4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True");
}

TEST(BatchNorm, BadInputsAreErrors) {
  nn::BatchNorm2d norm(3);
  EXPECT_THROW(norm.forward(randn({2, 4, 5, 5})), Error);  // channels
  EXPECT_THROW(norm.forward(randn({2, 3, 5})), Error);     // dims
  EXPECT_THROW(norm.forward(randn({1, 3, 1, 1})), Error);  // one value per channel
  EXPECT_THROW(nn::BatchNorm1d(0), Error);
  EXPECT_THROW(nn::BatchNorm1d(2, {.momentum = 1.5}), Error);
}

TEST(GroupNorm, NormalisesEachGroupOfEachExample) {
  nn::GroupNorm norm(2, 4);
  const Tensor x = randn({3, 4, 5}) * 3 + 1;
  const Tensor groups = norm.forward(x).reshape({3, 2, 10});
  expect_close(groups.mean({2}), zeros({3, 2}), 0, 1e-5);
  expect_close(var(groups, {2}, 0), ones({3, 2}), 1e-3, 1e-3);
  EXPECT_THROW(nn::GroupNorm(3, 4), Error);
  EXPECT_THROW(norm.forward(randn({3, 6, 5})), Error);
  EXPECT_EQ(norm.extra_repr(), "2, 4, eps=1e-05, affine=True");
}

}  // namespace
}  // namespace toadstool
