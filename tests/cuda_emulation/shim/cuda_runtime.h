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
inline cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t /*stream*/) {
  std::memset(dst, value, bytes);
  return cudaSuccess;
}

// The device the emulator stands for: compute capability 9.0 (an H100 or
// H200), 227 KiB of shared memory a block may opt into, PTX of sm_90.
enum cudaDeviceAttr { cudaDevAttrComputeCapabilityMajor, cudaDevAttrMaxSharedMemoryPerBlockOptin };
inline cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
inline cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attribute, int /*device*/) {
  *value = attribute == cudaDevAttrComputeCapabilityMajor ? 9 : 227 << 10;
  return cudaSuccess;
}
struct cudaFuncAttributes {
  int ptxVersion = 0;
};
template <class Kernel>
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attributes, Kernel /*kernel*/) {
  attributes->ptxVersion = 90;
  return cudaSuccess;
}
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize };
template <class Kernel>
cudaError_t cudaFuncSetAttribute(Kernel /*kernel*/, cudaFuncAttribute /*attribute*/,
                                 int /*value*/) {
  return cudaSuccess;
}

// The functions of external linkage that the emulated CUDA files define or
// call, renamed (emulated_*) so that they are not the library's, which the
// emulation test also links (for the CPU backend) and which has the real
// ones in a CUDA build. current_stream (common.cuh, streams.cu's) is
// ../emulated_backend.cpp's; ../emulated_backend.h declares the registers.
#define current_stream emulated_current_stream
#define register_softmax emulated_register_softmax
#define register_layer_norm emulated_register_layer_norm
#define register_cross_entropy emulated_register_cross_entropy
#define register_reduce emulated_register_reduce
#define register_random emulated_register_random
#define register_optim emulated_register_optim
#define register_attention emulated_register_attention
#define register_indexing emulated_register_indexing
#define register_elementwise emulated_register_elementwise
#define register_lstm_cell emulated_register_lstm_cell
#define register_gemm emulated_register_gemm
#define register_conv emulated_register_conv
// conv.cu calls its own table's im2col and gemm: the emulated one.
#define cuda_backend emulated_cuda_backend
#define attention_tiled_takes emulated_attention_tiled_takes
#define attention_tiled_forward emulated_attention_tiled_forward
#define attention_tiled_backward emulated_attention_tiled_backward

// What kernels/cuda/common.cuh defines for nvcc.
namespace toadstool::kernels::cuda {
template <class... Params, class... Args>
void launch_kernel(const char* /*name*/, void (*kernel)(Params...), dim3 grid, dim3 block,
                   size_t shared_bytes, const Args&... args) {
  emu::launch(kernel, grid, block, shared_bytes, args...);
}
inline unsigned char* dynamic_shared_memory() { return emu::dynamic_shared; }
}  // namespace toadstool::kernels::cuda
