#pragma once
// A fixed-order reduction across the threads of one block, for the
// reduction and row kernels: the same inputs give the same bits on every
// run and every GPU, because the tree's shape depends on the block size
// alone (no atomics, no warp-scheduling order).
#include "toadstool/kernels/cuda/common.cuh"

namespace toadstool::kernels::cuda {

// Merges one value per thread of the block (blockDim.x a power of two, at
// most kThreads) in a pairwise tree: step s merges thread t's value with
// thread t + s's, s = blockDim.x / 2, ..., 1. Every thread gets the result.
// `shared` holds blockDim.x values; it may be reused after the call returns.
// Every thread of the block must call it (it synchronizes).
// The max merge of the row kernels: a NaN x never becomes the max (x > m is
// false), as in the CPU's loops; it still poisons the row's sum of exps, so
// the row turns NaN there. Seed a reduction with -inf, not with a value
// that may be NaN.
template <class T>
__device__ T max_ignoring_nan(T m, T x) {
  return x > m ? x : m;
}

template <class T, class Merge>
__device__ T block_reduce(T value, T* shared, const Merge& merge) {
  const unsigned t = threadIdx.x;
  shared[t] = value;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s /= 2) {
    if (t < s) shared[t] = merge(shared[t], shared[t + s]);
    __syncthreads();
  }
  const T result = shared[0];
  __syncthreads();  // everyone has read shared[0] before it is overwritten
  return result;
}

// Shared memory for block_reduce over T with up to kThreads threads: a raw
// buffer, since __shared__ variables cannot have constructors.
template <class T>
struct BlockScratch {
  alignas(16) unsigned char raw[kThreads * sizeof(T)];
  __device__ T* get() { return reinterpret_cast<T*>(raw); }
};

// The smallest power of two >= n, clamped to [32, kThreads]: the block size
// of a kernel whose block folds n items (a function of the shape only, so
// the reduction tree, and the bits, are too).
inline int block_size_for(int64_t n) {
  int threads = 32;
  while (threads < kThreads && threads < n) threads *= 2;
  return threads;
}

// Blocks for a kernel with one block per item in a grid-stride loop over
// items (blockIdx.x, += gridDim.x): one block per item up to 2^20.
inline unsigned grid_for(int64_t items) {
  constexpr int64_t kMaxGrid = std::min<int64_t>(int64_t{1} << 20, TOADSTOOL_EMULATION_GRID_CAP);
  return static_cast<unsigned>(std::clamp<int64_t>(items, 1, kMaxGrid));
}

}  // namespace toadstool::kernels::cuda
