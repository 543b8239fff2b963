#pragma once
// Temporary device memory for a kernel entry (partial sums between the two
// stages of a reduction), from the stream-ordered allocator on
// current_stream(): freed in stream order when the entry returns, so the
// kernels that use it have been queued before it is released.
#include <cstddef>

#include "toadstool/kernels/cuda/common.cuh"

namespace toadstool::kernels::cuda {

template <class T>
class Scratch {
 public:
  explicit Scratch(size_t count) {
    if (count > 0) {
      check(cudaMallocAsync(reinterpret_cast<void**>(&ptr_), count * sizeof(T), current_stream()),
            "cudaMallocAsync");
    }
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
