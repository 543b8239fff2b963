// Each collective's values, checked exactly on every rank: inputs depend on
// the rank, and the sums of small integers and halves are exact in float32
// and float64 whatever the order MPI adds them in.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "dist_test_util.h"

namespace toadstool::testing {
namespace {

using distributed::ReduceOp;

// Rank r's input: element i = (r + 1) * (i + 1) + r / 2.
Tensor rank_input(int64_t n, int rank, DType dtype) {
  return (arange(n, kFloat64).add_(1.0).mul_(rank + 1).add_(rank * 0.5)).to(dtype);
}
// The sum over ranks of rank_input(n, r).
std::vector<double> expected_sum(int64_t n, int size) {
  std::vector<double> sum(n, 0.0);
  for (int r = 0; r < size; ++r) {
    for (int64_t i = 0; i < n; ++i) sum[i] += (r + 1.0) * (i + 1.0) + r * 0.5;
  }
  return sum;
}

void expect_exact(const Tensor& actual, const std::vector<double>& expected) {
  const std::vector<double> got = values(actual);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], expected[i]) << "element " << i;
}

TEST(Collectives, RankSizeLocalRank) {
  distributed::ProcessGroup& pg = world();
  EXPECT_EQ(pg.backend(), "mpi");
  EXPECT_GE(pg.size(), 2);
  EXPECT_GE(pg.rank(), 0);
  EXPECT_LT(pg.rank(), pg.size());
  // One machine: the local rank is the rank.
  EXPECT_EQ(pg.local_rank(), pg.rank());
  // Every rank sees the others: the sum of the ranks.
  Tensor r = full({1}, pg.rank(), kInt64);
  pg.all_reduce(r)->wait();
  EXPECT_EQ(r.item<int64_t>(), int64_t{pg.size()} * (pg.size() - 1) / 2);
}

TEST(Collectives, AllReduceSumFloat64AndFloat32) {
  distributed::ProcessGroup& pg = world();
  for (DType dtype : {kFloat64, kFloat32}) {
    Tensor t = rank_input(12, pg.rank(), dtype).view({3, 4});
    pg.all_reduce(t)->wait();
    EXPECT_EQ(t.shape(), (Shape{3, 4}));
    EXPECT_EQ(t.dtype(), dtype);
    expect_exact(t, expected_sum(12, pg.size()));
  }
}

TEST(Collectives, AllReduceAverage) {
  distributed::ProcessGroup& pg = world();
  for (DType dtype : {kFloat64, kFloat32}) {
    Tensor t = rank_input(7, pg.rank(), dtype);
    pg.all_reduce(t, ReduceOp::Average)->wait();
    // The exact sum, divided once in the tensor's precision.
    std::vector<double> mean = expected_sum(7, pg.size());
    for (double& m : mean) {
      m = dtype == kFloat32 ? static_cast<double>(static_cast<float>(m) / pg.size())
                            : m / pg.size();
    }
    expect_exact(t, mean);
  }
}

TEST(Collectives, AllReduceInt64IsExactBeyondFloat) {
  distributed::ProcessGroup& pg = world();
  const int64_t big = int64_t{1} << 53;  // + 1 is not a double
  Tensor t = full({3}, big + 1 + pg.rank(), kInt64);
  pg.all_reduce(t)->wait();
  const int64_t s = pg.size();
  const int64_t expected = s * (big + 1) + s * (s - 1) / 2;
  for (int64_t i = 0; i < 3; ++i) EXPECT_EQ(t.data_ptr<int64_t>()[i], expected);
}

// Sizes that are not multiples of anything, and one past Open MPI's eager
// limits (its large-message protocols and segmented algorithms).
TEST(Collectives, AllReduceUnevenSizes) {
  distributed::ProcessGroup& pg = world();
  for (int64_t n : {1, 3, 1023, 100003, 1 << 20}) {
    Tensor t = rank_input(n, pg.rank(), kFloat64);
    pg.all_reduce(t)->wait();
    expect_exact(t, expected_sum(n, pg.size()));
  }
}

TEST(Collectives, BroadcastFromEveryRootAndDtype) {
  distributed::ProcessGroup& pg = world();
  for (int root = 0; root < pg.size(); ++root) {
    Tensor f = rank_input(5, pg.rank(), kFloat32);
    Tensor d = rank_input(6, pg.rank(), kFloat64).view({2, 3});
    Tensor i = full({4}, 10 * pg.rank() + 1, kInt64);
    Tensor b = full({3}, pg.rank() == root, kBool);
    std::vector<std::shared_ptr<distributed::Work>> works = {
        pg.broadcast(f, root), pg.broadcast(d, root), pg.broadcast(i, root), pg.broadcast(b, root)};
    for (auto& w : works) w->wait();
    expect_exact(f, values(rank_input(5, root, kFloat32)));
    expect_exact(d, values(rank_input(6, root, kFloat64)));
    expect_exact(i, std::vector<double>(4, 10.0 * root + 1));
    expect_exact(b, std::vector<double>(3, 1.0));
  }
}

TEST(Collectives, AllGatherConcatenatesInRankOrder) {
  distributed::ProcessGroup& pg = world();
  const int s = pg.size();
  Tensor input = arange(6, kFloat32).add_(100.0 * pg.rank()).view({2, 3});
  Tensor concatenated = zeros({2 * s, 3});  // along dim 0
  Tensor stacked = zeros({s, 2, 3}, kFloat32);
  auto w1 = pg.all_gather(concatenated, input);
  auto w2 = pg.all_gather(stacked, input);
  w1->wait();
  w2->wait();
  std::vector<double> expected;
  for (int r = 0; r < s; ++r) {
    for (int i = 0; i < 6; ++i) expected.push_back(100.0 * r + i);
  }
  expect_exact(concatenated, expected);
  expect_exact(stacked, expected);
}

// ZeRO's form: each rank's input is its own slice of the output.
TEST(Collectives, AllGatherInPlace) {
  distributed::ProcessGroup& pg = world();
  const int s = pg.size();
  Tensor output = full({s * 4}, -1.0, kFloat64);
  Tensor mine = output.narrow(0, pg.rank() * 4, 4);
  mine.copy_(arange(4, kFloat64).add_(10.0 * pg.rank()));
  pg.all_gather(output, mine)->wait();
  std::vector<double> expected;
  for (int r = 0; r < s; ++r) {
    for (int i = 0; i < 4; ++i) expected.push_back(10.0 * r + i);
  }
  expect_exact(output, expected);
}

TEST(Collectives, ReduceScatterSumAndAverage) {
  distributed::ProcessGroup& pg = world();
  const int s = pg.size();
  const int64_t n = 5;
  for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Average}) {
    for (DType dtype : {kFloat64, kFloat32}) {
      // input[j] = (rank + 1) * j; output[i] = sum_r (r + 1) * (rank * n + i).
      Tensor input = arange(s * n, kFloat64).mul_(pg.rank() + 1).to(dtype).view({s, n});
      Tensor output = zeros({n}, dtype);
      pg.reduce_scatter(output, input, op)->wait();
      std::vector<double> expected(n);
      for (int64_t i = 0; i < n; ++i) {
        expected[i] = static_cast<double>(pg.rank() * n + i) * s * (s + 1) / 2;
        if (op == ReduceOp::Average) {
          expected[i] = dtype == kFloat32 ? static_cast<float>(expected[i]) / s : expected[i] / s;
        }
      }
      expect_exact(output, expected);
    }
  }
}

TEST(Collectives, ZeroSizeTensors) {
  distributed::ProcessGroup& pg = world();
  Tensor empty = zeros({0});
  Tensor empty2 = zeros({0, 3}, kFloat64);
  Tensor gathered = zeros({0});
  std::vector<std::shared_ptr<distributed::Work>> works = {pg.all_reduce(empty),
                                                           pg.all_reduce(empty2, ReduceOp::Average),
                                                           pg.broadcast(empty2, 0),
                                                           pg.all_gather(gathered, empty),
                                                           pg.reduce_scatter(empty, gathered),
                                                           pg.barrier()};
  for (auto& w : works) {
    w->wait();
    EXPECT_TRUE(w->is_completed());
  }
  EXPECT_EQ(empty2.shape(), (Shape{0, 3}));
}

// Many collectives in flight at once, waited in reverse order; the values
// show that each went to its own tensor.
TEST(Collectives, OutstandingOpsWaitedOutOfOrder) {
  distributed::ProcessGroup& pg = world();
  const int s = pg.size();
  std::vector<Tensor> tensors;
  std::vector<std::shared_ptr<distributed::Work>> works;
  for (int k = 0; k < 8; ++k) {
    const int64_t n = 1 + 4099 * k;
    tensors.push_back(rank_input(n, pg.rank(), k % 2 ? kFloat32 : kFloat64));
    works.push_back(pg.all_reduce(tensors.back()));
  }
  Tensor b = full({3}, pg.rank(), kInt64);
  works.push_back(pg.broadcast(b, s - 1));
  Tensor gathered = zeros({s}, kInt64);
  Tensor one = full({1}, pg.rank() * 7, kInt64);
  works.push_back(pg.all_gather(gathered, one));
  works.push_back(pg.barrier());
  for (auto it = works.rbegin(); it != works.rend(); ++it) (*it)->wait();
  for (auto& w : works) EXPECT_TRUE(w->is_completed());
  for (int k = 0; k < 8; ++k) expect_exact(tensors[k], expected_sum(1 + 4099 * k, s));
  expect_exact(b, std::vector<double>(3, s - 1.0));
  std::vector<double> sevens(s);
  for (int r = 0; r < s; ++r) sevens[r] = 7.0 * r;
  expect_exact(gathered, sevens);
}

// The issuing thread does not wait for the other ranks: rank 0's
// all_reduce returns, unfinished, while the others have not issued theirs.
TEST(Collectives, IssueReturnsBeforeThePeersJoin) {
  distributed::ProcessGroup& pg = world();
  pg.barrier()->wait();
  Tensor t = ones({4});
  if (pg.rank() != 0) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto start = std::chrono::steady_clock::now();
  auto work = pg.all_reduce(t);
  const double issue_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (pg.rank() == 0) {
    EXPECT_FALSE(work->is_completed());
    EXPECT_LT(issue_s, 0.25);
  }
  work->wait();
  expect_exact(t, std::vector<double>(4, pg.size()));
}

// async_op false: the all_reduce has completed when it returns, as one
// blocking MPI call (one group) or issued and waited for (two groups, which
// may be used in different orders: no blocking call then).
TEST(Collectives, SynchronousAllReduceReturnsCompleted) {
  distributed::ProcessGroup& pg = world();
  for (int64_t n : {int64_t{3}, int64_t{1} << 17}) {  // 12 bytes, 512 KiB
    Tensor t = full({n}, pg.rank() + 1.0);
    auto work = pg.all_reduce(t, distributed::ReduceOp::Average, /*async_op=*/false);
    EXPECT_TRUE(work->is_completed());
    work->wait();
    expect_exact(t.narrow(0, 0, 3), std::vector<double>(3, (pg.size() + 1) / 2.0));
  }
  auto second = distributed::init_process_group("mpi");
  Tensor t = ones({4});
  auto work = second->all_reduce(t, distributed::ReduceOp::Sum, /*async_op=*/false);
  EXPECT_TRUE(work->is_completed());
  expect_exact(t, std::vector<double>(4, pg.size()));
}

}  // namespace
}  // namespace toadstool::testing
