#pragma once
// The CUDA runtime's names that the CUDA sources use, for the warp emulator
// (../warp_emulator.h): function qualifiers vanish, a __shared__ variable
// is static (one object for the threads of the running block),
// launch_kernel (kernels/cuda/common.cuh's launch) runs the kernel on the
// emulator, device memory is malloc's, and one device (an sm_90 one) runs
// everything synchronously.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>

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
struct CUstream_st;
using cudaStream_t = CUstream_st*;

// A kernel built without what it needs (the tiled attention's 16-bit
// kernels before sm_80); never reached here, where WMMA is emulated.
[[noreturn]] inline void __trap() { emu::fail("__trap"); }

// CUDA's vector type, as aligned as on a GPU (where a misaligned float4
// access faults; here UndefinedBehaviorSanitizer reports it).
struct alignas(16) float4 {
  float x, y, z, w;
};
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }

inline constexpr cudaError_t cudaErrorMemoryAllocation = 2;
inline constexpr cudaError_t cudaErrorInvalidDevice = 101;
inline constexpr cudaError_t cudaErrorNotReady = 600;

namespace emu {
// The emulated device's memory in use, and its size: unlimited unless a
// test of the out-of-memory paths sets `limit`.
struct DeviceMemory {
  std::mutex mutex;
  std::unordered_map<void*, size_t> blocks;
  size_t used = 0;
  size_t limit = SIZE_MAX;
};
inline DeviceMemory& device_memory() {
  static DeviceMemory memory;
  return memory;
}
// Host memory poisoned (0xff bytes: NaN), so that a value read before it is
// written shows.
inline void* poisoned(size_t bytes) {
  void* ptr = std::malloc(bytes);
  if (ptr != nullptr) std::memset(ptr, 0xff, bytes);
  return ptr;
}
}  // namespace emu

// Device memory is host memory: kernels/cuda/scratch.cuh's allocations and
// the backend's (backend.cu), poisoned, within the device's limit.
inline cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  emu::DeviceMemory& memory = emu::device_memory();
  const std::lock_guard<std::mutex> lock(memory.mutex);
  *ptr = bytes <= memory.limit - memory.used ? emu::poisoned(bytes) : nullptr;
  if (*ptr == nullptr) return cudaErrorMemoryAllocation;
  memory.blocks[*ptr] = bytes;
  memory.used += bytes;
  return cudaSuccess;
}
inline cudaError_t cudaFree(void* ptr) {
  emu::DeviceMemory& memory = emu::device_memory();
  const std::lock_guard<std::mutex> lock(memory.mutex);
  if (const auto block = memory.blocks.find(ptr); block != memory.blocks.end()) {
    memory.used -= block->second;
    memory.blocks.erase(block);
  }
  std::free(ptr);
  return cudaSuccess;
}
inline cudaError_t cudaMallocAsync(void** ptr, size_t bytes, cudaStream_t /*stream*/) {
  return cudaMalloc(ptr, bytes);
}
inline cudaError_t cudaFreeAsync(void* ptr, cudaStream_t /*stream*/) { return cudaFree(ptr); }
inline constexpr unsigned cudaHostAllocPortable = 1;
inline cudaError_t cudaHostAlloc(void** ptr, size_t bytes, unsigned /*flags*/) {
  *ptr = emu::poisoned(bytes);
  return *ptr != nullptr ? cudaSuccess : cudaErrorMemoryAllocation;
}
inline cudaError_t cudaFreeHost(void* ptr) {
  std::free(ptr);
  return cudaSuccess;
}

// One device, 0. Every launch and copy has finished when its call returns,
// so streams and events only keep their identity (and events the time they
// were recorded).
inline cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
inline cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : cudaErrorInvalidDevice;
}
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
inline constexpr unsigned cudaStreamNonBlocking = 1;
struct CUstream_st {};
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned /*flags*/) {
  *stream = new CUstream_st;  // never destroyed, as the stream pool's are not
  return cudaSuccess;
}
inline cudaError_t cudaStreamQuery(cudaStream_t /*stream*/) { return cudaSuccess; }
struct CUevent_st {
  std::chrono::steady_clock::time_point recorded;
};
using cudaEvent_t = CUevent_st*;
inline constexpr unsigned cudaEventDefault = 0, cudaEventDisableTiming = 2;
inline cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned /*flags*/) {
  *event = new CUevent_st;
  return cudaSuccess;
}
inline cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}
inline cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t /*stream*/ = nullptr) {
  event->recorded = std::chrono::steady_clock::now();
  return cudaSuccess;
}
inline cudaError_t cudaEventQuery(cudaEvent_t /*event*/) { return cudaSuccess; }
inline cudaError_t cudaEventSynchronize(cudaEvent_t /*event*/) { return cudaSuccess; }
inline cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  *ms = std::chrono::duration<float, std::milli>(end->recorded - start->recorded).count();
  return cudaSuccess;
}
inline cudaError_t cudaStreamWaitEvent(cudaStream_t /*stream*/, cudaEvent_t /*event*/,
                                       unsigned /*flags*/ = 0) {
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

// What kernels/cuda/common.cuh defines for nvcc.
namespace toadstool::kernels::cuda {
template <class... Params, class... Args>
void launch_kernel(const char* /*name*/, void (*kernel)(Params...), dim3 grid, dim3 block,
                   size_t shared_bytes, const Args&... args) {
  emu::launch(kernel, grid, block, shared_bytes, args...);
}
inline unsigned char* dynamic_shared_memory() { return emu::dynamic_shared; }
}  // namespace toadstool::kernels::cuda
