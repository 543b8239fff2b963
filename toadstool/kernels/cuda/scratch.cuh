#pragma once
// Temporary device memory for a kernel entry (partial sums between the two
// stages of a reduction, im2col's columns, CUB's sort space), from the
// stream-ordered allocator on current_stream(): freed in stream order when
// the entry returns, so the kernels that use it have been queued before it
// is released. Out of memory, the tensor layer's block cache is emptied
// (cuda_release_cache) and the allocation retried once, as for tensors.
#include <cstddef>

#include "toadstool/kernels/cuda/common.cuh"

namespace toadstool::kernels::cuda {

// After an allocation of the current device failed for want of memory:
// clears the failed call's error (not the next call's) and empties the
// tensor layer's block cache, before the one retry.
inline void release_cache_for_retry() {
  (void)cudaGetLastError();
  int device = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  cuda_release_cache(device);
}

template <class T>
class Scratch {
 public:
  explicit Scratch(size_t count) {
    if (count == 0) return;
    const size_t bytes = count * sizeof(T);
    void** at = reinterpret_cast<void**>(&ptr_);
    cudaError_t status = cudaMallocAsync(at, bytes, current_stream());
    if (status == cudaErrorMemoryAllocation) {
      release_cache_for_retry();
      status = cudaMallocAsync(at, bytes, current_stream());
      if (status == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        throw std::runtime_error("cudaMallocAsync: out of memory allocating " +
                                 std::to_string(bytes) +
                                 " bytes of kernel scratch (the cache emptied and the "
                                 "allocation retried)");
      }
    }
    check(status, "cudaMallocAsync");
  }
  ~Scratch() {
    if (ptr_ != nullptr) (void)cudaFreeAsync(ptr_, current_stream());
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  T* get() const { return ptr_; }

 private:
  T* ptr_ = nullptr;
};

}  // namespace toadstool::kernels::cuda
