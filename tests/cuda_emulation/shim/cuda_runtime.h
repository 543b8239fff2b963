#pragma once
// The CUDA runtime's names that the CUDA sources use, for the warp emulator
// (../warp_emulator.h): function qualifiers vanish, a __shared__ variable
// is static (one object for the threads of the running block),
// launch_kernel (kernels/cuda/common.cuh's launch) queues the kernel for the
// emulator on the current stream, device memory is malloc's, and one device
// (an sm_90 one) runs the streams' work behind the host (emulated_device.h).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "../warp_emulator.h"
#include "emulated_device.h"

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
  static auto* const memory = new DeviceMemory;  // never destroyed (emulated_device.h)
  return *memory;
}
// Host memory poisoned (0xff bytes: NaN), so that a value read before it is
// written shows.
inline void* poisoned(size_t bytes) {
  void* ptr = std::malloc(bytes);
  if (ptr != nullptr) std::memset(ptr, 0xff, bytes);
  return ptr;
}
// Frees device memory now (cudaFree once the device is idle; cudaFreeAsync
// when its stream reaches it).
inline void release(void* ptr) {
  DeviceMemory& memory = device_memory();
  const std::lock_guard<std::mutex> lock(memory.mutex);
  if (const auto block = memory.blocks.find(ptr); block != memory.blocks.end()) {
    memory.used -= block->second;
    memory.blocks.erase(block);
  }
  std::free(ptr);
}
// The pinned host blocks (cudaHostAlloc's), by start: copies from and to
// them do not synchronise.
struct PinnedMemory {
  std::mutex mutex;
  std::map<const unsigned char*, size_t> blocks;
};
inline PinnedMemory& pinned_memory() {
  static auto* const memory = new PinnedMemory;  // never destroyed (emulated_device.h)
  return *memory;
}
inline bool pinned(const void* ptr) {
  PinnedMemory& memory = pinned_memory();
  const auto* at = static_cast<const unsigned char*>(ptr);
  const std::lock_guard<std::mutex> lock(memory.mutex);
  auto block = memory.blocks.upper_bound(at);
  if (block == memory.blocks.begin()) return false;
  block = std::prev(block);
  return at < block->first + block->second;
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
// As CUDA's, it waits for the device's work first.
inline cudaError_t cudaFree(void* ptr) {
  emu::Device::get().synchronize();
  emu::release(ptr);
  return cudaSuccess;
}
// Allocated at once (the memory is new: no queued work can use it); freed
// when the stream reaches the free.
inline cudaError_t cudaMallocAsync(void** ptr, size_t bytes, cudaStream_t /*stream*/) {
  return cudaMalloc(ptr, bytes);
}
inline cudaError_t cudaFreeAsync(void* ptr, cudaStream_t stream) {
  emu::Device::get().submit(stream, emu::work([ptr] { emu::release(ptr); }));
  return cudaSuccess;
}
inline constexpr unsigned cudaHostAllocPortable = 1;
inline cudaError_t cudaHostAlloc(void** ptr, size_t bytes, unsigned /*flags*/) {
  *ptr = emu::poisoned(bytes);
  if (*ptr == nullptr) return cudaErrorMemoryAllocation;
  emu::PinnedMemory& memory = emu::pinned_memory();
  const std::lock_guard<std::mutex> lock(memory.mutex);
  memory.blocks[static_cast<const unsigned char*>(*ptr)] = bytes;
  return cudaSuccess;
}
inline cudaError_t cudaFreeHost(void* ptr) {
  emu::Device::get().synchronize();
  {
    emu::PinnedMemory& memory = emu::pinned_memory();
    const std::lock_guard<std::mutex> lock(memory.mutex);
    memory.blocks.erase(static_cast<const unsigned char*>(ptr));
  }
  std::free(ptr);
  return cudaSuccess;
}

// One device, 0. Streams and events as emulated_device.h runs them.
inline cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
inline cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : cudaErrorInvalidDevice;
}
inline cudaError_t cudaDeviceSynchronize() {
  emu::Device::get().synchronize();
  return cudaSuccess;
}
inline constexpr unsigned cudaStreamNonBlocking = 1;
// Non-blocking streams only (the library's): a blocking one would order
// itself with the default stream, which the emulated device does not.
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags) {
  if (flags != cudaStreamNonBlocking) emu::fail("only non-blocking streams are emulated");
  *stream = emu::Device::get().new_stream();
  return cudaSuccess;
}
inline cudaError_t cudaStreamQuery(cudaStream_t stream) {
  emu::Device& device = emu::Device::get();
  return device.locked([&] { return device.idle(stream); }) ? cudaSuccess : cudaErrorNotReady;
}
inline cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  emu::Device::get().synchronize(stream);
  return cudaSuccess;
}
// An event's latest recording, shared with the operations that end it and
// wait for it, so that the event may be destroyed while they are queued (as
// CUDA allows); a later recording does not end the wait for an earlier one.
struct CUevent_st {
  bool timing = true;
  std::shared_ptr<emu::Completion> latest;  // under the device's mutex; null: never recorded
};
using cudaEvent_t = CUevent_st*;
inline constexpr unsigned cudaEventDefault = 0, cudaEventDisableTiming = 2;
inline constexpr cudaError_t cudaErrorInvalidResourceHandle = 400;
inline cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags) {
  *event = new CUevent_st;
  (*event)->timing = (flags & cudaEventDisableTiming) == 0;
  return cudaSuccess;
}
inline cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}
inline cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr) {
  emu::Device& device = emu::Device::get();
  auto recording = std::make_shared<emu::Completion>();
  device.update([&] { event->latest = recording; });
  device.submit(stream, emu::work([&device, recording] { device.finish(*recording); }));
  return cudaSuccess;
}
// Whether the device has passed a recording (null: never recorded, nothing
// to wait for); under the device's mutex.
inline bool emu_passed(const std::shared_ptr<emu::Completion>& recording) {
  return recording == nullptr || recording->done;
}
inline cudaError_t cudaEventQuery(cudaEvent_t event) {
  emu::Device& device = emu::Device::get();
  return device.locked([&] { return emu_passed(event->latest); }) ? cudaSuccess : cudaErrorNotReady;
}
inline cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  emu::Device& device = emu::Device::get();
  const auto latest = device.locked([&] { return event->latest; });
  device.wait_until([&] { return emu_passed(latest); });
  return cudaSuccess;
}
inline cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  return emu::Device::get().locked([&] {
    if (!start->timing || !end->timing || start->latest == nullptr || end->latest == nullptr) {
      return cudaErrorInvalidResourceHandle;
    }
    if (!start->latest->done || !end->latest->done) return cudaErrorNotReady;
    *ms = std::chrono::duration<float, std::milli>(end->latest->at - start->latest->at).count();
    return cudaSuccess;
  });
}
// The stream goes on once the device has passed the event's latest
// recording at the time of this call (at once: none).
inline cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event,
                                       unsigned /*flags*/ = 0) {
  emu::Device& device = emu::Device::get();
  const auto latest = device.locked([&] { return event->latest; });
  device.submit(stream, {[latest] { return emu_passed(latest); }, nullptr});
  return cudaSuccess;
}

// Host and device memory are one here. A copy to pageable host memory
// returns once it has run; one from pageable host memory reads the source
// now (CUDA stages it) and writes it when the stream gets there.
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
inline cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                                   cudaStream_t stream) {
  emu::Device& device = emu::Device::get();
  if (kind == cudaMemcpyHostToDevice && !emu::pinned(src)) {
    const auto* from = static_cast<const unsigned char*>(src);
    auto staged = std::make_shared<std::vector<unsigned char>>(from, from + bytes);
    device.submit(stream,
                  emu::work([dst, staged] { std::memcpy(dst, staged->data(), staged->size()); }));
  } else if (kind == cudaMemcpyDeviceToHost && !emu::pinned(dst)) {
    device.submit_and_wait(stream, emu::work([=] { std::memcpy(dst, src, bytes); }));
  } else {
    device.submit(stream, emu::work([=] { std::memcpy(dst, src, bytes); }));
  }
  return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t stream) {
  emu::Device::get().submit(stream, emu::work([=] { std::memset(dst, value, bytes); }));
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
cudaStream_t current_stream();
// The arguments are copied now, as a launch's are.
template <class... Params, class... Args>
void launch_kernel(const char* /*name*/, void (*kernel)(Params...), dim3 grid, dim3 block,
                   size_t shared_bytes, const Args&... args) {
  emu::Device::get().submit(current_stream(), emu::work([=] {
                              emu::launch(kernel, grid, block, shared_bytes, args...);
                            }));
}
inline unsigned char* dynamic_shared_memory() { return emu::dynamic_shared; }
}  // namespace toadstool::kernels::cuda
