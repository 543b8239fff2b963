#pragma once
// The CUDA runtime's names that the kernel sources use, for the warp
// emulator (../warp_emulator.h): function qualifiers vanish, a __shared__
// variable is static (one object for the threads of the running block),
// launch_kernel (kernels/cuda/common.cuh's launch) runs the kernel on the
// emulator, and the stream-ordered allocator is malloc.
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "../warp_emulator.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n)
#define __shared__ static

using cudaError_t = int;
inline constexpr cudaError_t cudaSuccess = 0;
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline const char* cudaGetErrorString(cudaError_t /*status*/) { return "emulated"; }
using cudaStream_t = struct CUstream_st*;

// A kernel built without what it needs (the tiled attention's 16-bit
// kernels before sm_80); never reached here, where WMMA is emulated.
[[noreturn]] inline void __trap() { emu::fail("__trap"); }

// CUDA's vector type, as aligned as on a GPU (where a misaligned float4
// access faults; here UndefinedBehaviorSanitizer reports it).
struct alignas(16) float4 {
  float x, y, z, w;
};
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }

// kernels/cuda/scratch.cuh's allocations, poisoned (0xff bytes: NaN) so that
// a partial result read before it is written shows.
inline cudaError_t cudaMallocAsync(void** ptr, size_t bytes, cudaStream_t /*stream*/) {
  *ptr = std::malloc(bytes);
  if (*ptr == nullptr) return 2;  // cudaErrorMemoryAllocation
  std::memset(*ptr, 0xff, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaFreeAsync(void* ptr, cudaStream_t /*stream*/) {
  std::free(ptr);
  return cudaSuccess;
}

// Host and device memory are one here; the stream is synchronous.
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
inline cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes,
                                   cudaMemcpyKind /*kind*/, cudaStream_t /*stream*/) {
  std::memcpy(dst, src, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaStreamSynchronize(cudaStream_t /*stream*/) { return cudaSuccess; }

// kernels/cuda/common.cuh's current_stream() (streams.cu's), renamed: the
// emulator's is ../emulated_backend.cpp's, beside the library's own.
#define current_stream emulated_current_stream

// What kernels/cuda/common.cuh defines for nvcc.
namespace toadstool::kernels::cuda {
template <class... Params, class... Args>
void launch_kernel(const char* /*name*/, void (*kernel)(Params...), dim3 grid, dim3 block,
                   size_t shared_bytes, const Args&... args) {
  emu::launch(kernel, grid, block, shared_bytes, args...);
}
inline unsigned char* dynamic_shared_memory() { return emu::dynamic_shared; }
}  // namespace toadstool::kernels::cuda
