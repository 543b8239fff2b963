// The raw GEMM kernels against a naive triple loop: every transpose
// combination, odd and empty sizes, padded leading dims, alpha / beta, NaN in
// an unread C, batches (broadcast operands, fewer products than threads), on
// 1 and 2 threads. Shapes above 64^3 multiply-adds take the parallel paths.
#include <gtest/gtest.h>
#include <omp.h>

#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

#include "toadstool/kernels/cpu/gemm.h"

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

// Sets the team size for one test and restores it afterwards.
class ThreadCount {
 public:
  explicit ThreadCount(int threads) : saved_(omp_get_max_threads()) {
    omp_set_num_threads(threads);
  }
  ~ThreadCount() { omp_set_num_threads(saved_); }

 private:
  int saved_;
};

// One GEMM's operands in their stored layouts, with `pad` extra elements per
// row (leading dims above the minimum).
template <class T>
struct Problem {
  bool ta, tb;
  int64_t M, N, K, lda, ldb, ldc;
  std::vector<T> A, B, C;

  Problem(bool ta_, bool tb_, int64_t M_, int64_t N_, int64_t K_, int64_t pad, unsigned seed)
      : ta(ta_), tb(tb_), M(M_), N(N_), K(K_) {
    lda = (ta ? M : K) + pad;
    ldb = (tb ? K : N) + pad;
    ldc = N + pad;
    A = random_values<T>((ta ? K : M) * lda + 1, seed);
    B = random_values<T>((tb ? N : K) * ldb + 1, seed + 1);
    C = random_values<T>(M * ldc + 1, seed + 2);
  }

  // alpha * op(A) op(B) + beta * C in double; C is not read when beta == 0.
  std::vector<double> reference(double alpha, double beta) const {
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

  // Compares C with `want`, allowing for rounding in sums of K products of
  // values in [-1, 1].
  void expect_c(const std::vector<double>& want) const {
    const double eps = std::is_same_v<T, float> ? 1e-6 : 1e-14;
    const double tol = 4 * eps * (K + 2);
    for (int64_t i = 0; i < M; ++i) {
      for (int64_t j = 0; j < N; ++j) {
        ASSERT_NEAR(C[i * ldc + j], want[i * N + j], tol) << "at " << i << "," << j;
      }
    }
  }
};

template <class T>
void check_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, T beta, int64_t pad,
                int threads) {
  SCOPED_TRACE(::testing::Message()
               << "ta=" << ta << " tb=" << tb << " M=" << M << " N=" << N << " K=" << K
               << " beta=" << beta << " pad=" << pad << " threads=" << threads);
  Problem<T> p(ta, tb, M, N, K, pad, 1);
  if (beta == T(0)) std::fill(p.C.begin(), p.C.end(), std::numeric_limits<T>::quiet_NaN());
  const auto want = p.reference(alpha, beta);
  ThreadCount team(threads);
  gemm(ta, tb, M, N, K, alpha, p.A.data(), p.lda, p.B.data(), p.ldb, beta, p.C.data(), p.ldc);
  p.expect_c(want);
}

// 1x1x1 and 7x5x3 stay serial; 150x90x40 (cut by rows) and 40x300x50 (cut by
// columns, ragged against the 16-wide cuts) take the parallel path.
const std::vector<std::array<int64_t, 3>> kShapes{{1, 1, 1},    {7, 5, 3},     {33, 17, 65},
                                                  {70, 130, 9}, {150, 90, 40}, {40, 300, 50}};

TEST(GemmKernel, AllTransposesAndShapes) {
  for (const auto& [M, N, K] : kShapes) {
    for (bool ta : {false, true}) {
      for (bool tb : {false, true}) {
        for (int threads : {1, 2}) {
          check_gemm<float>(ta, tb, M, N, K, 1.0f, 0.0f, 0, threads);
          check_gemm<double>(ta, tb, M, N, K, 0.5, 0.0, 3, threads);
        }
      }
    }
  }
}

// Float products of 32 or more rows and columns take our packed kernel
// (gemm_packed.cpp: 14 x 32 register tiles with AVX-512, B packed in
// 256-deep, 1024-wide blocks, A when packed in 112-row blocks). These cross
// each of its edges.
TEST(GemmKernel, PackedPathEdges) {
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      // Every partial height of the last row tile (32 = 2 * 14 + 4 ... 45).
      for (int64_t M = 32; M <= 45; ++M) check_gemm<float>(ta, tb, M, 40, 20, 1.0f, 0.0f, 0, 1);
      // The last column tile cut short, with and without reading C.
      for (int64_t N : {33, 47, 63, 65}) {
        check_gemm<float>(ta, tb, 70, N, 24, 1.0f, 0.0f, 1, 1);
        check_gemm<float>(ta, tb, 70, N, 24, -0.5f, 2.0f, 1, 1);
      }
      // K across two 256-deep blocks (beta applied once), with a remainder
      // of the 16 x 16 transposes; N across two 1024-wide blocks.
      check_gemm<float>(ta, tb, 60, 70, 300, 0.5f, 0.5f, 2, 1);
      check_gemm<float>(ta, tb, 33, 1030, 20, 1.0f, 0.0f, 0, 1);
      // Two threads: K split (long K, few rows; beta applied once),
      check_gemm<float>(ta, tb, 40, 50, 700, 0.5f, 0.5f, 1, 2);
      check_gemm<float>(ta, tb, 130, 64, 600, 1.0f, 0.0f, 0, 2);
      // rows split (B packed by both), columns split (few rows, short K).
      check_gemm<float>(ta, tb, 130, 64, 40, 1.0f, 1.0f, 0, 2);
      check_gemm<float>(ta, tb, 60, 300, 40, 1.0f, 0.0f, 0, 2);
      // Rows of A 2 KB apart (lda 512): packed although stored [M, K].
      check_gemm<float>(ta, tb, 40, 40, 500, 1.0f, 0.0f, 12, 1);
      // A packed 112 rows at a time: two blocks and 16 rows.
      check_gemm<float>(ta, tb, 240, 40, 30, 1.0f, 0.0f, 0, 1);
      check_gemm<float>(ta, tb, 240, 33, 500, 1.0f, 0.5f, 12, 1);
    }
  }
}

// More threads than cores: row blocks taken from the shared counter over
// several k blocks (the counter reset between them), split K over 3 and 5
// ranges, columns split 3 and 5 ways.
TEST(GemmKernel, PackedPathManyThreads) {
  for (int threads : {3, 5}) {
    check_gemm<float>(false, false, 400, 70, 600, 1.0f, 0.5f, 1, threads);
    check_gemm<float>(true, true, 300, 90, 300, -1.0f, 0.0f, 0, threads);
    check_gemm<float>(true, false, 60, 40, 1500, 0.5f, 1.0f, 2, threads);
    check_gemm<float>(false, true, 100, 333, 40, 1.0f, 0.0f, 0, threads);
  }
}

TEST(GemmKernel, BetaScalesC) {
  for (int threads : {1, 2}) {
    check_gemm<float>(false, false, 20, 30, 10, 2.0f, 0.5f, 1, threads);
    check_gemm<float>(true, false, 20, 30, 10, 1.0f, 1.0f, 0, threads);
    check_gemm<float>(false, true, 150, 90, 40, -1.0f, 2.0f, 5, threads);
    check_gemm<double>(true, true, 40, 300, 50, 0.25, -0.5, 2, threads);
  }
}

TEST(GemmKernel, BetaZeroNeverReadsNaNInC) {
  for (int threads : {1, 2}) {
    check_gemm<double>(false, true, 9, 4, 6, -1.0, 0.0, 2, threads);
    check_gemm<float>(true, false, 150, 90, 40, 1.0f, 0.0f, 7, threads);
  }
}

TEST(GemmKernel, KZeroScalesOrZeroesC) {
  std::vector<float> A(4, 1.0f), B(4, 1.0f), C(4, 3.0f);
  gemm(false, false, 2, 2, 0, 1.0f, A.data(), 1, B.data(), 2, 0.5f, C.data(), 2);
  for (float c : C) EXPECT_EQ(c, 1.5f);
  std::fill(C.begin(), C.end(), std::numeric_limits<float>::quiet_NaN());
  gemm(false, false, 2, 2, 0, 1.0f, A.data(), 1, B.data(), 2, 0.0f, C.data(), 2);
  for (float c : C) EXPECT_EQ(c, 0.0f);
}

TEST(GemmKernel, EmptyMOrNLeavesCUntouched) {
  std::vector<double> A(4, 1.0), B(4, 1.0), C(4, 3.0);
  for (int threads : {1, 2}) {
    ThreadCount team(threads);
    gemm(false, false, 0, 2, 2, 1.0, A.data(), 2, B.data(), 2, 0.0, C.data(), 2);
    gemm(true, true, 2, 0, 2, 1.0, A.data(), 2, B.data(), 2, 0.0, C.data(), 2);
    gemm_batched(false, false, 3, 0, 2, 2, 1.0, A.data(), 2, 0, B.data(), 2, 0, 0.0, C.data(), 2,
                 0);
    gemm_batched(false, false, 0, 2, 2, 2, 1.0, A.data(), 2, 0, B.data(), 2, 0, 0.0, C.data(), 2,
                 0);
    for (double c : C) EXPECT_EQ(c, 3.0);
  }
}

// A batch of `batch` products; a stride of 0 (broadcast) for A or B when
// `broadcast_a` / `broadcast_b`.
template <class T>
void check_batched(bool ta, bool tb, int64_t batch, int64_t M, int64_t N, int64_t K, T beta,
                   bool broadcast_a, bool broadcast_b, int threads) {
  SCOPED_TRACE(::testing::Message()
               << "ta=" << ta << " tb=" << tb << " batch=" << batch << " M=" << M << " N=" << N
               << " K=" << K << " beta=" << beta << " broadcast a/b=" << broadcast_a << "/"
               << broadcast_b << " threads=" << threads);
  const int64_t pad = 1;
  std::vector<Problem<T>> products;
  for (int64_t i = 0; i < batch; ++i) {
    products.emplace_back(ta, tb, M, N, K, pad, static_cast<unsigned>(10 + 3 * i));
    if (broadcast_a) products.back().A = products[0].A;
    if (broadcast_b) products.back().B = products[0].B;
  }
  // Packed back to back, as a tensor's batch dimension would hold them.
  const Problem<T>& p0 = products[0];
  const int64_t stride_a = broadcast_a ? 0 : p0.A.size();
  const int64_t stride_b = broadcast_b ? 0 : p0.B.size();
  const int64_t stride_c = p0.C.size();
  std::vector<T> A, B, C;
  std::vector<std::vector<double>> want;
  for (auto& p : products) {
    if (beta == T(0)) std::fill(p.C.begin(), p.C.end(), std::numeric_limits<T>::quiet_NaN());
    want.push_back(p.reference(1.5, beta));
    A.insert(A.end(), p.A.begin(), p.A.end());
    B.insert(B.end(), p.B.begin(), p.B.end());
    C.insert(C.end(), p.C.begin(), p.C.end());
  }
  ThreadCount team(threads);
  gemm_batched(ta, tb, batch, M, N, K, T(1.5), A.data(), p0.lda, stride_a, B.data(), p0.ldb,
               stride_b, beta, C.data(), p0.ldc, stride_c);
  for (int64_t i = 0; i < batch; ++i) {
    SCOPED_TRACE(::testing::Message() << "product " << i);
    auto& p = products[i];
    std::copy(C.begin() + i * stride_c, C.begin() + (i + 1) * stride_c, p.C.begin());
    p.expect_c(want[i]);
  }
}

TEST(GemmKernel, BatchedAllTransposes) {
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      for (int threads : {1, 2}) {
        check_batched<float>(ta, tb, 5, 6, 7, 8, 0.0f, false, false, threads);       // serial
        check_batched<double>(ta, tb, 4, 40, 36, 50, 0.5, false, false, threads);    // per product
        check_batched<float>(ta, tb, 3, 70, 40, 60, 0.0f, false, false, threads);    // cut products
        check_batched<double>(ta, tb, 17, 24, 40, 30, 0.0, false, false, threads);   // uneven batch
        check_batched<float>(ta, tb, 1, 100, 64, 48, -1.0f, false, false, threads);  // one product
      }
    }
  }
}

TEST(GemmKernel, BatchedBroadcastOperand) {
  for (int threads : {1, 2}) {
    check_batched<float>(false, false, 5, 6, 7, 8, 0.0f, false, true, threads);
    check_batched<float>(false, true, 6, 48, 40, 64, 0.0f, true, false, threads);
    check_batched<double>(true, false, 3, 70, 40, 60, 1.0, false, true, threads);
  }
}

}  // namespace
}  // namespace toadstool::kernels::cpu
