#pragma once
// What the two CUDA attention implementations share: the fixed-order
// kernels (attention.cu) and the tiled ones for float32, bfloat16 and
// float16 (attention_tiled.cu). Both draw the dropout keep bit of score
// (h, i, j) from Philox at flat index (h L + i) S + j with the call's
// (seed, offset) (attention_keep: a 16-bit draw), as the CPU does, so every
// backend and path drops the same elements.
#include <cstring>
#include <limits>

#include "toadstool/kernels/attention_math.h"
#include "toadstool/kernels/cuda/common.cuh"

namespace toadstool::kernels::cuda {

template <class T>
constexpr T kNegInf = -std::numeric_limits<T>::infinity();

// Dropout of score element `index`: its scale 1 / (1 - p) when kept, else 0.
struct Dropout {
  bool active;
  uint32_t threshold;  // dropout_threshold(1 - p)
  uint64_t seed, offset;

  template <class T>
  __device__ T scale(uint64_t index, T keep_scale) const {
    const Philox4x32 block = attention_dropout_block(index, seed, offset);
    return attention_keep(block, index, threshold) ? keep_scale : T(0);
  }
};

inline Dropout dropout_of(const AttentionCall& call) {
  return {call.dropout_p > 0, dropout_threshold(1.0 - call.dropout_p), call.seed, call.offset};
}

__device__ inline uint64_t flat_index(int64_t h, int64_t i, int64_t j, int64_t L, int64_t S) {
  return (static_cast<uint64_t>(h) * L + i) * S + j;
}

// The call typed (one layout for every Elem). It holds no host pointers
// besides the tensors' device ones: each head's offset comes from the
// operands' head strides (AttentionArgs::head_offset), so nothing is copied
// to the device per call.
template <class T>
AttentionArgs<T> typed_args(const AttentionCall& call) {
  static_assert(sizeof(AttentionArgs<T>) == sizeof(AttentionCall));
  AttentionArgs<T> a;
  std::memcpy(static_cast<void*>(&a), &call, sizeof a);  // std::bit_cast is C++20; nvcc is C++17
  return a;
}

// ---- the tiled kernels (attention_tiled.cu) ----
//
// Whether the tiled kernels take this call on the current device: float32,
// bfloat16 or float16, head dims E and Ev of at most kTiledMaxHeadDim, for
// the 16-bit types a GPU of compute capability 8.0 or later (bfloat16
// WMMA), and their shared memory within the device's per-block limit.
// Other calls run the fixed-order kernels (attention.cu): float32 and
// float64 as they are, 16-bit ones on widened float32 copies.
inline constexpr int64_t kTiledMaxHeadDim = 128;
bool attention_tiled_takes(DType dtype, const AttentionCall& call);
// As the table's entries, for DType Float32, BFloat16 or Float16 (lse float32).
void attention_tiled_forward(DType dtype, const AttentionCall& call, void* out, float* lse);
void attention_tiled_backward(DType dtype, const AttentionCall& call, const void* out,
                              const float* lse, const void* grad_out, void* grad_q, void* grad_k,
                              void* grad_v);

}  // namespace toadstool::kernels::cuda
