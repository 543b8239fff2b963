#pragma once
// The caching allocators. Tensor storage is freed into per-size free lists and
// reused, so a repeated workload (a training step) stops calling malloc (or
// cudaMalloc), and with it mmap and page faults, after its first iteration.
// On a GPU, blocks are also kept per stream (tensor/block_cache.h): a freed
// block is handed out again only to work on the stream it was allocated on,
// or, after record_stream(), once the other streams' work has finished.
#include <cstddef>
#include <cstdint>

#include "toadstool/tensor/device.h"

namespace toadstool {

struct MemoryStats {
  int64_t current_bytes = 0;       // held by live tensors (requested sizes, rounded)
  int64_t peak_bytes = 0;          // highest current_bytes since the last reset
  int64_t cached_bytes = 0;        // freed blocks kept for reuse
  int64_t pending_bytes = 0;       // of those, blocks waiting for other streams' work
                                   // (record_stream, a copy from pinned memory in flight)
  int64_t allocations = 0;         // allocate() calls
  int64_t system_allocations = 0;  // of those, the ones that went to the system
};

// Statistics for one device.
MemoryStats memory_stats(Device device = kCPU);
void reset_peak_memory_stats(Device device = kCPU);
// Returns all cached blocks to the system (on a GPU, after waiting for the
// pending ones).
void empty_cache(Device device = kCPU);

// The cache of pinned (page-locked) host memory behind Tensor::pin_memory()
// and non-blocking copies to the host: statistics and emptying it (all
// zeros, and a no-op, when nothing was ever pinned).
MemoryStats pinned_memory_stats();
void reset_peak_pinned_memory_stats();
void empty_pinned_cache();

namespace detail {
// 64-byte aligned blocks of at least `nbytes` on `device`, from its
// backend's memory (a zero-byte request still returns a unique, freeable
// pointer).
void* allocate(Device device, size_t nbytes);
void deallocate(Device device, void* ptr, size_t nbytes);
// Pinned host blocks (the caller has checked that CUDA is available).
void* allocate_pinned(size_t nbytes);
void deallocate_pinned(void* ptr);
// The stream `stream` of GPU `stream_device` uses the block at ptr of
// `device` (a GPU, or kCPU for a pinned block): it is not reused after its
// free before that stream's work queued so far has finished.
void record_block_use(Device device, void* ptr, int stream_device, void* stream);
}  // namespace detail

}  // namespace toadstool
