// GEMM on one OpenMP team. Float products big enough to repay packing go
// through our own packed kernel (gemm_packed.cpp); the rest (double, and
// float products with fewer than kPackedMinSize rows or columns) through
// Eigen's GEMM, single-threaded on each thread's block of C. Eigen's own
// threading scales poorly on this kind of machine, and a second thread pool
// would oversubscribe the cores.
#ifndef EIGEN_DONT_PARALLELIZE
#define EIGEN_DONT_PARALLELIZE
#endif
#include "toadstool/kernels/cpu/gemm.h"

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <type_traits>

#include "toadstool/kernels/cpu/gemm_args.h"
#include "toadstool/kernels/cpu/gemm_epilogue.h"
#include "toadstool/kernels/cpu/gemm_packed.h"
#include "toadstool/kernels/cpu/gemm_rows.h"
#include "toadstool/kernels/cpu/parallel.h"

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

// C[M, N] *= beta, row by row (each row is contiguous, so beta == 0 becomes a
// memset and never reads C, which may hold NaN). A 128x128 attention block
// zeroes this way ~5% faster than through Eigen's strided setZero.
template <class T>
void scale_rows(T beta, int64_t M, int64_t N, T* C, int64_t ldc) {
  if (beta == T(1)) return;
  if (ldc == N) {  // rows back to back: one long row
    N *= M;
    M = 1;
  }
  for (int64_t i = 0; i < M; ++i) {
    T* row = C + i * ldc;
    if (beta == T(0)) {
      std::fill_n(row, N, T(0));
    } else {
      for (int64_t j = 0; j < N; ++j) row[j] *= beta;
    }
  }
}

// g through Eigen, single-threaded, on the calling thread.
template <class T>
void run_eigen(const GemmArgs<T>& g) {
  MatrixMap<T, Eigen::RowMajor> c(g.C, g.M, g.N, Eigen::OuterStride<>(g.ldc));
  with_operand(g.trans_a, g.A, g.M, g.K, g.lda, [&](const auto& a) {
    with_operand(g.trans_b, g.B, g.K, g.N, g.ldb,
                 [&](const auto& b) { c.noalias() += g.alpha * a * b; });
  });
}

// Block `index` of `parts` blocks of C through Eigen. The longer of M and N
// is cut: each thread then repacks only the smaller operand (B when cutting
// rows, A when cutting columns), e.g. 4096x256x256 on 2 threads is two
// 2048x256x256 products sharing B. Cuts fall on multiples of 16 so that
// Eigen's register blocks (16-float packets) are not split.
template <class T>
void run_eigen_part(const GemmArgs<T>& g, int index, int parts) {
  constexpr int64_t kAlign = 16;
  const bool by_rows = g.M >= g.N;
  const auto [begin, end] = even_share(by_rows ? g.M : g.N, kAlign, index, parts);
  if (begin >= end) return;
  run_eigen(by_rows ? g.rows(begin, end) : g.cols(begin, end));
}

// Float products with fewer rows or columns than this stay with Eigen: our
// register tile is 14 x 32, and on thinner products Eigen's 48 x 4 wastes
// less of its work on padding.
constexpr int64_t kPackedMinSize = 32;

bool packed_suits(const GemmArgs<float>& g) {
  return g.K > 0 && g.alpha != 0.0f && g.M >= kPackedMinSize && g.N >= kPackedMinSize;
}

// g through Eigen on `threads` threads, without the epilogue. C is scaled
// first.
template <class T>
void run_eigen_team(const GemmArgs<T>& g, int threads) {
  scale_rows(g.beta, g.M, g.N, g.C, g.ldc);
  if (g.K == 0 || g.alpha == T(0)) return;
  if (threads == 1) {
    run_eigen(g);
    return;
  }
#pragma omp parallel num_threads(threads)
  run_eigen_part(g, omp_get_thread_num(), omp_get_num_threads());
}

// g on `threads` threads (1: the calling thread). The packed kernel applies
// the epilogue to each tile as it stores it; after Eigen it is a pass over C.
template <class T>
void run(const GemmArgs<T>& g, int threads) {
  if (g.M == 0 || g.N == 0) return;
  if constexpr (std::is_same_v<T, float>) {
    if (packed_suits(g)) {
      gemm_packed(g, threads);
      return;
    }
  }
  run_eigen_team(g, threads);
  apply_epilogue(g.epilogue, g.C, g.ldc, g.M, g.N);
}

template <class T>
int64_t work(const GemmArgs<T>& g) {
  return g.M * g.N * std::max<int64_t>(g.K, 1);
}

template <class T>
void gemm_impl(const GemmArgs<T>& g) {
  run(g, gemm_team_size(work(g)));
}

template <class T>
void gemm_batched_impl(int64_t batch, const GemmArgs<T>& first, int64_t stride_a, int64_t stride_b,
                       int64_t stride_c) {
  auto product = [&](int64_t i) {
    GemmArgs<T> g = first;
    g.A += i * stride_a;
    g.B += i * stride_b;
    g.C += i * stride_c;
    if (g.epilogue.pre != nullptr) g.epilogue.pre += i * stride_c;  // C's layout
    return g;
  };
  const int threads = gemm_team_size(batch * work(first));
  if (split_by_products(batch, threads)) {
    // Attention's 128 heads x batch: whole products, each on one thread.
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < batch; ++i) run(product(i), 1);
    return;
  }
  // One thread, or few products (e.g. 3 on 2 threads): one after another,
  // each on the whole team.
  for (int64_t i = 0; i < batch; ++i) run(product(i), threads);
}

template <class T>
void gemm_call(const GemmCall& c) {
  GemmArgs<T> g{c.trans_a,
                c.trans_b,
                c.M,
                c.N,
                c.K,
                static_cast<T>(c.alpha),
                static_cast<const T*>(c.A),
                c.lda,
                static_cast<const T*>(c.B),
                c.ldb,
                static_cast<T>(c.beta),
                static_cast<T*>(c.C),
                c.ldc,
                {static_cast<const T*>(c.epilogue.bias), c.epilogue.activation,
                 static_cast<T*>(c.epilogue.pre_activation), c.ldc}};
  if (c.batch == 1) {
    gemm_impl(g);
  } else {
    gemm_batched_impl(c.batch, g, c.stride_a, c.stride_b, c.stride_c);
  }
}

}  // namespace

void gemm(const GemmCall& call, const float* /*tag*/) { gemm_call<float>(call); }
void gemm(const GemmCall& call, const double* /*tag*/) { gemm_call<double>(call); }

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_impl(GemmArgs<float>{trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc});
}
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha,
          const double* A, int64_t lda, const double* B, int64_t ldb, double beta, double* C,
          int64_t ldc) {
  gemm_impl(GemmArgs<double>{trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc});
}

void gemm_batched(bool trans_a, bool trans_b, int64_t batch, int64_t M, int64_t N, int64_t K,
                  float alpha, const float* A, int64_t lda, int64_t stride_a, const float* B,
                  int64_t ldb, int64_t stride_b, float beta, float* C, int64_t ldc,
                  int64_t stride_c) {
  gemm_batched_impl(batch,
                    GemmArgs<float>{trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc},
                    stride_a, stride_b, stride_c);
}
void gemm_batched(bool trans_a, bool trans_b, int64_t batch, int64_t M, int64_t N, int64_t K,
                  double alpha, const double* A, int64_t lda, int64_t stride_a, const double* B,
                  int64_t ldb, int64_t stride_b, double beta, double* C, int64_t ldc,
                  int64_t stride_c) {
  gemm_batched_impl(
      batch, GemmArgs<double>{trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc},
      stride_a, stride_b, stride_c);
}

}  // namespace toadstool::kernels::cpu
