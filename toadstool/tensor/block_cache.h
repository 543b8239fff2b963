#pragma once
// Internal to tensor/: the stream-aware block cache behind CUDA device
// memory and pinned host memory (PyTorch's CUDACachingAllocator and
// CachingHostAllocator semantics, without their block splitting).
//
// Device work is queued on streams and runs later, so a block freed by its
// tensor may still be read or written by queued work. The cache therefore
// hands a freed block out again only where that cannot race:
// - a block belongs to the stream it was allocated on (its owner) and goes
//   back to that stream's free list: work queued later on the owner runs
//   after the work that used it, so no event is needed;
// - every other stream that used the block (record_use: record_stream(),
//   or an asynchronous copy from pinned memory) gets an event recorded on it
//   when the block is freed, and the block waits in a pending list until all
//   of them have completed.
// The CPU's own allocator (allocator.cpp) knows nothing of this: its path
// stays a free-list lookup under one lock.
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "toadstool/tensor/allocator.h"

namespace toadstool::detail {

// Size classes shared by every cache: multiples of 64 bytes up to 1 KiB, then
// four classes per power of two (1, 1.25, 1.5, 1.75 x 2^k), so rounding
// wastes at most 25% while a repeated request always lands in one class.
size_t round_allocation_size(size_t nbytes);

// A stream of a device: (device index, cudaStream_t). The null stream is the
// device's default stream; {-1, nullptr} owns every pinned host block.
struct StreamRef {
  int device = -1;
  void* stream = nullptr;
  friend bool operator==(const StreamRef&, const StreamRef&) = default;
};

// What the cache needs from the runtime (the CUDA backend; the CPU tests use
// a fake). Any of them may throw; allocate returns nullptr when out of memory.
struct BlockRuntime {
  void* (*allocate)(size_t nbytes) = nullptr;
  void (*deallocate)(void* ptr, size_t nbytes) = nullptr;
  // A new event recorded on `stream` (it completes when the work queued on
  // the stream so far has), whether it completed, waiting for it, freeing it.
  void* (*record_event)(StreamRef stream) = nullptr;
  bool (*event_done)(void* event) = nullptr;
  void (*event_synchronize)(void* event) = nullptr;
  void (*event_destroy)(void* event) = nullptr;
};

class BlockCache {
 public:
  // `name` is what an out-of-memory Error calls this memory ("cuda:0",
  // "pinned host memory").
  BlockCache(std::string name, BlockRuntime runtime) : name_(std::move(name)), runtime_(runtime) {}
  ~BlockCache();
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // A block of at least nbytes for work on `owner`. Out of memory: waits for
  // the pending blocks, gives every cached block back, retries once, then
  // throws an Error naming the memory and the size.
  void* allocate(size_t nbytes, StreamRef owner);
  // Back to the owner's free list, or pending until the events recorded now
  // on every other stream that used it have completed.
  void free(void* ptr);
  // `stream` uses the block that starts at ptr (a no-op for its owner or an
  // unknown pointer: memory this cache did not hand out).
  void record_use(void* ptr, StreamRef stream);

  MemoryStats stats();
  void reset_peak();
  // Waits for the pending blocks, then gives every cached block back.
  void empty_cache();

 private:
  struct Block {
    size_t size = 0;
    StreamRef owner;
    std::vector<StreamRef> uses;  // other streams, each once
  };
  struct Pending {
    void* ptr = nullptr;
    Block block;
    std::vector<void*> events;
  };
  struct FreeKey {
    size_t size;
    StreamRef owner;
    friend bool operator==(const FreeKey&, const FreeKey&) = default;
  };
  struct FreeKeyHash {
    size_t operator()(const FreeKey& k) const noexcept;
  };

  // All called with mutex_ held.
  void collect_pending(bool wait);
  void release_cached();
  void* system_allocate(size_t size);

  const std::string name_;
  const BlockRuntime runtime_;
  std::mutex mutex_;
  std::unordered_map<FreeKey, std::vector<void*>, FreeKeyHash> free_blocks_;
  std::unordered_map<void*, Block> live_;
  std::vector<Pending> pending_;
  MemoryStats stats_;
};

}  // namespace toadstool::detail
