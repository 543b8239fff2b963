// DataLoader: batch order and sizes, the same order with any number of
// workers, errors from workers, leaving a pass early, the prefetch bound,
// options checks and the sampler state.
#include <atomic>
#include <chrono>
#include <limits>
#include <numeric>
#include <thread>

#include "test_util.h"

namespace toadstool::train {
namespace {

using namespace std::chrono_literals;

// x [n, 2] with row i = (i, i + 0.5), y [n] = i: a batch's y lists its indices.
std::shared_ptr<TensorDataset> rows(int64_t n) {
  const Tensor i = arange(n).to(kFloat32);
  return std::make_shared<TensorDataset>(stack({i, i + 0.5}, 1), arange(n));
}

// The indices of every batch of one pass, read back from y.
std::vector<std::vector<int64_t>> pass(DataLoader& loader) {
  std::vector<std::vector<int64_t>> out;
  for (const Batch& b : loader) {
    const Tensor y = b.y.contiguous();
    out.emplace_back(y.data_ptr<int64_t>(), y.data_ptr<int64_t>() + y.numel());
  }
  return out;
}

std::vector<std::vector<int64_t>> chunks(const std::vector<int64_t>& order, size_t size) {
  std::vector<std::vector<int64_t>> out;
  for (size_t i = 0; i < order.size(); i += size) {
    out.emplace_back(order.begin() + i, order.begin() + std::min(order.size(), i + size));
  }
  return out;
}

TEST(DataLoader, SequentialBatchesAndDropLast) {
  DataLoader loader(rows(10), {.batch_size = 4});
  EXPECT_EQ(loader.size(), 3);
  EXPECT_EQ(pass(loader), (std::vector<std::vector<int64_t>>{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}}));
  DataLoader dropping(rows(10), {.batch_size = 4, .drop_last = true});
  EXPECT_EQ(dropping.size(), 2);
  EXPECT_EQ(pass(dropping), (std::vector<std::vector<int64_t>>{{0, 1, 2, 3}, {4, 5, 6, 7}}));
  DataLoader exact(rows(8), {.batch_size = 4, .drop_last = true});
  EXPECT_EQ(exact.size(), 2);
  DataLoader empty(rows(0), {.batch_size = 4});
  EXPECT_EQ(empty.size(), 0);
  EXPECT_TRUE(pass(empty).empty());
}

// A batch_size near INT64_MAX is one batch (the count used to compute
// n + batch_size - 1, a signed overflow that UBSan reports).
TEST(DataLoader, HugeBatchSizeIsOneBatch) {
  const int64_t huge = std::numeric_limits<int64_t>::max();
  DataLoader loader(rows(5), {.batch_size = huge});
  EXPECT_EQ(loader.size(), 1);
  EXPECT_EQ(pass(loader), (std::vector<std::vector<int64_t>>{{0, 1, 2, 3, 4}}));
  DataLoader dropping(rows(5), {.batch_size = huge, .drop_last = true});
  EXPECT_EQ(dropping.size(), 0);
  EXPECT_TRUE(pass(dropping).empty());
}

TEST(DataLoader, BatchesHoldTheRowsOfTheirIndices) {
  DataLoader loader(rows(5), {.batch_size = 2, .shuffle = true, .seed = 3});
  for (const Batch& b : loader) {
    EXPECT_EQ(b.x.shape()[1], 2);
    testing::expect_close(b.x.select(1, 0), b.y.to(kFloat32), 0, 0);
  }
}

TEST(DataLoader, ShuffleFollowsARandomSamplerWithTheSeed) {
  DataLoader loader(rows(23), {.batch_size = 5, .shuffle = true, .seed = 42});
  RandomSampler reference(23, 42);
  for (int epoch = 0; epoch < 3; ++epoch) {
    EXPECT_EQ(pass(loader), chunks(reference.next_epoch(), 5)) << "epoch " << epoch;
  }
}

// The concatenated x's of two epochs are identical with 0, 1 and 4 workers.
TEST(DataLoader, OrderDoesNotDependOnNumWorkers) {
  const auto data = rows(103);
  std::vector<Tensor> results;
  for (int workers : {0, 1, 4}) {
    DataLoader loader(data, {.batch_size = 8, .shuffle = true, .seed = 7, .num_workers = workers});
    std::vector<Tensor> xs;
    for (int epoch = 0; epoch < 2; ++epoch) {
      int64_t batches = 0;
      for (const Batch& b : loader) {
        xs.push_back(b.x);
        ++batches;
      }
      EXPECT_EQ(batches, loader.size());
    }
    results.push_back(cat(xs, 0));
  }
  EXPECT_EQ(results[0].shape(), (Shape{206, 2}));
  testing::expect_close(results[1], results[0], 0, 0);
  testing::expect_close(results[2], results[0], 0, 0);
}

// A dataset known only through get(): y = index; index `bad` throws, and
// get() records what the thread it runs on looks like.
class Probe : public Dataset {
 public:
  Probe(int64_t n, int64_t bad = -1, std::chrono::microseconds delay = 0us)
      : n_(n), bad_(bad), delay_(delay) {}
  int64_t size() const override { return n_; }
  Example get(int64_t i) const override {
    calls.fetch_add(1);
    if (get_num_threads() != 1) multi_threaded.store(true);
    if (autograd::is_grad_enabled()) grad_enabled.store(true);
    if (delay_ > 0us) std::this_thread::sleep_for(delay_);
    TS_CHECK(i != bad_, "Probe: example ", i, " is broken");
    return {full({2}, static_cast<double>(i)), scalar_tensor(i, kInt64)};
  }
  mutable std::atomic<int64_t> calls{0};
  mutable std::atomic<bool> multi_threaded{false}, grad_enabled{false};

 private:
  int64_t n_, bad_;
  std::chrono::microseconds delay_;
};

TEST(DataLoader, WorkersRunOneThreadWithoutGrad) {
  const int threads = get_num_threads();
  set_num_threads(2);  // the consumer's setting must not leak into workers
  auto probe = std::make_shared<Probe>(40);
  DataLoader loader(probe, {.batch_size = 4, .num_workers = 3});
  EXPECT_EQ(pass(loader).size(), 10u);
  set_num_threads(threads);
  EXPECT_EQ(probe->calls.load(), 40);
  EXPECT_FALSE(probe->multi_threaded.load());
  EXPECT_FALSE(probe->grad_enabled.load());
}

TEST(DataLoader, AWorkerErrorReachesTheConsumerInTurn) {
  for (int workers : {0, 1, 3}) {
    // Example 9 sits in batch 4 (indices 8, 9).
    DataLoader loader(std::make_shared<Probe>(20, 9), {.batch_size = 2, .num_workers = workers});
    int64_t seen = 0;
    try {
      for (const Batch& b : loader) {
        EXPECT_EQ(b.y.select(0, 0).item<int64_t>(), 2 * seen);
        ++seen;
      }
      ADD_FAILURE() << "expected an Error with " << workers << " workers";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("example 9 is broken"), std::string::npos) << e.what();
    }
    EXPECT_EQ(seen, 4) << workers << " workers";
    // The next pass meets the same broken example.
    EXPECT_THROW(pass(loader), Error);
  }
}

TEST(DataLoader, AnErrorEndsThePass) {
  DataLoader loader(std::make_shared<Probe>(6, 2), {.batch_size = 1, .num_workers = 2});
  auto it = loader.begin();
  ++it;  // batch 1
  EXPECT_ERROR(++it, "example 2 is broken");
  EXPECT_TRUE(it == loader.end());
  EXPECT_ERROR(*it, "end of a pass");
}

TEST(DataLoader, BreakingOutWithWorkersMidEpochStopsThem) {
  // Slow examples keep every worker busy when the loop is left.
  auto probe = std::make_shared<Probe>(10000, -1, 200us);
  DataLoader loader(probe, {.batch_size = 4, .num_workers = 4, .prefetch_factor = 2});
  int64_t taken = 0;
  for (const Batch& b : loader) {
    (void)b;
    if (++taken == 3) break;
  }
  // Joined: nothing builds batches any more.
  const int64_t calls = probe->calls.load();
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(probe->calls.load(), calls);
  // At most the window beyond the batches taken were started.
  EXPECT_LE(calls, (3 + 4 * 2) * 4);
  // An exception in the loop body leaves the same way.
  EXPECT_THROW(
      {
        for (const Batch& b : loader) {
          (void)b;
          throw std::runtime_error("user code");
        }
      },
      std::runtime_error);
  // Destroying the loader during a pass joins too.
  {
    DataLoader temporary(probe, {.batch_size = 4, .num_workers = 2});
    auto it = temporary.begin();
  }
  SUCCEED();
}

TEST(DataLoader, PrefetchIsBoundedByWorkersTimesFactor) {
  auto probe = std::make_shared<Probe>(1000);
  DataLoader loader(probe, {.batch_size = 1, .num_workers = 2, .prefetch_factor = 3});
  auto it = loader.begin();  // takes batch 0; batches 0..5 may be built
  // Wait for the workers to fill the window, then check they stop there.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (probe->calls.load() < 6 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(probe->calls.load(), 6);
  ++it;  // takes batch 1: one more may be built
  while (probe->calls.load() < 7 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(probe->calls.load(), 7);
}

TEST(DataLoader, ANewPassEndsTheLiveOne) {
  DataLoader loader(rows(10), {.batch_size = 2, .num_workers = 2});
  auto first = loader.begin();
  EXPECT_FALSE(first == loader.end());
  auto second = loader.begin();
  EXPECT_TRUE(first == loader.end());
  EXPECT_FALSE(second == loader.end());
  int64_t batches = 0;
  for (; second != loader.end(); ++second) ++batches;
  EXPECT_EQ(batches, 5);
}

TEST(DataLoader, StateDictDelegatesToTheSampler) {
  DataLoader loader(rows(30), {.batch_size = 7, .shuffle = true, .seed = 5});
  pass(loader);
  const TensorDict state = loader.state_dict();
  EXPECT_EQ(state.keys(), (std::vector<std::string>{"seed", "offset"}));
  const auto next = pass(loader);
  DataLoader resumed(rows(30), {.batch_size = 7, .shuffle = true, .seed = 99});
  resumed.load_state_dict(state);
  EXPECT_EQ(pass(resumed), next);
}

TEST(DataLoader, DistributedSamplerGivesThisRanksShare) {
  auto sampler = std::make_shared<DistributedSampler>(10, 3, 1, false);
  DataLoader loader(rows(10), {.batch_size = 3, .sampler = sampler});
  EXPECT_EQ(loader.size(), 2);  // 4 indices per rank
  EXPECT_EQ(pass(loader), (std::vector<std::vector<int64_t>>{{1, 4, 7}, {0}}));
}

// Yields index 10 of a 10-example dataset.
class BadSampler : public Sampler {
 public:
  int64_t size() const override { return 2; }
  std::vector<int64_t> next_epoch() override { return {3, 10}; }
};

TEST(DataLoader, OptionErrors) {
  EXPECT_ERROR(DataLoader(nullptr), "dataset is null");
  EXPECT_ERROR(DataLoader(rows(4), {.batch_size = 0}), "batch_size must be at least 1, got 0");
  EXPECT_ERROR(DataLoader(rows(4), {.num_workers = -1}), "num_workers");
  EXPECT_ERROR(DataLoader(rows(4), {.prefetch_factor = 0}), "prefetch_factor");
  EXPECT_ERROR(
      DataLoader(rows(4), {.shuffle = true, .sampler = std::make_shared<SequentialSampler>(4)}),
      "mutually exclusive with shuffle");
  DataLoader bad(rows(10), {.sampler = std::make_shared<BadSampler>()});
  EXPECT_ERROR(bad.begin(), (std::vector<std::string>{"index 10", "size 10"}));
  DataLoader loader(rows(4));
  EXPECT_ERROR(*loader.end(), "end of a pass");
}

// Pinned batches need a GPU (tests/cuda/test_cuda_streams.cpp checks them
// there): without one the option is refused when the loader is built.
TEST(DataLoader, PinMemoryWithoutAGpuIsAnError) {
  if (cuda_is_available()) GTEST_SKIP() << "a CUDA device is available";
  EXPECT_ERROR(DataLoader(rows(4), {.pin_memory = true}),
               "DataLoader: pin_memory=true needs a CUDA device");
  EXPECT_FALSE(DataLoader(rows(4)).options().pin_memory);
}

}  // namespace
}  // namespace toadstool::train
