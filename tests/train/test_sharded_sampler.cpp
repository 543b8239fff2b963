// ShardedBatchSampler: each rank's share of every global batch of a base
// sampler (data parallel with length-bucketed batches).
#include <memory>
#include <vector>

#include "test_util.h"
#include "toadstool/train/data/sampler.h"

namespace toadstool::train {
namespace {

using Indices = std::vector<int64_t>;

Indices epoch_of(int64_t n, int64_t global_batch, int64_t replicas, int64_t rank) {
  ShardedBatchSampler s(std::make_shared<SequentialSampler>(n), global_batch, replicas, rank);
  Indices got = s.next_epoch();
  EXPECT_EQ(static_cast<int64_t>(got.size()), s.size());
  return got;
}

TEST(ShardedBatchSampler, EachRankTakesItsSliceOfEveryGlobalBatch) {
  // Global batches {0..3}, {4..7}, {8, 9}: the last split one each.
  EXPECT_EQ(epoch_of(10, 4, 2, 0), (Indices{0, 1, 4, 5, 8}));
  EXPECT_EQ(epoch_of(10, 4, 2, 1), (Indices{2, 3, 6, 7, 9}));
}

TEST(ShardedBatchSampler, PadsTheLastGlobalBatchSoEveryRankGetsAsMany) {
  // {0..5} then {6..9} padded to {6, 7, 8, 9, 6, 7}: two each.
  EXPECT_EQ(epoch_of(10, 6, 3, 0), (Indices{0, 1, 6, 7}));
  EXPECT_EQ(epoch_of(10, 6, 3, 1), (Indices{2, 3, 8, 9}));
  EXPECT_EQ(epoch_of(10, 6, 3, 2), (Indices{4, 5, 6, 7}));
  // Fewer indices in the last batch than ranks: it cycles.
  EXPECT_EQ(epoch_of(7, 6, 3, 2), (Indices{4, 5, 6}));
}

TEST(ShardedBatchSampler, RanksFollowTheSameSeededOrderAndItsState) {
  auto make = [](int64_t rank) {
    return ShardedBatchSampler(std::make_shared<RandomSampler>(12, 5), 4, 2, rank);
  };
  ShardedBatchSampler r0 = make(0), r1 = make(1);
  RandomSampler whole(12, 5);
  for (int epoch = 0; epoch < 2; ++epoch) {
    const Indices all = whole.next_epoch(), a = r0.next_epoch(), b = r1.next_epoch();
    for (size_t batch = 0; batch < 3; ++batch) {  // batch k = a's pair, then b's pair
      EXPECT_EQ(a[2 * batch], all[4 * batch]);
      EXPECT_EQ(a[2 * batch + 1], all[4 * batch + 1]);
      EXPECT_EQ(b[2 * batch], all[4 * batch + 2]);
      EXPECT_EQ(b[2 * batch + 1], all[4 * batch + 3]);
    }
  }
  // The state is the base sampler's: a resumed rank continues the order.
  ShardedBatchSampler resumed = make(0);
  resumed.load_state_dict(r0.state_dict());
  EXPECT_EQ(resumed.next_epoch(), r0.next_epoch());
}

TEST(ShardedBatchSampler, ChecksItsArguments) {
  auto base = std::make_shared<SequentialSampler>(10);
  EXPECT_ERROR(ShardedBatchSampler(base, 5, 2, 0),
               "ShardedBatchSampler: the global batch (5) must be a positive multiple of "
               "num_replicas (2)");
  EXPECT_ERROR(ShardedBatchSampler(base, 4, 2, 2), "ShardedBatchSampler: invalid rank 2");
  EXPECT_ERROR(ShardedBatchSampler(nullptr, 4, 2, 0), "the base sampler is null");
}

}  // namespace
}  // namespace toadstool::train
