#pragma once
// TS_HOST_DEVICE marks math written once for both backends: the CPU kernels
// call it from OpenMP loops, the CUDA kernels from grid-stride loops.
#if defined(__CUDACC__)
#define TS_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define TS_HOST_DEVICE inline
#endif
