#pragma once
// The CUDA runtime's names that the kernel headers use, for the warp
// emulator (../warp_emulator.h): function qualifiers vanish, and the error
// calls of common.cuh have something to name. Nothing here launches.
#include "../warp_emulator.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n)
#define __shared__

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
