#pragma once
// The bfloat16 GEMM's test cases, shared by the library's paths
// (tests/tensor/test_gemm_bf16.cpp) and the AMX kernel on the tile model
// (tests/amx_emulation/): every shape checked element by element against
// float64 sums. Shapes cross every edge of the packed kernels: odd M, N, K,
// K not a multiple of 2 or 32, K over one 512-deep block (float32 sums),
// N over one 1024-wide block, partial row and column tiles, transposes,
// padded leading dims, batches with shared (stride 0) operands, alpha /
// beta, NaN in a C that beta == 0 must not read.
#include <gtest/gtest.h>
#include <omp.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "toadstool/kernels/half.h"
#include "toadstool/kernels/kernel_args.h"

namespace toadstool::bf16_gemm_cases {

// Runs one call (bfloat16 A, B and C) on the GEMM under test.
using GemmRunner = std::function<void(const kernels::GemmCall&)>;

// Sets the team size for one check and restores it afterwards.
class ThreadCount {
 public:
  explicit ThreadCount(int threads) : saved_(omp_get_max_threads()) {
    omp_set_num_threads(threads);
  }
  ~ThreadCount() { omp_set_num_threads(saved_); }
  ThreadCount(const ThreadCount&) = delete;
  ThreadCount& operator=(const ThreadCount&) = delete;

 private:
  int saved_;
};

struct GemmShape {
  bool ta, tb;
  int64_t batch, M, N, K;
  double alpha, beta;
  int64_t pad;   // extra elements per row of A, B and C
  bool share_a;  // stride_a == 0: one A for the whole batch
  bool share_b;  // stride_b == 0
};

inline std::string describe(const GemmShape& s, int threads) {
  return "ta=" + std::to_string(s.ta) + " tb=" + std::to_string(s.tb) +
         " batch=" + std::to_string(s.batch) + " M=" + std::to_string(s.M) +
         " N=" + std::to_string(s.N) + " K=" + std::to_string(s.K) +
         " alpha=" + std::to_string(s.alpha) + " beta=" + std::to_string(s.beta) +
         " pad=" + std::to_string(s.pad) + " share_a=" + std::to_string(s.share_a) +
         " share_b=" + std::to_string(s.share_b) + " threads=" + std::to_string(threads);
}

inline std::vector<BFloat16> random_bf16(int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<BFloat16> v(static_cast<size_t>(n));
  for (auto& x : v) x = BFloat16(dist(rng));
  return v;
}

// One call of shape s, run by `run` on a team of `threads`, checked element
// by element against float64 sums of the same bfloat16 values. Error allowed: float32
// accumulation (at most K units of 2^-24 of the sum of |terms|) and the one
// rounding of C to bfloat16 (2^-9 of |C|; 2^-8 with the sum's own error).
inline void check(const GemmShape& s, int threads, const GemmRunner& run) {
  SCOPED_TRACE(describe(s, threads));
  const int64_t a_rows = s.ta ? s.K : s.M, a_cols = s.ta ? s.M : s.K;
  const int64_t b_rows = s.tb ? s.N : s.K, b_cols = s.tb ? s.K : s.N;
  kernels::GemmCall call;
  call.trans_a = s.ta;
  call.trans_b = s.tb;
  call.batch = s.batch;
  call.M = s.M;
  call.N = s.N;
  call.K = s.K;
  call.alpha = s.alpha;
  call.beta = s.beta;
  call.lda = a_cols + s.pad;
  call.ldb = b_cols + s.pad;
  call.ldc = s.N + s.pad;
  call.stride_a = s.share_a ? 0 : a_rows * call.lda;
  call.stride_b = s.share_b ? 0 : b_rows * call.ldb;
  call.stride_c = s.M * call.ldc;
  const auto A = random_bf16((s.share_a ? 1 : s.batch) * a_rows * call.lda + 1, 1);
  const auto B = random_bf16((s.share_b ? 1 : s.batch) * b_rows * call.ldb + 1, 2);
  auto C = random_bf16(s.batch * call.stride_c + 1, 3);
  if (s.beta == 0) {
    for (auto& c : C) c = BFloat16(std::numeric_limits<float>::quiet_NaN());
  }
  const auto C0 = C;
  call.A = A.data();
  call.B = B.data();
  call.C = C.data();
  {
    ThreadCount team(threads);
    run(call);
  }
  for (int64_t p = 0; p < s.batch; ++p) {
    for (int64_t i = 0; i < s.M; ++i) {
      for (int64_t j = 0; j < s.N; ++j) {
        double sum = 0, magnitude = 0;
        for (int64_t k = 0; k < s.K; ++k) {
          const int64_t ai = p * call.stride_a + (s.ta ? k * call.lda + i : i * call.lda + k);
          const int64_t bi = p * call.stride_b + (s.tb ? j * call.ldb + k : k * call.ldb + j);
          const double term = static_cast<double>(static_cast<float>(A[ai])) *
                              static_cast<double>(static_cast<float>(B[bi]));
          sum += term;
          magnitude += std::abs(term);
        }
        const int64_t ci = p * call.stride_c + i * call.ldc + j;
        const double c0 = s.beta == 0 ? 0.0 : static_cast<double>(static_cast<float>(C0[ci]));
        const double want = s.alpha * sum + s.beta * c0;
        const double scale = std::abs(s.alpha) * magnitude + std::abs(s.beta * c0);
        const double tol = std::ldexp(std::abs(want), -8) + (s.K + 2) * std::ldexp(scale, -23);
        ASSERT_NEAR(static_cast<float>(C[ci]), want, tol)
            << "at product " << p << ", (" << i << ", " << j << ")";
      }
      // Padding between rows is never written.
      for (int64_t j = s.N; j < call.ldc && i + 1 < s.M; ++j) {
        const int64_t ci = p * call.stride_c + i * call.ldc + j;
        ASSERT_EQ(C[ci].bits, C0[ci].bits) << "padding written at (" << i << ", " << j << ")";
      }
    }
  }
}

inline std::vector<GemmShape> shapes() {
  std::vector<GemmShape> out;
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      // Tiny and odd; K = 1, 3 (odd: a last k step alone), 31, 33, 63 (not a
      // multiple of 32: AMX's padded tiles).
      for (auto [M, N, K] : std::vector<std::array<int64_t, 3>>{{1, 1, 1},
                                                                {7, 5, 3},
                                                                {3, 1, 2},
                                                                {33, 17, 65},
                                                                {45, 47, 31},
                                                                {29, 63, 33},
                                                                {70, 130, 9},
                                                                {15, 33, 63}}) {
        out.push_back({ta, tb, 1, M, N, K, 1.0, 0.0, 0, false, false});
      }
      // alpha and beta, padded leading dims, every partial tile height.
      out.push_back({ta, tb, 1, 44, 65, 40, -0.5, 1.5, 3, false, false});
      out.push_back({ta, tb, 1, 31, 40, 17, 2.0, -1.0, 1, false, false});
      // K over one 512-deep block (float32 sums, rounded once; beta once).
      out.push_back({ta, tb, 1, 40, 50, 701, 0.5, 0.5, 1, false, false});
      out.push_back({ta, tb, 1, 37, 35, 1100, 1.0, 0.0, 0, false, false});
      // Long K, few rows: split across the team (partial sums added, beta once).
      out.push_back({ta, tb, 1, 24, 40, 1500, 0.5, 0.5, 2, false, false});
      // N over one 1024-wide block.
      out.push_back({ta, tb, 1, 33, 1030, 20, 1.0, 0.0, 0, false, false});
      // Rows of A 2 KB apart (packed rather than read in place).
      out.push_back({ta, tb, 1, 30, 40, 1024, 1.0, 0.0, 0, false, false});
      // Whole 32-row tiles and k a multiple of 32 (A [M, K] read in place
      // by AMX): one K block, padded rows, and two blocks and a short one.
      out.push_back({ta, tb, 1, 96, 40, 64, 1.0, 0.0, 0, false, false});
      out.push_back({ta, tb, 1, 320, 70, 96, 0.5, 0.5, 3, false, false});
      out.push_back({ta, tb, 1, 64, 50, 1056, 1.0, 0.0, 1, false, false});
      // Batches: shared A, shared B, both own.
      out.push_back({ta, tb, 3, 20, 36, 18, 1.0, 0.0, 2, true, false});
      out.push_back({ta, tb, 4, 25, 33, 70, 1.0, 0.25, 0, false, true});
      out.push_back({ta, tb, 2, 50, 40, 30, -1.0, 0.0, 1, false, false});
      // Large enough for the team: rows shared (M >= 2 x 4 tiles) and columns.
      out.push_back({ta, tb, 1, 300, 200, 260, 1.0, 0.0, 0, false, false});
      out.push_back({ta, tb, 1, 100, 300, 50, 1.0, 1.0, 1, false, false});
    }
  }
  // alpha == 0 and K == 0: C = beta * C (zeros, not read, when beta == 0).
  out.push_back({false, false, 2, 9, 11, 5, 0.0, 0.5, 1, false, false});
  out.push_back({false, true, 1, 9, 11, 0, 1.0, 0.0, 0, false, false});
  out.push_back({true, false, 1, 9, 11, 0, 1.0, -2.0, 0, false, false});
  return out;
}

}  // namespace toadstool::bf16_gemm_cases
