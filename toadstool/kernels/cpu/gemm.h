#pragma once
// GEMM on raw row-major buffers, for float and double.
//
//   C[M, N] = alpha * op(A)[M, K] * op(B)[K, N] + beta * C
//
// A is stored row-major as [M, K] with leading dim lda, or as [K, M] when
// trans_a (so a transposed view is passed without a copy); B likewise as
// [K, N] or [N, K]. When beta == 0, C is not read (it may hold NaN).
// Batched: matrix i of X starts at X + i * stride_x (a stride of 0 reuses
// one matrix for the whole batch).
#include <cstdint>

#include "toadstool/kernels/kernel_args.h"

namespace toadstool::kernels::cpu {

// The kernel table's call for float and double: a batch of products with
// the call's epilogue (kernel_args.h, GemmEpilogue).
void gemm(const GemmCall& call, const float* /*tag*/);
void gemm(const GemmCall& call, const double* /*tag*/);

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha,
          const double* A, int64_t lda, const double* B, int64_t ldb, double beta, double* C,
          int64_t ldc);

void gemm_batched(bool trans_a, bool trans_b, int64_t batch, int64_t M, int64_t N, int64_t K,
                  float alpha, const float* A, int64_t lda, int64_t stride_a, const float* B,
                  int64_t ldb, int64_t stride_b, float beta, float* C, int64_t ldc,
                  int64_t stride_c);
void gemm_batched(bool trans_a, bool trans_b, int64_t batch, int64_t M, int64_t N, int64_t K,
                  double alpha, const double* A, int64_t lda, int64_t stride_a, const double* B,
                  int64_t ldb, int64_t stride_b, double beta, double* C, int64_t ldc,
                  int64_t stride_c);

}  // namespace toadstool::kernels::cpu
