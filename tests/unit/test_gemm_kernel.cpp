// The raw GEMM kernels against a naive triple loop: every transpose
// combination, odd and empty sizes, padded leading dims, alpha / beta, and
// both thread counts.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/gemm.h"

namespace toadstool::kernels::cpu {
namespace {

template <class T>
std::vector<T> random_values(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(dist(rng));
  return v;
}

// C = alpha * op(A) op(B) + beta * C, in double, beta == 0 not reading C.
template <class T>
std::vector<double> reference(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                              const std::vector<T>& A, int64_t lda, const std::vector<T>& B,
                              int64_t ldb, double beta, const std::vector<T>& C, int64_t ldc) {
  std::vector<double> out(M * N);
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double a = ta ? A[k * lda + i] : A[i * lda + k];
        const double b = tb ? B[j * ldb + k] : B[k * ldb + j];
        acc += a * b;
      }
      out[i * N + j] = alpha * acc + (beta == 0 ? 0.0 : beta * C[i * ldc + j]);
    }
  }
  return out;
}

template <class T>
void check_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, T beta, int64_t pad,
                int threads) {
  SCOPED_TRACE(::testing::Message() << "ta=" << ta << " tb=" << tb << " M=" << M << " N=" << N
                                    << " K=" << K << " beta=" << beta << " threads=" << threads);
  const int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
  const auto A = random_values<T>((ta ? K : M) * lda + 1, 1);
  const auto B = random_values<T>((tb ? N : K) * ldb + 1, 2);
  auto C = random_values<T>(M * ldc + 1, 3);
  if (beta == T(0)) std::fill(C.begin(), C.end(), std::numeric_limits<T>::quiet_NaN());
  const auto want = reference(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  omp_set_num_threads(threads);
  gemm(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
  const double tol = std::is_same_v<T, float> ? 1e-4 : 1e-12;
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      ASSERT_NEAR(C[i * ldc + j], want[i * N + j], tol * (1 + K)) << "at " << i << "," << j;
    }
  }
}

TEST(GemmKernel, AllTransposesAndShapes) {
  const int threads = omp_get_max_threads();
  const std::vector<std::array<int64_t, 3>> shapes{{1, 1, 1},     {7, 5, 3},    {33, 17, 65},
                                                   {128, 64, 31}, {70, 130, 9}, {5, 300, 40}};
  for (const auto& [M, N, K] : shapes) {
    for (bool ta : {false, true}) {
      for (bool tb : {false, true}) {
        for (int t : {1, 2}) {
          check_gemm<float>(ta, tb, M, N, K, 1.0f, 0.0f, 0, t);
          check_gemm<double>(ta, tb, M, N, K, 0.5, 0.0, 3, t);
        }
      }
    }
  }
  omp_set_num_threads(threads);
}

TEST(GemmKernel, BetaScalesAndBetaZeroIgnoresNaN) {
  check_gemm<float>(false, false, 20, 30, 10, 2.0f, 0.5f, 1, 2);
  check_gemm<float>(true, false, 20, 30, 10, 1.0f, 1.0f, 0, 1);
  check_gemm<double>(false, true, 9, 4, 6, -1.0, 0.0, 2, 2);  // C starts as NaN
}

TEST(GemmKernel, EmptyDims) {
  std::vector<float> A(4, 1.0f), B(4, 1.0f), C(4, 3.0f);
  gemm(false, false, 2, 2, 0, 1.0f, A.data(), 1, B.data(), 2, 0.5f, C.data(), 2);
  for (float c : C) EXPECT_EQ(c, 1.5f);  // K == 0: C = beta * C
  gemm(false, false, 2, 2, 0, 1.0f, A.data(), 1, B.data(), 2, 0.0f, C.data(), 2);
  for (float c : C) EXPECT_EQ(c, 0.0f);
  gemm(false, false, 0, 2, 2, 1.0f, A.data(), 2, B.data(), 2, 0.0f, C.data(), 2);  // no-op
}

TEST(GemmKernel, BatchedWithBroadcastOperand) {
  const int64_t batch = 5, M = 6, N = 7, K = 8;
  const auto A = random_values<float>(batch * M * K, 4);
  const auto B = random_values<float>(K * N, 5);  // one B for every product
  std::vector<float> C(batch * M * N);
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    gemm_batched(false, false, batch, M, N, K, 1.0f, A.data(), K, M * K, B.data(), N, 0, 0.0f,
                 C.data(), N, M * N);
    for (int64_t b = 0; b < batch; ++b) {
      const std::vector<float> Ab(A.begin() + b * M * K, A.begin() + (b + 1) * M * K);
      const std::vector<float> Cb(M * N);
      const auto want = reference(false, false, M, N, K, 1.0, Ab, K, B, N, 0.0, Cb, N);
      for (int64_t i = 0; i < M * N; ++i) ASSERT_NEAR(C[b * M * N + i], want[i], 1e-4);
    }
  }
}

}  // namespace
}  // namespace toadstool::kernels::cpu
