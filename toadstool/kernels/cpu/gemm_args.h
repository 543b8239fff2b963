#pragma once
// One GEMM's arguments, as gemm.h takes them:
//
//   C[M, N] = alpha * op(A)[M, K] * op(B)[K, N] + beta * C
//
// and the sub-problems for a block of rows or columns of C or a range of K,
// which is how both GEMM paths (gemm.cpp's Eigen, gemm_packed.cpp's own)
// share work out.
#include <cstdint>

#include "toadstool/kernels/kernel_args.h"

namespace toadstool::kernels::cpu {

// The call's epilogue (kernel_args.h GemmEpilogue), typed, for the block of
// C a GemmArgs covers: bias[j] for its column j, pre at [i, j] (ldp apart).
// Applied by kernels/cpu/gemm_epilogue.h.
template <class T>
struct GemmEpilogueArgs {
  const T* bias = nullptr;
  GemmActivation activation = GemmActivation::None;
  T* pre = nullptr;
  int64_t ldp = 0;

  bool any() const {
    return bias != nullptr || activation != GemmActivation::None || pre != nullptr;
  }
  // The part from row `row` and column `col` on.
  GemmEpilogueArgs at(int64_t row, int64_t col) const {
    GemmEpilogueArgs part = *this;
    if (bias != nullptr) part.bias += col;
    if (pre != nullptr) part.pre += row * ldp + col;
    return part;
  }
};

template <class T>
struct GemmArgs {
  bool trans_a, trans_b;
  int64_t M, N, K;
  T alpha;
  const T* A;
  int64_t lda;
  const T* B;
  int64_t ldb;
  T beta;
  T* C;
  int64_t ldc;
  GemmEpilogueArgs<T> epilogue = {};

  // op(A)[i, k] and op(B)[k, j] as strides over the stored buffers.
  int64_t a_row_stride() const { return trans_a ? 1 : lda; }
  int64_t a_k_stride() const { return trans_a ? lda : 1; }
  int64_t b_k_stride() const { return trans_b ? 1 : ldb; }
  int64_t b_col_stride() const { return trans_b ? ldb : 1; }

  // Rows [begin, end) of op(A) and C.
  GemmArgs rows(int64_t begin, int64_t end) const {
    GemmArgs part = *this;
    part.M = end - begin;
    part.A = A + begin * a_row_stride();
    part.C = C + begin * ldc;
    part.epilogue = epilogue.at(begin, 0);
    return part;
  }

  // Steps [begin, end) of the K dimension (C as it is).
  GemmArgs k_range(int64_t begin, int64_t end) const {
    GemmArgs part = *this;
    part.K = end - begin;
    part.A = A + begin * a_k_stride();
    part.B = B + begin * b_k_stride();
    return part;
  }

  // Columns [begin, end) of op(B) and C.
  GemmArgs cols(int64_t begin, int64_t end) const {
    GemmArgs part = *this;
    part.N = end - begin;
    part.B = B + begin * b_col_stride();
    part.C = C + begin;
    part.epilogue = epilogue.at(0, begin);
    return part;
  }
};

}  // namespace toadstool::kernels::cpu
