// collate, Dataset::get_batch, TensorDataset and the samplers. The
// DistributedSampler cases without shuffling are PyTorch's own output
// (torch.utils.data.DistributedSampler, torch 1.13); shuffled orders use our
// randperm, whose numbers differ from PyTorch's, so only their structure is
// compared.
#include <algorithm>
#include <bit>
#include <numeric>
#include <set>
#include <vector>

#include "test_util.h"

namespace toadstool::train {
namespace {

using testing::expect_values;

Example example(std::vector<double> x, std::optional<int64_t> y = std::nullopt) {
  const auto n = static_cast<int64_t>(x.size());
  return {from_vector(x, {n}).to(kFloat32), y ? scalar_tensor(*y, kInt64) : Tensor()};
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

bool is_permutation_of_iota(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  return v == iota(static_cast<int64_t>(v.size()));
}

// ---- collate -----------------------------------------------------------------

TEST(DataCollate, StacksXAndYAlongANewFirstDim) {
  const Batch b = collate({example({1, 2, 3}, 7), example({4, 5, 6}, 8)});
  expect_values(b.x, {1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(b.x.dtype(), kFloat32);
  ASSERT_TRUE(b.y.defined());
  EXPECT_EQ(b.y.shape(), (Shape{2}));
  EXPECT_EQ(b.y.dtype(), kInt64);
  expect_values(b.y, {7, 8}, {2});
}

TEST(DataCollate, WithoutYGivesAnUndefinedY) {
  const Batch b = collate({example({1, 2}), example({3, 4}), example({5, 6})});
  EXPECT_EQ(b.x.shape(), (Shape{3, 2}));
  EXPECT_FALSE(b.y.defined());
}

TEST(DataCollate, DoesNotRecord) {
  Example e = example({1, 2});
  e.x.requires_grad_();
  const Batch b = collate({e, e});
  EXPECT_FALSE(b.x.requires_grad());
  EXPECT_EQ(b.x.grad_fn(), nullptr);
}

TEST(DataCollate, Errors) {
  EXPECT_ERROR(collate({}), (std::vector<std::string>{"collate", "no examples"}));
  EXPECT_ERROR(collate({example({1, 2}), example({3, 4}), example({1, 2, 3})}),
               (std::vector<std::string>{"collate", "example 2", "[3] float32", "[2] float32"}));
  Example f64 = example({3, 4});
  f64.x = f64.x.to(kFloat64);
  EXPECT_ERROR(collate({example({1, 2}), f64}),
               (std::vector<std::string>{"collate", "example 1", "float64", "float32"}));
  EXPECT_ERROR(collate({example({1, 2}), Example{}}),
               (std::vector<std::string>{"collate", "example 1", "no x"}));
  EXPECT_ERROR(collate({Example{}}), (std::vector<std::string>{"collate", "example 0", "no x"}));
  EXPECT_ERROR(collate({example({1}, 0), example({2}, 1), example({3})}),
               (std::vector<std::string>{"collate", "example 2", "has no y"}));
  EXPECT_ERROR(collate({example({1}), example({2}, 1)}),
               (std::vector<std::string>{"collate", "example 1", "has a y"}));
  Example wide_y = example({2});
  wide_y.y = zeros({2}, kInt64);
  EXPECT_ERROR(collate({example({1}, 0), wide_y}),
               (std::vector<std::string>{"collate", "example 1", "y [2] int64", "y [] int64"}));
}

// ---- Dataset / TensorDataset ---------------------------------------------------

// A dataset known only through get(): example i is x = [i, -i], y = i % 3.
class FormulaDataset : public Dataset {
 public:
  int64_t size() const override { return 6; }
  Example get(int64_t i) const override {
    return example({static_cast<double>(i), -static_cast<double>(i)}, i % 3);
  }
};

TEST(DataDataset, DefaultGetBatchCollatesGetInTheGivenOrder) {
  const Batch b = FormulaDataset().get_batch({4, 1, 5});
  expect_values(b.x, {4, -4, 1, -1, 5, -5}, {3, 2});
  expect_values(b.y, {1, 1, 2}, {3});
}

TEST(DataTensorDataset, GetReturnsRows) {
  const TensorDataset ds(arange(12).to(kFloat32).view({4, 3}), arange(4) * 10);
  EXPECT_EQ(ds.size(), 4);
  const Example e = ds.get(2);
  expect_values(e.x, {6, 7, 8}, {3});
  EXPECT_EQ(e.y.dim(), 0);
  EXPECT_EQ(e.y.item<int64_t>(), 20);
}

TEST(DataTensorDataset, GetBatchGathersRowsInOrder) {
  // x is non-contiguous: [4, 2, 3] viewed through a transpose.
  const Tensor x = arange(24).to(kFloat64).view({4, 3, 2}).transpose(1, 2);
  const TensorDataset ds(x, arange(4));
  const std::vector<int64_t> indices = {3, 0, 3, 1};
  const Batch b = ds.get_batch(indices);
  EXPECT_EQ(b.x.shape(), (Shape{4, 2, 3}));
  std::vector<Example> rows;
  for (int64_t i : indices) rows.push_back(ds.get(i));
  const Batch expected = collate(rows);
  testing::expect_close(b.x, expected.x, 0, 0);
  expect_values(b.y, {3, 0, 3, 1}, {4});
  // Empty: [0, 2, 3].
  EXPECT_EQ(ds.get_batch({}).x.shape(), (Shape{0, 2, 3}));
}

TEST(DataTensorDataset, WithoutY) {
  const TensorDataset ds(ones({5, 2}));
  EXPECT_FALSE(ds.get(0).y.defined());
  EXPECT_FALSE(ds.get_batch({0, 1}).y.defined());
}

TEST(DataTensorDataset, Errors) {
  const TensorDataset ds(ones({5, 2}), zeros({5}, kInt64));
  EXPECT_ERROR(ds.get(5), (std::vector<std::string>{"TensorDataset", "index 5", "size 5"}));
  EXPECT_ERROR(ds.get(-1), (std::vector<std::string>{"index -1", "size 5"}));
  EXPECT_ERROR(ds.get_batch({0, 7}), (std::vector<std::string>{"index 7", "size 5"}));
  EXPECT_ERROR(TensorDataset(ones({5, 2}), zeros({4})),
               (std::vector<std::string>{"TensorDataset", "[5, 2]", "[4]"}));
  EXPECT_ERROR(TensorDataset(scalar_tensor(1.0)), "first (example) dimension");
  EXPECT_ERROR(TensorDataset{Tensor()}, "undefined");
}

// ---- SequentialSampler / RandomSampler -------------------------------------------

TEST(DataSampler, SequentialIsIota) {
  SequentialSampler s(5);
  EXPECT_EQ(s.size(), 5);
  EXPECT_EQ(s.next_epoch(), iota(5));
  EXPECT_EQ(s.next_epoch(), iota(5));
  EXPECT_TRUE(SequentialSampler(0).next_epoch().empty());
  EXPECT_ERROR(SequentialSampler(-1), "SequentialSampler");
}

TEST(RandomSampler, EachEpochIsAFreshPermutation) {
  RandomSampler s(100, 3);
  EXPECT_EQ(s.size(), 100);
  const auto a = s.next_epoch(), b = s.next_epoch();
  EXPECT_TRUE(is_permutation_of_iota(a));
  EXPECT_TRUE(is_permutation_of_iota(b));
  EXPECT_NE(a, b);
  // Same seed, same sequence of epochs; another seed, another order.
  RandomSampler same(100, 3), other(100, 4);
  EXPECT_EQ(same.next_epoch(), a);
  EXPECT_EQ(same.next_epoch(), b);
  EXPECT_NE(other.next_epoch(), a);
  EXPECT_TRUE(RandomSampler(0, 1).next_epoch().empty());
  EXPECT_EQ(RandomSampler(1, 1).next_epoch(), iota(1));
}

TEST(RandomSampler, OrderDoesNotDependOnTheThreadCount) {
  const int threads = get_num_threads();
  set_num_threads(1);
  const auto one = RandomSampler(100000, 9).next_epoch();
  set_num_threads(4);
  const auto four = RandomSampler(100000, 9).next_epoch();
  set_num_threads(threads);
  EXPECT_EQ(one, four);
}

TEST(RandomSampler, StateDictRoundTripReproducesTheNextEpoch) {
  // A seed above INT64_MAX checks the bit-cast storage.
  const uint64_t seed = 0xF00DFACE12345678ULL;
  RandomSampler s(50, seed);
  s.next_epoch();
  const TensorDict state = s.state_dict();
  EXPECT_EQ(state.keys(), (std::vector<std::string>{"seed", "offset"}));
  EXPECT_EQ(state.at("seed").dtype(), kInt64);
  EXPECT_EQ(state.at("seed").dim(), 0);
  EXPECT_EQ(std::bit_cast<uint64_t>(state.at("seed").item<int64_t>()), seed);
  EXPECT_EQ(std::bit_cast<uint64_t>(state.at("offset").item<int64_t>()),
            s.generator().state().offset);
  const auto next = s.next_epoch();
  const auto after = s.next_epoch();

  RandomSampler resumed(50, 1);
  resumed.load_state_dict(state);
  EXPECT_EQ(resumed.generator().seed(), seed);
  EXPECT_EQ(resumed.next_epoch(), next);
  EXPECT_EQ(resumed.next_epoch(), after);
}

TEST(RandomSampler, LoadStateDictErrors) {
  RandomSampler s(5, 1);
  TensorDict missing;
  missing.insert("seed", scalar_tensor(int64_t{1}, kInt64));
  EXPECT_ERROR(s.load_state_dict(missing), (std::vector<std::string>{"RandomSampler", "offset"}));
  TensorDict floating = s.state_dict();
  floating.set("offset", scalar_tensor(1.5));
  EXPECT_ERROR(s.load_state_dict(floating), "0-d integer tensor");
  TensorDict extra = s.state_dict();
  extra.insert("epoch", scalar_tensor(int64_t{0}, kInt64));
  EXPECT_ERROR(s.load_state_dict(extra), "unexpected entry 'epoch'");
}

// ---- DistributedSampler --------------------------------------------------------

std::vector<std::vector<int64_t>> all_ranks(int64_t n, int64_t replicas, bool shuffle,
                                            uint64_t seed, bool drop_last, int64_t epoch = 0) {
  std::vector<std::vector<int64_t>> out;
  for (int64_t r = 0; r < replicas; ++r) {
    DistributedSampler s(n, replicas, r, shuffle, seed, drop_last);
    s.set_epoch(epoch);
    out.push_back(s.next_epoch());
    EXPECT_EQ(static_cast<int64_t>(out.back().size()), s.size());
  }
  return out;
}

// PyTorch 1.13's lists, ranks 0.. R-1.
TEST(DistributedSampler, MatchesPyTorchWithoutShuffle) {
  using V = std::vector<std::vector<int64_t>>;
  EXPECT_EQ(all_ranks(10, 3, false, 0, false), (V{{0, 3, 6, 9}, {1, 4, 7, 0}, {2, 5, 8, 1}}));
  EXPECT_EQ(all_ranks(10, 3, false, 0, true), (V{{0, 3, 6}, {1, 4, 7}, {2, 5, 8}}));
  EXPECT_EQ(all_ranks(2, 5, false, 0, false), (V{{0}, {1}, {0}, {1}, {0}}));
  EXPECT_EQ(all_ranks(12, 3, false, 0, false), (V{{0, 3, 6, 9}, {1, 4, 7, 10}, {2, 5, 8, 11}}));
  EXPECT_EQ(all_ranks(0, 2, false, 0, false), (V{{}, {}}));
}

// Interleaving the ranks' lists gives back the padded global list.
std::vector<int64_t> interleave(const std::vector<std::vector<int64_t>>& ranks) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < ranks[0].size(); ++i) {
    for (const auto& r : ranks) out.push_back(r[i]);
  }
  return out;
}

TEST(DistributedSampler, ShuffledRanksPartitionOnePermutation) {
  // Divisible: disjoint, and together every index once.
  const auto even = interleave(all_ranks(12, 4, true, 5, false));
  EXPECT_TRUE(is_permutation_of_iota(even));
  EXPECT_NE(even, iota(12));
  // Not divisible: a permutation of 0..9, then its first two repeated.
  const auto padded = interleave(all_ranks(10, 4, true, 5, false));
  ASSERT_EQ(padded.size(), 12u);
  EXPECT_TRUE(is_permutation_of_iota({padded.begin(), padded.begin() + 10}));
  EXPECT_EQ(padded[10], padded[0]);
  EXPECT_EQ(padded[11], padded[1]);
  // drop_last: the first 8 of a permutation, disjoint.
  const auto dropped = interleave(all_ranks(10, 4, true, 5, true));
  ASSERT_EQ(dropped.size(), 8u);
  EXPECT_EQ(std::set<int64_t>(dropped.begin(), dropped.end()).size(), 8u);
  // The padded and dropped lists come from the same permutation.
  EXPECT_TRUE(std::equal(dropped.begin(), dropped.end(), padded.begin()));
}

TEST(DistributedSampler, OrderIsAFunctionOfSeedPlusEpoch) {
  DistributedSampler s(20, 2, 1, true, 5);
  const auto e0 = s.next_epoch();
  EXPECT_EQ(s.next_epoch(), e0);  // next_epoch does not advance
  s.set_epoch(2);
  const auto e2 = s.next_epoch();
  EXPECT_NE(e2, e0);
  EXPECT_EQ(all_ranks(20, 2, true, 7, false, 0)[1], e2);  // seed 5 + epoch 2 == seed 7 + epoch 0
}

TEST(DistributedSampler, StateIsTheEpoch) {
  DistributedSampler s(20, 2, 0, true, 5);
  s.set_epoch(3);
  const TensorDict state = s.state_dict();
  EXPECT_EQ(state.keys(), (std::vector<std::string>{"epoch"}));
  DistributedSampler resumed(20, 2, 0, true, 5);
  resumed.load_state_dict(state);
  EXPECT_EQ(resumed.epoch(), 3);
  EXPECT_EQ(resumed.next_epoch(), s.next_epoch());
  EXPECT_ERROR(resumed.load_state_dict(TensorDict{}), "no 'epoch' entry");
}

TEST(DistributedSampler, Errors) {
  EXPECT_ERROR(DistributedSampler(10, 2, 2),
               (std::vector<std::string>{"invalid rank 2", "[0, 1]"}));
  EXPECT_ERROR(DistributedSampler(10, 2, -1), "invalid rank -1");
  EXPECT_ERROR(DistributedSampler(10, 0, 0), "num_replicas");
  EXPECT_ERROR(DistributedSampler(-1, 2, 0), "non-negative");
}

}  // namespace
}  // namespace toadstool::train
