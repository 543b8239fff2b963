// The stream-aware block cache behind CUDA and pinned memory
// (tensor/block_cache.h), on the CPU: a fake runtime stands in for
// cudaMalloc and the events, so its rules are checked without a GPU. A fake
// event completes when the test says its stream's work has finished.
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <vector>

#include "test_util.h"
#include "toadstool/tensor/block_cache.h"

namespace toadstool::detail {
namespace {

struct FakeEvent {
  StreamRef stream;
  bool done = false;
};

// The fake runtime's state; reset by each test's fixture.
struct Fake {
  size_t capacity = 1 << 20;  // bytes the "device" holds
  size_t used = 0;
  std::set<void*> blocks;  // handed out by allocate, not yet deallocated
  std::vector<FakeEvent*> events;
  int synchronized = 0, destroyed = 0, deallocated = 0;
};
Fake* g_fake = nullptr;

void* fake_allocate(size_t nbytes) {
  if (g_fake->used + nbytes > g_fake->capacity) return nullptr;
  void* ptr = std::malloc(nbytes);  // NOLINT(cppcoreguidelines-no-malloc): a fake device
  g_fake->used += nbytes;
  g_fake->blocks.insert(ptr);
  return ptr;
}
void fake_deallocate(void* ptr, size_t nbytes) {
  EXPECT_EQ(g_fake->blocks.erase(ptr), 1u) << "deallocate of a block not allocated";
  g_fake->used -= nbytes;
  ++g_fake->deallocated;
  std::free(ptr);  // NOLINT(cppcoreguidelines-no-malloc)
}
void* fake_record_event(StreamRef stream) {
  g_fake->events.push_back(new FakeEvent{stream});
  return g_fake->events.back();
}
bool fake_event_done(void* event) { return static_cast<FakeEvent*>(event)->done; }
void fake_event_synchronize(void* event) {
  static_cast<FakeEvent*>(event)->done = true;
  ++g_fake->synchronized;
}
void fake_event_destroy(void* event) {
  std::erase(g_fake->events, static_cast<FakeEvent*>(event));
  delete static_cast<FakeEvent*>(event);
  ++g_fake->destroyed;
}

constexpr BlockRuntime kFakeRuntime{.allocate = fake_allocate,
                                    .deallocate = fake_deallocate,
                                    .record_event = fake_record_event,
                                    .event_done = fake_event_done,
                                    .event_synchronize = fake_event_synchronize,
                                    .event_destroy = fake_event_destroy};

// Three streams of device 0 (the handles are only compared).
int g_a = 0, g_b = 0, g_c = 0;
const StreamRef kA{0, &g_a}, kB{0, &g_b}, kC{0, &g_c};

class BlockCacheTest : public ::testing::Test {
 protected:
  void SetUp() override { g_fake = &fake_; }
  void TearDown() override {
    cache_.reset();  // gives back every cached block
    EXPECT_TRUE(fake_.events.empty()) << "events leaked";
    EXPECT_TRUE(fake_.blocks.empty()) << "a block was neither freed by the test nor given back";
    g_fake = nullptr;
  }
  // The work queued so far on `stream` has finished.
  void finish(StreamRef stream) {
    for (FakeEvent* e : fake_.events) {
      if (e->stream == stream) e->done = true;
    }
  }

  Fake fake_;
  std::unique_ptr<BlockCache> cache_ = std::make_unique<BlockCache>("fake:0", kFakeRuntime);
};

TEST(BlockCacheSizes, RoundToSizeClasses) {
  EXPECT_EQ(round_allocation_size(0), 64u);
  EXPECT_EQ(round_allocation_size(65), 128u);
  EXPECT_EQ(round_allocation_size(1024), 1024u);
  EXPECT_EQ(round_allocation_size(1025), 1280u);
  EXPECT_EQ(round_allocation_size(4096), 4096u);
  EXPECT_EQ(round_allocation_size(4097), 5120u);
}

TEST_F(BlockCacheTest, AFreedBlockIsReusedOnlyOnItsOwnStream) {
  void* a = cache_->allocate(1000, kA);
  cache_->free(a);
  EXPECT_EQ(cache_->stats().cached_bytes, 1024);
  void* b = cache_->allocate(1000, kB);
  EXPECT_NE(b, a) << "stream B got the block stream A freed";
  EXPECT_EQ(cache_->stats().system_allocations, 2);
  void* again = cache_->allocate(1000, kA);
  EXPECT_EQ(again, a) << "back to its own stream";
  EXPECT_EQ(cache_->stats().system_allocations, 2);
  EXPECT_EQ(cache_->stats().current_bytes, 2048);
  EXPECT_TRUE(fake_.events.empty()) << "no other stream used them: no event";
  cache_->free(again);
  cache_->free(b);
}

TEST_F(BlockCacheTest, ABlockUsedByAnotherStreamWaitsForItsEvent) {
  void* a = cache_->allocate(4096, kA);
  cache_->record_use(a, kB);
  cache_->record_use(a, kB);  // recorded once
  cache_->record_use(a, kA);  // its owner: nothing to wait for
  cache_->free(a);
  ASSERT_EQ(fake_.events.size(), 1u);
  EXPECT_EQ(fake_.events[0]->stream, kB);
  EXPECT_EQ(cache_->stats().pending_bytes, 4096);
  EXPECT_EQ(cache_->stats().cached_bytes, 4096);
  EXPECT_EQ(cache_->stats().current_bytes, 0);

  void* other = cache_->allocate(4096, kA);
  EXPECT_NE(other, a) << "reused while stream B may still read it";
  cache_->free(other);

  finish(kB);
  void* again = cache_->allocate(4096, kA);
  EXPECT_EQ(again, a) << "B has finished: the block is its owner's again";
  EXPECT_EQ(cache_->stats().pending_bytes, 0);
  EXPECT_EQ(fake_.destroyed, 1);
  EXPECT_EQ(fake_.synchronized, 0) << "allocate never waits while memory is left";
  cache_->free(again);
}

TEST_F(BlockCacheTest, PinnedBlocksBelongToNoStream) {
  // The pinned cache's blocks have no owner: any stream that copied from one
  // records its use; once done, any request gets the block.
  void* p = cache_->allocate(256, StreamRef{});
  cache_->record_use(p, kA);
  cache_->record_use(p, kB);
  cache_->free(p);
  EXPECT_EQ(fake_.events.size(), 2u);
  finish(kA);
  void* other = cache_->allocate(256, StreamRef{});
  EXPECT_NE(other, p) << "stream B has not finished";
  finish(kB);
  void* again = cache_->allocate(256, StreamRef{});
  EXPECT_EQ(again, p);
  cache_->free(other);
  cache_->free(again);
}

TEST_F(BlockCacheTest, OutOfMemoryWaitsEmptiesTheCacheAndRetriesOnce) {
  fake_.capacity = 3 * 1024;
  void* a = cache_->allocate(1024, kA);
  void* b = cache_->allocate(1024, kA);
  void* c = cache_->allocate(1024, kA);
  cache_->free(a);  // cached on A
  cache_->record_use(b, kB);
  cache_->free(b);  // pending on B's event
  // Stream C finds nothing on its list and the device full: the pending
  // block is waited for, the cache given back, and the retry succeeds.
  void* d = cache_->allocate(1024, kC);
  EXPECT_NE(d, nullptr);
  EXPECT_EQ(fake_.synchronized, 1);
  EXPECT_EQ(fake_.deallocated, 2);
  const MemoryStats stats = cache_->stats();
  EXPECT_EQ(stats.cached_bytes, 0);
  EXPECT_EQ(stats.pending_bytes, 0);
  EXPECT_EQ(stats.current_bytes, 2048);
  cache_->free(c);
  cache_->free(d);
}

TEST_F(BlockCacheTest, OutOfMemoryAfterTheRetryIsAnError) {
  fake_.capacity = 1024;
  void* a = cache_->allocate(1024, kA);
  EXPECT_ERROR(cache_->allocate(2048, kA), "allocator: out of memory on fake:0 allocating 2048");
  EXPECT_EQ(cache_->stats().current_bytes, 1024) << "the failed request left no trace";
  cache_->free(a);
}

TEST_F(BlockCacheTest, EmptyCacheWaitsForPendingBlocks) {
  void* a = cache_->allocate(100, kA);
  cache_->record_use(a, kB);
  cache_->free(a);
  cache_->empty_cache();
  EXPECT_EQ(fake_.synchronized, 1);
  EXPECT_EQ(fake_.deallocated, 1);
  EXPECT_TRUE(fake_.blocks.empty());
  EXPECT_EQ(cache_->stats().cached_bytes, 0);
  EXPECT_EQ(cache_->stats().pending_bytes, 0);
}

TEST_F(BlockCacheTest, UnknownPointersAreIgnored) {
  int not_ours = 0;
  cache_->record_use(&not_ours, kB);
  cache_->free(&not_ours);
  EXPECT_EQ(cache_->stats().cached_bytes, 0);
  EXPECT_TRUE(fake_.events.empty());
}

TEST_F(BlockCacheTest, PeakFollowsLiveBytes) {
  void* a = cache_->allocate(1024, kA);
  void* b = cache_->allocate(1024, kB);
  cache_->free(a);
  EXPECT_EQ(cache_->stats().peak_bytes, 2048);
  cache_->reset_peak();
  EXPECT_EQ(cache_->stats().peak_bytes, 1024);
  cache_->free(b);
}

}  // namespace
}  // namespace toadstool::detail
