#pragma once
// The caching allocator. Tensor storage is freed into per-size free lists and
// reused, so a repeated workload (a training step) stops calling malloc, and
// with it mmap and page faults, after its first iteration.
#include <cstddef>
#include <cstdint>

#include "toadstool/tensor/device.h"

namespace toadstool {

struct MemoryStats {
  int64_t current_bytes = 0;       // held by live tensors (requested sizes, rounded)
  int64_t peak_bytes = 0;          // highest current_bytes since the last reset
  int64_t cached_bytes = 0;        // freed blocks kept for reuse
  int64_t allocations = 0;         // allocate() calls
  int64_t system_allocations = 0;  // of those, the ones that went to the system
};

// Statistics for one device.
MemoryStats memory_stats(Device device = kCPU);
void reset_peak_memory_stats(Device device = kCPU);
// Returns all cached blocks to the system.
void empty_cache(Device device = kCPU);

namespace detail {
// 64-byte aligned blocks of at least `nbytes` on `device`, from its
// backend's memory (a zero-byte request still returns a unique, freeable
// pointer).
void* allocate(Device device, size_t nbytes);
void deallocate(Device device, void* ptr, size_t nbytes);
}  // namespace detail

}  // namespace toadstool
