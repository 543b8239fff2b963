// The CUDA kernel table. Built so far: device memory and the host copies
// (so CUDA tensors exist and move to and from the CPU); every other entry is
// null, which the dispatcher reports as "<entry>: not built for cuda:N".
// Entries run on the current device (cudaSetDevice); a CUDA error throws
// std::runtime_error naming the call (the front-end has checked its input).
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "toadstool/kernels/backend.h"

namespace toadstool::kernels::cuda {

namespace {

void check(cudaError_t status, const char* call) {
  if (status != cudaSuccess) {
    throw std::runtime_error(std::string(call) + ": " + cudaGetErrorString(status));
  }
}

// nullptr when out of memory (the caching allocator empties its cache and
// retries once, then reports it); a zero-byte request still gets a block.
void* allocate(size_t nbytes) {
  void* ptr = nullptr;
  if (cudaMalloc(&ptr, nbytes == 0 ? 1 : nbytes) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky error of a failed cudaMalloc
    return nullptr;
  }
  return ptr;
}

void deallocate(void* ptr, size_t /*nbytes*/) { (void)cudaFree(ptr); }

// Synchronous: a host read sees the device's finished work.
void copy_to_host(void* dst, const void* src, size_t nbytes) {
  if (nbytes > 0) check(cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToHost), "cudaMemcpy");
}

void copy_from_host(void* dst, const void* src, size_t nbytes) {
  if (nbytes > 0) check(cudaMemcpy(dst, src, nbytes, cudaMemcpyHostToDevice), "cudaMemcpy");
}

Backend make_cuda_backend() {
  Backend b;
  b.device = "cuda";
  b.allocate = allocate;
  b.deallocate = deallocate;
  b.copy_to_host = copy_to_host;
  b.copy_from_host = copy_from_host;
  return b;
}

}  // namespace

}  // namespace toadstool::kernels::cuda

namespace toadstool::kernels {

const Backend& cuda_backend() {
  static const Backend backend = cuda::make_cuda_backend();
  return backend;
}

int cuda_device_count() {
  static const int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      (void)cudaGetLastError();  // no driver or no device: none available
      return 0;
    }
    return n;
  }();
  return count;
}

}  // namespace toadstool::kernels
