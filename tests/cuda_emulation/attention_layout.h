#pragma once
// The layout of the attention emulation tests' calls: two batch dims of 2
// (4 heads); q [2, L, 2, E] and out (and grad_out) [2, L, 2, Ev], the heads
// interleaved in each row as the front-end lays them out; k, v and the
// gradients contiguous [2, 2, rows, cols]; the mask, when given, [L, S]
// broadcast over the heads. The caller sets the mask's use, causal, scale
// and dropout.
#include <cstdint>

#include "toadstool/kernels/kernel_args.h"

namespace toadstool::kernels::cuda {

inline constexpr int64_t kBatch = 2, kHeadsPerBatch = 2, kHeads = kBatch * kHeadsPerBatch;

// Head strides over the two batch dims.
inline HeadStrides head_strides(int64_t outer, int64_t inner) {
  HeadStrides s;
  s.strides[0] = outer;
  s.strides[1] = inner;
  return s;
}

template <class Elem>
AttentionArgs<Elem> attention_layout(int64_t L, int64_t S, int64_t E, int64_t Ev, const Elem* q,
                                     const Elem* k, const Elem* v, const Elem* mask) {
  AttentionArgs<Elem> a;
  a.heads = kHeads;
  a.L = L;
  a.S = S;
  a.E = E;
  a.Ev = Ev;
  a.batch.ndim = 2;
  a.batch.sizes[0] = kBatch;
  a.batch.sizes[1] = kHeadsPerBatch;
  a.q = q;
  a.q_heads = head_strides(L * kHeadsPerBatch * E, E);
  a.q_row = kHeadsPerBatch * E;
  a.k = k;
  a.k_heads = head_strides(kHeadsPerBatch * S * E, S * E);
  a.k_row = E;
  a.v = v;
  a.v_heads = head_strides(kHeadsPerBatch * S * Ev, S * Ev);
  a.v_row = Ev;
  a.out_heads = head_strides(L * kHeadsPerBatch * Ev, Ev);
  a.out_row = kHeadsPerBatch * Ev;
  a.grad_q_heads = head_strides(kHeadsPerBatch * L * E, L * E);
  a.grad_q_row = E;
  a.grad_k_heads = a.k_heads;
  a.grad_k_row = E;
  a.grad_v_heads = a.v_heads;
  a.grad_v_row = Ev;
  if (mask != nullptr) {
    a.mask = mask;
    a.mask_heads = head_strides(0, 0);
    a.mask_row = S;
    a.mask_col = 1;
  }
  return a;
}

}  // namespace toadstool::kernels::cuda
