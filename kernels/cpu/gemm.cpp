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

// One GEMM's arguments, C[M, N] = alpha * op(A)[M, K] * op(B)[K, N] + beta * C.
template <class T>
struct Gemm {
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

  // Single-threaded, on the calling thread.
  void run() const {
    if (M == 0 || N == 0) return;
    scale_rows(beta, M, N, C, ldc);
    if (K == 0 || alpha == T(0)) return;
    MatrixMap<T, Eigen::RowMajor> c(C, M, N, Eigen::OuterStride<>(ldc));
    with_operand(trans_a, A, M, K, lda, [&](const auto& a) {
      with_operand(trans_b, B, K, N, ldb, [&](const auto& b) { c.noalias() += alpha * a * b; });
    });
  }

  // Rows [begin, end) of op(A) and C.
  Gemm rows(int64_t begin, int64_t end) const {
    Gemm part = *this;
    part.M = end - begin;
    part.A = trans_a ? A + begin : A + begin * lda;
    part.C = C + begin * ldc;
    return part;
  }

  // Columns [begin, end) of op(B) and C.
  Gemm cols(int64_t begin, int64_t end) const {
    Gemm part = *this;
    part.N = end - begin;
    part.B = trans_b ? B + begin * ldb : B + begin;
    part.C = C + begin;
    return part;
  }

  // Block `index` of `parts` blocks of C, run single-threaded. The longer of
  // M and N is cut: each thread then repacks only the smaller operand (B when
  // cutting rows, A when cutting columns), e.g. 4096x256x256 on 2 threads is
  // two 2048x256x256 products sharing B. Cuts fall on multiples of 16 so
  // that Eigen's register blocks (16-float packets) are not split.
  void run_part(int index, int parts) const {
    constexpr int64_t kAlign = 16;
    const bool by_rows = M >= N;
    const int64_t size = by_rows ? M : N;
    const int64_t blocks = (size + kAlign - 1) / kAlign;
    const int64_t begin = std::min(size, blocks * index / parts * kAlign);
    const int64_t end = std::min(size, blocks * (index + 1) / parts * kAlign);
    if (begin >= end) return;
    (by_rows ? rows(begin, end) : cols(begin, end)).run();
  }
};

// Below this many multiply-adds (64^3) a GEMM, or a whole batch, stays on the
// calling thread: the team's start-up would cost more than it saves.
constexpr int64_t kParallelWork = 64 * 64 * 64;

// Threads for `work` multiply-adds: the whole team, or 1 when the work is
// small or we are already inside a parallel region (no nested teams).
int team_size(int64_t work) {
  if (omp_in_parallel() || work < kParallelWork) return 1;
  return omp_get_max_threads();
}

template <class T>
void gemm_impl(const Gemm<T>& g) {
  const int threads = team_size(g.M * g.N * std::max<int64_t>(g.K, 1));
  if (threads == 1) {
    g.run();
    return;
  }
#pragma omp parallel num_threads(threads)
  g.run_part(omp_get_thread_num(), omp_get_num_threads());
}

// A batch with at least this many products per thread is split by whole
// products even when it does not divide evenly: the last thread's extra
// product costs at most 1/8 of its time.
constexpr int64_t kWholeProductsPerThread = 8;

template <class T>
void gemm_batched_impl(int64_t batch, const Gemm<T>& first, int64_t stride_a, int64_t stride_b,
                       int64_t stride_c) {
  auto product = [&](int64_t i) {
    Gemm<T> g = first;
    g.A += i * stride_a;
    g.B += i * stride_b;
    g.C += i * stride_c;
    return g;
  };
  const int threads = team_size(batch * first.M * first.N * std::max<int64_t>(first.K, 1));
  if (threads == 1) {
    for (int64_t i = 0; i < batch; ++i) product(i).run();
    return;
  }
  if (batch % threads == 0 || batch >= kWholeProductsPerThread * threads) {
    // Attention's 128 heads x batch: whole products, no repacking of shared operands.
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < batch; ++i) product(i).run();
    return;
  }
  // Few products (e.g. 3 on 2 threads, or 1): cut every product into one
  // block per thread and deal the batch * threads blocks out evenly, so each
  // thread does exactly batch / threads products' worth of work.
#pragma omp parallel num_threads(threads)
  {
    const int nt = omp_get_num_threads();
    const int64_t t = omp_get_thread_num();
    for (int64_t unit = t * batch; unit < (t + 1) * batch; ++unit) {
      product(unit / nt).run_part(static_cast<int>(unit % nt), nt);
    }
  }
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_impl(Gemm<float>{trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc});
}
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha,
          const double* A, int64_t lda, const double* B, int64_t ldb, double beta, double* C,
          int64_t ldc) {
  gemm_impl(Gemm<double>{trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc});
}

void gemm_batched(bool trans_a, bool trans_b, int64_t batch, int64_t M, int64_t N, int64_t K,
                  float alpha, const float* A, int64_t lda, int64_t stride_a, const float* B,
                  int64_t ldb, int64_t stride_b, float beta, float* C, int64_t ldc,
                  int64_t stride_c) {
  gemm_batched_impl(batch,
                    Gemm<float>{trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc},
                    stride_a, stride_b, stride_c);
}
void gemm_batched(bool trans_a, bool trans_b, int64_t batch, int64_t M, int64_t N, int64_t K,
                  double alpha, const double* A, int64_t lda, int64_t stride_a, const double* B,
                  int64_t ldb, int64_t stride_b, double beta, double* C, int64_t ldc,
                  int64_t stride_c) {
  gemm_batched_impl(batch,
                    Gemm<double>{trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc},
                    stride_a, stride_b, stride_c);
}

}  // namespace toadstool::kernels::cpu
