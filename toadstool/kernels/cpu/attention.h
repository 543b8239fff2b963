#pragma once
// Fused scaled-dot-product attention, flash-style, on raw pointers, for
// float and double. One "head" is one index of the flattened leading dims
// (batch x heads); per head:
//
//   q [L, E], k [S, E], v [S, Ev]    rows at any stride, elements contiguous
//   mask [L, S] (optional, additive) element (i, j) at mask_row i + mask_col j
//                                    (strides may be 0: broadcast masks)
//   out [L, Ev]                      rows at out_row from head_offset(out_heads, h)
//   lse [L]                          contiguous, head h at h * L
//
//   out = dropout(softmax(scale q k^T + mask (+ causal))) v
//
// The forward walks each (head, tile of kQueryTile queries) over tiles of
// kKeyTile keys with an online softmax, so a thread holds one score tile
// [kQueryTile, kKeyTile] and never anything [L, S]-sized; it saves the
// log-sum-exp lse = m + log l of every row for the backward. The backward
// recomputes the probabilities tile by tile from lse. Dropout draws the keep
// bit of score element (h, i, j) from Philox at flat index (h L + i) S + j
// with the state (seed, offset) taken at the forward, exactly as
// fill_bernoulli(1 - p) over [heads, L, S] would, so the backward regenerates
// the mask instead of storing it.
//
// A row whose every key is masked gets out = 0, lse = +inf and zero
// gradients (PyTorch gives NaN there).
#include <cstdint>

#include "toadstool/kernels/half.h"
#include "toadstool/kernels/kernel_args.h"

namespace toadstool::kernels::cpu {

// Tile sizes: at E = 32 a query tile (8 KiB float), a key and a value tile
// (32 KiB each) and the score tile (64 KiB) stay in L2; 256 keys rather
// than 128 make fewer, larger tile products (docs/attention.md).
inline constexpr int64_t kAttentionQueryTile = 64;
inline constexpr int64_t kAttentionKeyTile = 256;

// bfloat16 and float16 calls (autocast) keep q, k, v, out, grad_out and
// the gradients in 16 bits and accumulate in float32, rounding each
// finished output or gradient row once; the mask (additive) and lse are
// float32. bfloat16 tiles multiply in bfloat16 on the bfloat16 GEMM's
// micro-kernel where its path has one (AMX, AVX512-BF16: gemm_bf16.h), the
// probabilities and dS rounded to bfloat16 first; otherwise each thread
// widens the head it works on once (its q, k, v and grad_out rows). So no
// float32 copy of a 16-bit tensor is ever made whole.
//
// out [heads, L, Ev] (in the call's out layout), lse [heads, L].
void attention_forward(const AttentionArgs<float>& a, float* out, float* lse);
void attention_forward(const AttentionArgs<double>& a, double* out, double* lse);
void attention_forward(const AttentionArgs<BFloat16>& a, BFloat16* out, float* lse);
void attention_forward(const AttentionArgs<Half>& a, Half* out, float* lse);

// From the forward's out and lse and grad_out [heads, L, Ev] (both in the
// call's out layout):
// grad_q [heads, L, E], grad_k [heads, S, E], grad_v [heads, S, Ev],
// contiguous, overwritten.
void attention_backward(const AttentionArgs<float>& a, const float* out, const float* lse,
                        const float* grad_out, float* grad_q, float* grad_k, float* grad_v);
void attention_backward(const AttentionArgs<double>& a, const double* out, const double* lse,
                        const double* grad_out, double* grad_q, double* grad_k, double* grad_v);
void attention_backward(const AttentionArgs<BFloat16>& a, const BFloat16* out, const float* lse,
                        const BFloat16* grad_out, BFloat16* grad_q, BFloat16* grad_k,
                        BFloat16* grad_v);
void attention_backward(const AttentionArgs<Half>& a, const Half* out, const float* lse,
                        const Half* grad_out, Half* grad_q, Half* grad_k, Half* grad_v);

}  // namespace toadstool::kernels::cpu
