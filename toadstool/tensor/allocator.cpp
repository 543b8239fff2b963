#include "toadstool/tensor/allocator.h"

#include <algorithm>
#include <bit>
#include <map>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "toadstool/tensor/dispatch.h"
#include "toadstool/tensor/error.h"

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

// One per device; its blocks come from the device's backend (the kernel
// table's allocate / deallocate entries).
class CachingAllocator {
 public:
  explicit CachingAllocator(Device device) : device_(device) {}

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

// The allocator of a device, created on first use. Never destroyed: tensors
// held in static objects may be freed after main.
CachingAllocator& allocator_of(Device device) {
  // The CPU's, on every tensor's allocation and free: no lock, no lookup.
  static auto* const cpu = new CachingAllocator(kCPU);
  if (device.is_cpu()) return *cpu;
  TS_KERNEL_ENTRY(device, allocate);  // a device without memory is an Error here
  static std::mutex mutex;
  static auto* allocators = new std::map<std::pair<DeviceType, int>, CachingAllocator*>();
  std::lock_guard<std::mutex> lock(mutex);
  CachingAllocator*& allocator = (*allocators)[{device.type, device.index}];
  if (!allocator) allocator = new CachingAllocator(device);
  return *allocator;
}

}  // namespace

MemoryStats memory_stats(Device device) { return allocator_of(device).stats(); }

void reset_peak_memory_stats(Device device) { allocator_of(device).reset_peak(); }

void empty_cache(Device device) { allocator_of(device).empty_cache(); }

namespace detail {
void* allocate(Device device, size_t nbytes) { return allocator_of(device).allocate(nbytes); }
void deallocate(Device device, void* ptr, size_t nbytes) { allocator_of(device).free(ptr, nbytes); }
}  // namespace detail

}  // namespace toadstool
