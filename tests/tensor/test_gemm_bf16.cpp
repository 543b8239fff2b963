// The CPU's bfloat16 GEMM (kernels/cpu/gemm_bf16.h), each path against a
// float64 reference: "fp32" (widened) everywhere, "avx512bf16" and "amx"
// where this CPU and build have them (skipped with the missing feature
// otherwise). Shapes cross every edge of the packed kernels: odd M, N, K,
// K not a multiple of 2 or 32, K over one 512-deep block (float32 sums),
// N over one 1024-wide block, partial row and column tiles, transposes,
// padded leading dims, batches with shared (stride 0) operands, alpha /
// beta, NaN in a C that beta == 0 must not read, 1 and 2 threads.
#include <gtest/gtest.h>
#include <omp.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "toadstool/kernels/backend.h"
#include "toadstool/toadstool.h"

namespace toadstool {
namespace {

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

// Forces a bf16 GEMM path for one test, back to the automatic choice after.
class ForcedPath {
 public:
  explicit ForcedPath(const std::string& path) { set_cpu_bf16_gemm(path); }
  ~ForcedPath() { set_cpu_bf16_gemm(""); }
  ForcedPath(const ForcedPath&) = delete;
  ForcedPath& operator=(const ForcedPath&) = delete;
};

struct GemmShape {
  bool ta, tb;
  int64_t batch, M, N, K;
  double alpha, beta;
  int64_t pad;   // extra elements per row of A, B and C
  bool share_a;  // stride_a == 0: one A for the whole batch
  bool share_b;  // stride_b == 0
};

std::string describe(const GemmShape& s, int threads) {
  return "ta=" + std::to_string(s.ta) + " tb=" + std::to_string(s.tb) +
         " batch=" + std::to_string(s.batch) + " M=" + std::to_string(s.M) +
         " N=" + std::to_string(s.N) + " K=" + std::to_string(s.K) +
         " alpha=" + std::to_string(s.alpha) + " beta=" + std::to_string(s.beta) +
         " pad=" + std::to_string(s.pad) + " share_a=" + std::to_string(s.share_a) +
         " share_b=" + std::to_string(s.share_b) + " threads=" + std::to_string(threads);
}

std::vector<BFloat16> random_bf16(int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<BFloat16> v(static_cast<size_t>(n));
  for (auto& x : v) x = BFloat16(dist(rng));
  return v;
}

// One call on the CPU's bfloat16 GEMM entry, checked element by element
// against float64 sums of the same bfloat16 values. Error allowed: float32
// accumulation (at most K units of 2^-24 of the sum of |terms|) and the one
// rounding of C to bfloat16 (2^-9 of |C|; 2^-8 with the sum's own error).
void check(const GemmShape& s, int threads) {
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
    kernels::cpu_backend().gemm(DType::BFloat16, call);
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

std::vector<GemmShape> shapes() {
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

// Forces `path` and checks every shape on 1 and 2 threads, or skips naming
// what the CPU or the build lacks.
void check_path(const std::string& path) {
  try {
    set_cpu_bf16_gemm(path);
  } catch (const Error& e) {
    GTEST_SKIP() << "bf16 GEMM path " << path << " not available here: " << e.what();
  }
  ForcedPath forced(path);
  EXPECT_EQ(cpu_bf16_gemm(), path);
  for (const GemmShape& s : shapes()) {
    for (int threads : {1, 2}) {
      check(s, threads);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(GemmBf16, WidenedFp32Path) { check_path("fp32"); }
TEST(GemmBf16, Avx512Bf16Path) { check_path("avx512bf16"); }
TEST(GemmBf16, AmxPath) { check_path("amx"); }

// The path in use is one of the three, the forced one when the environment
// forces it; a path this machine lacks, or a misspelt one, is an Error
// naming it.
TEST(GemmBf16, PathChoiceAndErrors) {
  const char* forced = std::getenv("TOADSTOOL_BF16_GEMM");
  std::string chosen;
  try {
    chosen = cpu_bf16_gemm();
  } catch (const Error& e) {  // only where the environment forces a path this CPU lacks
    ASSERT_TRUE(forced != nullptr && *forced != '\0') << "automatic choice failed: " << e.what();
    EXPECT_NE(std::string(e.what()).find("TOADSTOOL_BF16_GEMM '"), std::string::npos) << e.what();
    return;
  }
  std::cout << "bf16 GEMM path: " << chosen << " (CPU kernels " << cpu_isa() << ")\n";
  EXPECT_TRUE(chosen == "amx" || chosen == "avx512bf16" || chosen == "fp32") << chosen;
  if (forced != nullptr && *forced != '\0') {
    EXPECT_EQ(chosen, forced);
  }
  if (std::string(cpu_isa()) != "avx512") {
    EXPECT_EQ(chosen, "fp32");  // the 16-bit kernels are in the avx512 build only
  }
  try {
    set_cpu_bf16_gemm("avx512_bf16");
    ADD_FAILURE() << "a misspelt path was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected amx, avx512bf16 or fp32"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(cpu_bf16_gemm(), chosen);  // unchanged by the failed call
  for (const char* path : {"amx", "avx512bf16"}) {
    try {
      ForcedPath use(path);
      EXPECT_EQ(cpu_bf16_gemm(), std::string(path));
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(path), std::string::npos) << what;
      EXPECT_TRUE(what.find("lacks") != std::string::npos ||
                  what.find("refused") != std::string::npos ||
                  what.find("build") != std::string::npos)
          << what;
    }
  }
  EXPECT_EQ(cpu_bf16_gemm(), chosen);
}

// matmul of bfloat16 tensors goes through the chosen path and agrees with
// float32 on a Transformer-like shape.
TEST(GemmBf16, MatmulUsesThePath) {
  const Tensor x = randn({200, 96}), w = randn({64, 96});
  const Tensor want = matmul(x.to(kBFloat16).to(kFloat32), w.to(kBFloat16).to(kFloat32).t());
  const Tensor got = matmul(x.to(kBFloat16), w.to(kBFloat16).t());
  EXPECT_EQ(got.dtype(), kBFloat16);
  const double err = (got.to(kFloat32) - want).abs().amax().item<float>();
  const double size = want.abs().amax().item<float>();
  EXPECT_LE(err, size * std::ldexp(1.0, -8)) << "path " << cpu_bf16_gemm();
}

}  // namespace
}  // namespace toadstool
