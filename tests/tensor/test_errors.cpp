// Bad input gives a toadstool::Error whose message names the op and the
// shapes / dtypes / devices involved.
#include <functional>
#include <string>

#include "test_util.h"

namespace toadstool {
namespace {

using testing::expect_error;

TEST(Errors, IncompatibleBroadcast) {
  expect_error([] { add(ones({2, 3}), ones({4})); }, {"add", "[2, 3]", "[4]", "broadcast"});
  expect_error([] { where(ones({2}, kBool), ones({3}), ones({3})); }, {"where", "[2]", "[3]"});
}

TEST(Errors, MatmulInnerDimensionMismatch) {
  expect_error(
      [] {
        matmul(ones({4, 8}), ones({16, 8}));
      },
      {"matmul", "[4, 8] float32", "[16, 8] float32", "8 vs 16"});
  expect_error([] { matmul(ones({2, 3, 4}), ones({5, 2})); }, {"matmul", "[2, 3, 4]", "[5, 2]"});
  expect_error([] { matmul(ones({2, 2, 3}), ones({3, 3, 2})); }, {"matmul", "[2]", "[3]"});
  expect_error([] { matmul(ones({2}, kInt64), ones({2}, kInt64)); }, {"matmul", "int64"});
  expect_error([] { matmul(ones({2}), ones({2}, kFloat64)); }, {"matmul", "float32", "float64"});
  expect_error([] { matmul(scalar_tensor(1.0), ones({2})); }, {"matmul", "at least 1 dim"});
}

TEST(Errors, ViewOfANonViewableLayout) {
  expect_error([] { ones({2, 3}).t().view({6}); }, {"view", "[3, 2]", "[6]", "reshape"});
  expect_error([] { ones({2, 3}).view({4}); }, {"view", "[4]", "6 elements"});
}

TEST(Errors, OutOfRangeDimsAndIndices) {
  expect_error([] { ones({2, 3}).sum({2}); }, {"sum", "dim 2", "2 dims"});
  expect_error([] { ones({2, 3}).select(0, 5); }, {"select", "index 5", "size 2"});
  expect_error([] { ones({2, 3}).transpose(0, -3); }, {"transpose", "dim -3"});
  expect_error([] { softmax(ones({2}), 1); }, {"softmax", "dim 1"});
  expect_error(
      [] {
        index_select(ones({2, 3}), 1, from_vector(std::vector<int64_t>{3}));
      },
      {"index_select", "index 3", "size 3"});
  expect_error(
      [] {
        gather(ones({2, 3}), 1, from_vector(std::vector<int64_t>{-1, 0}, {1, 2}));
      },
      {"gather", "index -1"});
  expect_error(
      [] {
        embedding(ones({4, 2}), from_vector(std::vector<int64_t>{4}));
      },
      {"embedding", "index 4", "size 4"});
  expect_error([] { ones({3}).narrow(0, 2, 2); }, {"narrow", "start 2", "length 2"});
}

TEST(Errors, WrongDtypes) {
  const Tensor ints = ones({2}, kInt64);
  expect_error([] { ones({2}, kInt64).mean(); }, {"mean", "int64"});
  expect_error([] { layer_norm(ones({2, 2}, kInt64), {2}); }, {"layer_norm", "int64"});
  expect_error([] { index_select(ones({2}), 0, ones({1})); }, {"index_select", "int64", "float32"});
  expect_error([] { one_hot(ones({2})); }, {"one_hot", "int64"});
  expect_error([] { where(ones({2}), ones({2}), ones({2})); }, {"where", "bool"});
  expect_error([] { ones({2}, kBool) - ones({2}, kBool); }, {"sub", "bool"});
  expect_error([] { rand({2}, kInt64); }, {"rand", "int64"});
  expect_error([] { softplus(ones({2}), 0); }, {"softplus", "beta", "non-zero"});
  expect_error([] { atan2(ones({2}), ones({3})); }, {"atan2", "[2]", "[3]"});
  expect_error([ints] { ints.data_ptr<float>(); }, {"data_ptr", "int64", "float32"});
}

TEST(Errors, CudaTensorInACpuOnlyBuild) {
  if (cuda_is_built()) GTEST_SKIP() << "this build has CUDA";
  expect_error([] { empty({2, 2}, Device("cuda:0")); }, {"allocate: not built for cuda:0"});
  expect_error([] { ones({2}).to(Device("cuda")); }, {"allocate: not built for cuda:0"});
  expect_error([] { memory_stats(Device("cuda:1")); }, {"allocate", "not built for cuda:1"});
}

TEST(Errors, InPlaceResultWouldBroadcastTheDestination) {
  Tensor a = ones({3});
  expect_error(
      [&] {
        a.add_(ones({2, 3}));
      },
      {"add_", "[2, 3]", "[3]", "broadcasting the destination"});
  expect_error([&] { a.mul_(ones({4, 1})); }, {"mul_", "[4, 3]", "[3]"});
  Tensor i = ones({3}, kInt64);
  expect_error([&] { i.add_(ones({3})); }, {"add_", "float32", "int64"});
}

TEST(Errors, BadShapesInFactoriesAndJoins) {
  expect_error([] { zeros({2, -1}); }, {"negative", "[2, -1]"});
  expect_error([] { cat({ones({2, 3}), ones({2, 4})}); }, {"cat", "[2, 4]", "[2, 3]"});
  expect_error([] { stack({ones({2}), ones({3})}); }, {"stack", "[3]", "[2]"});
  expect_error([] { arange(0, 5, 0); }, {"arange", "step"});
  expect_error([] { layer_norm(ones({2, 3}), {2}); }, {"layer_norm", "[2]", "[2, 3]"});
  expect_error([] { randint(5, 5, {2}); }, {"randint", "low=5", "high=5"});
  expect_error([] { bernoulli({2}, 1.5); }, {"bernoulli", "1.5"});
}

}  // namespace
}  // namespace toadstool
