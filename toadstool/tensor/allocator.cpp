#include "toadstool/tensor/allocator.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "toadstool/kernels/streams.h"
#include "toadstool/tensor/block_cache.h"
#include "toadstool/tensor/dispatch.h"
#include "toadstool/tensor/error.h"
#include "toadstool/tensor/stream_checks.h"

namespace toadstool {
namespace {

using detail::round_allocation_size;

// The CPU's: blocks from the CPU backend's allocate / deallocate entries,
// one free list per size class (no streams, so nothing waits).
class CachingAllocator {
 public:
  explicit CachingAllocator(Device device) : device_(device) {}

  void* allocate(size_t nbytes) {
    const size_t size = round_allocation_size(nbytes);
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.allocations;
    void* ptr = nullptr;
    auto it = free_blocks_.find(size);
    if (it != free_blocks_.end() && !it->second.empty()) {
      ptr = it->second.back();
      it->second.pop_back();
      stats_.cached_bytes -= static_cast<int64_t>(size);
    } else {
      ptr = system_allocate(size);
    }
    stats_.current_bytes += static_cast<int64_t>(size);
    stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.current_bytes);
    return ptr;
  }

  void free(void* ptr, size_t nbytes) {
    const size_t size = round_allocation_size(nbytes);
    std::lock_guard<std::mutex> lock(mutex_);
    free_blocks_[size].push_back(ptr);
    stats_.current_bytes -= static_cast<int64_t>(size);
    stats_.cached_bytes += static_cast<int64_t>(size);
  }

  MemoryStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

  void reset_peak() {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.peak_bytes = stats_.current_bytes;
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_cached_locked();
  }

  ~CachingAllocator() { release_cached_locked(); }

 private:
  // Called with mutex_ held. On failure the cache is given back and the
  // request retried once before reporting out-of-memory.
  void* system_allocate(size_t size) {
    auto& system_allocate = TS_KERNEL_ENTRY(device_, allocate);
    ++stats_.system_allocations;
    void* ptr = system_allocate(size);
    if (!ptr) {
      release_cached_locked();
      ptr = system_allocate(size);
    }
    TS_CHECK(ptr, "allocator: out of memory on ", device_, " allocating ", size, " bytes (",
             stats_.current_bytes, " bytes in use)");
    return ptr;
  }

  void release_cached_locked() {
    for (auto& [size, blocks] : free_blocks_) {
      for (void* ptr : blocks) detail::backend_of(device_).deallocate(ptr, size);
    }
    free_blocks_.clear();
    stats_.cached_bytes = 0;
  }

  Device device_;
  std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_blocks_;
  MemoryStats stats_;
};

// The CUDA runtime as the block caches use it.
void* record_event(detail::StreamRef stream) {
  return kernels::cuda_event_record_new(stream.device, stream.stream);
}
detail::BlockRuntime cuda_runtime(const kernels::Backend& backend) {
  return {.allocate = backend.allocate,
          .deallocate = backend.deallocate,
          .record_event = record_event,
          .event_done = kernels::cuda_event_query,
          .event_synchronize = kernels::cuda_event_synchronize,
          .event_destroy = kernels::cuda_event_destroy};
}

// The allocators, created on first use and never destroyed: tensors held in
// static objects may be freed after main.
CachingAllocator& cpu_allocator() {
  static auto* const cpu = new CachingAllocator(kCPU);
  return *cpu;
}

// Created by the first call for the device, which is an Error for a device
// this build or machine lacks; later calls (every free) only look it up.
detail::BlockCache& device_cache(Device device) {
  static std::mutex mutex;
  static auto* caches = new std::map<std::pair<DeviceType, int>, detail::BlockCache*>();
  std::lock_guard<std::mutex> lock(mutex);
  detail::BlockCache*& cache = (*caches)[{device.type, device.index}];
  if (!cache) {
    TS_KERNEL_ENTRY(device, allocate);  // a device without memory is an Error here
    cache = new detail::BlockCache(device.str(), cuda_runtime(detail::backend_of(device)));
    // Kernel scratch that runs out of memory empties this cache and retries.
    kernels::set_cuda_cache_releaser(
        [](int index) { empty_cache(Device(DeviceType::CUDA, index)); });
  }
  return *cache;
}

detail::BlockCache& pinned_cache() {
  static auto* const cache = new detail::BlockCache(
      "pinned host memory",
      {.allocate = kernels::cuda_host_allocate,
       .deallocate = [](void* ptr, size_t /*nbytes*/) { kernels::cuda_host_free(ptr); },
       .record_event = record_event,
       .event_done = kernels::cuda_event_query,
       .event_synchronize = kernels::cuda_event_synchronize,
       .event_destroy = kernels::cuda_event_destroy});
  return *cache;
}

// Pinned blocks belong to no stream: every stream that copies from or to
// one records its use.
constexpr detail::StreamRef kNoStream{};

}  // namespace

MemoryStats memory_stats(Device device) {
  if (device.is_cpu()) return cpu_allocator().stats();
  return device_cache(device).stats();
}

void reset_peak_memory_stats(Device device) {
  if (device.is_cpu()) return cpu_allocator().reset_peak();
  device_cache(device).reset_peak();
}

void empty_cache(Device device) {
  if (device.is_cpu()) return cpu_allocator().empty_cache();
  // The blocks are freed with the device current (as they were allocated).
  detail::backend_of(device);
  detail::cuda_call("empty_cache", device, [&] { device_cache(device).empty_cache(); });
}

MemoryStats pinned_memory_stats() { return pinned_cache().stats(); }
void reset_peak_pinned_memory_stats() { pinned_cache().reset_peak(); }
void empty_pinned_cache() {
  detail::cuda_call("empty_pinned_cache", kCPU, [] { pinned_cache().empty_cache(); });
}

namespace detail {

void* allocate(Device device, size_t nbytes) {
  // The CPU's path, on every tensor's allocation and free: no lookup.
  if (device.is_cpu()) return cpu_allocator().allocate(nbytes);
  detail::backend_of(device);  // checks the device and makes it the current GPU
  return detail::cuda_call("allocate", device, [&] {
    BlockCache& cache = device_cache(device);
    return cache.allocate(nbytes, {device.index, kernels::cuda_current_stream(device.index)});
  });
}

void deallocate(Device device, void* ptr, size_t nbytes) {
  if (device.is_cpu()) return cpu_allocator().free(ptr, nbytes);
  device_cache(device).free(ptr);
}

void* allocate_pinned(size_t nbytes) {
  return detail::cuda_call("pin_memory", kCPU,
                           [&] { return pinned_cache().allocate(nbytes, kNoStream); });
}

void deallocate_pinned(void* ptr) { pinned_cache().free(ptr); }

void record_block_use(Device device, void* ptr, int stream_device, void* stream) {
  BlockCache& cache = device.is_cpu() ? pinned_cache() : device_cache(device);
  cache.record_use(ptr, {stream_device, stream});
}

}  // namespace detail

}  // namespace toadstool
