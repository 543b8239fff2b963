// Eigen's GEMM, single-threaded, partitioned over our one OpenMP team.
// Eigen's own threading scales poorly on this kind of machine, and a second
// thread pool would oversubscribe the cores, so each thread of our team
// runs Eigen on its own block of C.
#ifndef EIGEN_DONT_PARALLELIZE
#define EIGEN_DONT_PARALLELIZE
#endif
#include "kernels/cpu/gemm.h"

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>

namespace toadstool::kernels::cpu {

namespace {

template <class T, int Order>
using MatrixMap =
    Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Order>, 0, Eigen::OuterStride<>>;
template <class T, int Order>
using ConstMatrixMap = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Order>, 0,
                                  Eigen::OuterStride<>>;

// op(X) as an Eigen [rows, cols] map: row-major over the stored buffer, or
// column-major when the buffer holds the transpose.
template <class T, class Fn>
void with_operand(bool transposed, const T* data, int64_t rows, int64_t cols, int64_t ld,
                  const Fn& fn) {
  if (transposed) {
    fn(ConstMatrixMap<T, Eigen::ColMajor>(data, rows, cols, Eigen::OuterStride<>(ld)));
  } else {
    fn(ConstMatrixMap<T, Eigen::RowMajor>(data, rows, cols, Eigen::OuterStride<>(ld)));
  }
}

// One single-threaded GEMM.
template <class T>
void gemm_serial(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                 int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  MatrixMap<T, Eigen::RowMajor> c(C, M, N, Eigen::OuterStride<>(ldc));
  if (beta == T(0)) {
    c.setZero();
  } else if (beta != T(1)) {
    c *= beta;
  }
  if (K == 0 || alpha == T(0)) return;
  with_operand(trans_a, A, M, K, lda, [&](const auto& a) {
    with_operand(trans_b, B, K, N, ldb, [&](const auto& b) { c.noalias() += alpha * a * b; });
  });
}

// Below this many multiply-adds a GEMM stays on the calling thread.
constexpr int64_t kParallelWork = 64 * 64 * 64;

int team_size(int64_t work) {
  if (omp_in_parallel() || work < kParallelWork) return 1;
  return omp_get_max_threads();
}

// Splits the longer of M and N into `parts` runs, aligned to the register
// block so that no thread gets a ragged sliver.
struct Range {
  int64_t begin, end;
};
Range part_of(int64_t size, int parts, int index) {
  constexpr int64_t kAlign = 16;
  const int64_t blocks = (size + kAlign - 1) / kAlign;
  const int64_t begin = std::min(size, blocks * index / parts * kAlign);
  const int64_t end = std::min(size, blocks * (index + 1) / parts * kAlign);
  return {begin, end};
}

template <class T>
void gemm_impl(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
               int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  const int threads = team_size(M * N * std::max<int64_t>(K, 1));
  if (threads == 1) {
    gemm_serial(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  const bool split_rows = M >= N;
#pragma omp parallel num_threads(threads)
  {
    const Range r = part_of(split_rows ? M : N, omp_get_num_threads(), omp_get_thread_num());
    if (r.begin < r.end) {
      if (split_rows) {
        // Rows [begin, end) of op(A) and C.
        const T* a = trans_a ? A + r.begin : A + r.begin * lda;
        gemm_serial(trans_a, trans_b, r.end - r.begin, N, K, alpha, a, lda, B, ldb, beta,
                    C + r.begin * ldc, ldc);
      } else {
        // Columns [begin, end) of op(B) and C.
        const T* b = trans_b ? B + r.begin * ldb : B + r.begin;
        gemm_serial(trans_a, trans_b, M, r.end - r.begin, K, alpha, A, lda, b, ldb, beta,
                    C + r.begin, ldc);
      }
    }
  }
}

template <class T>
void gemm_batched_impl(bool trans_a, bool trans_b, int64_t batch, int64_t M, int64_t N, int64_t K,
                       T alpha, const T* A, int64_t lda, int64_t stride_a, const T* B, int64_t ldb,
                       int64_t stride_b, T beta, T* C, int64_t ldc, int64_t stride_c) {
  const int threads = team_size(batch * M * N * std::max<int64_t>(K, 1));
  // Fewer products than threads: parallelise inside each product instead.
  if (threads == 1 || batch < threads) {
    for (int64_t i = 0; i < batch; ++i) {
      gemm_impl(trans_a, trans_b, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb,
                beta, C + i * stride_c, ldc);
    }
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < batch; ++i) {
    gemm_serial(trans_a, trans_b, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb,
                beta, C + i * stride_c, ldc);
  }
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_impl(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha,
          const double* A, int64_t lda, const double* B, int64_t ldb, double beta, double* C,
          int64_t ldc) {
  gemm_impl(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm_batched(bool trans_a, bool trans_b, int64_t batch, int64_t M, int64_t N, int64_t K,
                  float alpha, const float* A, int64_t lda, int64_t stride_a, const float* B,
                  int64_t ldb, int64_t stride_b, float beta, float* C, int64_t ldc,
                  int64_t stride_c) {
  gemm_batched_impl(trans_a, trans_b, batch, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b,
                    beta, C, ldc, stride_c);
}
void gemm_batched(bool trans_a, bool trans_b, int64_t batch, int64_t M, int64_t N, int64_t K,
                  double alpha, const double* A, int64_t lda, int64_t stride_a, const double* B,
                  int64_t ldb, int64_t stride_b, double beta, double* C, int64_t ldc,
                  int64_t stride_c) {
  gemm_batched_impl(trans_a, trans_b, batch, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b,
                    beta, C, ldc, stride_c);
}

}  // namespace toadstool::kernels::cpu
