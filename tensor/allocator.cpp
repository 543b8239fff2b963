#include "tensor/allocator.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "tensor/error.h"

namespace toadstool {
namespace {

constexpr size_t kAlignment = 64;

// Size classes: multiples of 64 bytes up to 1 KiB, then four classes per
// power of two (1, 1.25, 1.5, 1.75 x 2^k), so rounding wastes at most 25%
// while a repeated request always lands in the same class.
size_t round_size(size_t nbytes) {
  if (nbytes <= 1024)
    return std::max<size_t>(kAlignment, (nbytes + kAlignment - 1) / kAlignment * kAlignment);
  const size_t power = std::bit_floor(nbytes);
  const size_t step = power / 4;
  return (nbytes + step - 1) / step * step;
}

class CpuCachingAllocator {
 public:
  void* allocate(size_t nbytes) {
    const size_t size = round_size(nbytes);
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
    const size_t size = round_size(nbytes);
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

  ~CpuCachingAllocator() { release_cached_locked(); }

 private:
  // Called with mutex_ held. On failure the cache is given back and the
  // request retried once before reporting out-of-memory.
  void* system_allocate(size_t size) {
    ++stats_.system_allocations;
    void* ptr = std::aligned_alloc(kAlignment, size);
    if (!ptr) {
      release_cached_locked();
      ptr = std::aligned_alloc(kAlignment, size);
    }
    TS_CHECK(ptr, "CPU allocator: out of memory allocating ", size, " bytes (",
             stats_.current_bytes, " bytes in use)");
    return ptr;
  }

  void release_cached_locked() {
    for (auto& [size, blocks] : free_blocks_) {
      for (void* ptr : blocks) std::free(ptr);
    }
    free_blocks_.clear();
    stats_.cached_bytes = 0;
  }

  std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_blocks_;
  MemoryStats stats_;
};

// Never destroyed: tensors held in static objects may be freed after main.
CpuCachingAllocator& cpu_allocator() {
  static auto* allocator = new CpuCachingAllocator();
  return *allocator;
}

void check_cpu(Device device, const char* what) {
  TS_CHECK(device.is_cpu(), what, ": no allocator for device ", device,
           " (this build has the CPU backend only)");
}

}  // namespace

MemoryStats memory_stats(Device device) {
  check_cpu(device, "memory_stats");
  return cpu_allocator().stats();
}

void reset_peak_memory_stats(Device device) {
  check_cpu(device, "reset_peak_memory_stats");
  cpu_allocator().reset_peak();
}

void empty_cache(Device device) {
  check_cpu(device, "empty_cache");
  cpu_allocator().empty_cache();
}

namespace detail {
void* cpu_allocate(size_t nbytes) { return cpu_allocator().allocate(nbytes); }
void cpu_free(void* ptr, size_t nbytes) { cpu_allocator().free(ptr, nbytes); }
}  // namespace detail

}  // namespace toadstool
