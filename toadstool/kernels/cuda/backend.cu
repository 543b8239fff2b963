// The CUDA kernel table: device memory and the host copies here, every
// other entry from its kernel file (registry.h).
// Entries run on the calling thread's current device (cuda_use_device) and
// stream (current_stream); both live in streams.cu.
#include "toadstool/kernels/cuda/common.cuh"
#include "toadstool/kernels/cuda/registry.h"

namespace toadstool::kernels::cuda {

namespace {

// nullptr when out of memory (the caching allocator empties its cache and
// retries once, then reports it); a zero-byte request still gets a block.
// Any other failure (a kernel fault before it, which every later call
// reports) is thrown as it is, not reported as out of memory.
void* allocate(size_t nbytes) {
  void* ptr = nullptr;
  const cudaError_t status = cudaMalloc(&ptr, nbytes == 0 ? 1 : nbytes);
  if (status == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();  // clear the error of the failed cudaMalloc
    return nullptr;
  }
  check(status, "cudaMalloc");
  return ptr;
}

// cudaFree waits for the device's work; the caching allocator calls it only
// when emptying its cache.
void deallocate(void* ptr, size_t /*nbytes*/) { (void)cudaFree(ptr); }

// Synchronous: a host read sees the finished work of the current stream (work
// queued on another stream must be waited for with an Event first, as in
// PyTorch), and host memory written to the device may be reused as soon as
// the call returns. The non-blocking copies are in host_memory.cu.
void copy_to_host(void* dst, const void* src, size_t nbytes) {
  if (nbytes == 0) return;
  check(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, current_stream()),
        "cudaMemcpyAsync");
  check(cudaStreamSynchronize(current_stream()), "cudaStreamSynchronize");
}

void copy_from_host(void* dst, const void* src, size_t nbytes) {
  if (nbytes == 0) return;
  check(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, current_stream()),
        "cudaMemcpyAsync");
  check(cudaStreamSynchronize(current_stream()), "cudaStreamSynchronize");
}

Backend make_cuda_backend() {
  Backend b;
  b.device = "cuda";
  b.allocate = allocate;
  b.deallocate = deallocate;
  b.copy_to_host = copy_to_host;
  b.copy_from_host = copy_from_host;
  register_elementwise(b);
  register_indexing(b);
  register_random(b);
  register_optim(b);
  register_reduce(b);
  register_gemm(b);
  register_rows(b);
  register_attention(b);
  register_lstm_cell(b);
  register_conv(b);
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

void cuda_synchronize() { cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

}  // namespace toadstool::kernels
