// The bfloat16 GEMM's AMX micro-kernel run on the tile model
// (amx_tile_model.h), since no machine of this project has had AMX: the
// packed GEMM on every shape of the library's own bf16 GEMM test
// (common/bf16_gemm_cases.h) on 1 and 2 threads, its fused bias + ReLU
// store, and attention's serial products on a packed B, each against
// float64 sums. What this checks: the kernel's tile configuration, its
// loads and strides over the packed A and B layouts, the padding of partial
// tiles (the packing buffers filled with NaN beforehand, so that padding
// left unzeroed shows), the per-thread begin / end of the tile state, and
// (under AddressSanitizer) that no tile reads or writes past a buffer. What
// it cannot: speed (issue 16's AMX targets), and the tile hardware itself.
#include <gtest/gtest.h>
#include <omp.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "amx_emulated_gemm.h"
#include "amx_tile_model.h"
#include "bf16_gemm_cases.h"
#include "toadstool/kernels/cpu/bf16_features.h"
#include "toadstool/kernels/cpu/scratch.h"  // ceil_div
#include "toadstool/kernels/half.h"

namespace toadstool {
namespace {

using bf16_gemm_cases::random_bf16;
using kernels::cpu::ceil_div;

// What this CPU lacks to run the emulated kernel (its code is AVX-512, its
// epilogue AVX512-BF16); empty when nothing.
std::string missing_features() {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
      !__builtin_cpu_supports("avx512vl")) {
    return "AVX-512 F/BW/VL";
  }
  return kernels::cpu::cpu_has_avx512_bf16() ? "" : "AVX512_BF16";
}

#define SKIP_WITHOUT_AVX512_BF16()                                                     \
  if (const std::string missing = missing_features(); !missing.empty()) {              \
    GTEST_SKIP() << "the emulated AMX kernel's AVX-512 code needs " << missing << ", " \
                 << "which this CPU lacks";                                            \
  }

// TDPBF16PS instructions a product takes on one thread: four per 32 x 32
// tile of C and 32 steps of k (blocks of K and N are multiples of 32).
int64_t tile_products(int64_t batch, int64_t M, int64_t N, int64_t K) {
  return 4 * batch * ceil_div(M, 32) * ceil_div(N, 32) * ceil_div(K, 32);
}

// One product of contiguous bfloat16 matrices: C [M, N] = A [M, K] op(B),
// B stored [K, N], or [N, K] when trans_b.
kernels::GemmCall product(int64_t M, int64_t N, int64_t K, bool trans_b, const BFloat16* A,
                          const BFloat16* B, BFloat16* C) {
  kernels::GemmCall call;
  call.trans_b = trans_b;
  call.M = M;
  call.N = N;
  call.K = K;
  call.A = A;
  call.lda = K;
  call.B = B;
  call.ldb = trans_b ? K : N;
  call.C = C;
  call.ldc = N;
  return call;
}

// Fills the packed GEMM's per-thread packing buffers with NaN: products of
// NaN operands as large as its blocks (256 rows of A by 512 steps of k,
// 1024 columns of B), on one thread, on two sharing rows and on two sharing
// columns. The buffers only grow and are reused, so a later product that
// read padding its packing failed to zero would read leftover NaN (and show
// it) rather than leftover zeros; AddressSanitizer cannot see such a read,
// inside the buffer.
void poison_packing_buffers() {
  for (auto [threads, M, N] :
       std::vector<std::array<int64_t, 3>>{{1, 256, 1024}, {2, 256, 1024}, {2, 32, 2048}}) {
    const int64_t K = 512;
    const BFloat16 nan(std::numeric_limits<float>::quiet_NaN());
    const std::vector<BFloat16> a(static_cast<size_t>(M * K), nan),
        b(static_cast<size_t>(K * N), nan);
    std::vector<BFloat16> c(static_cast<size_t>(M * N));
    const bf16_gemm_cases::ThreadCount team(static_cast<int>(threads));
    toadstool_amx_gemm_bf16(product(M, N, K, false, a.data(), b.data(), c.data()));
  }
}

// Every shape of the library's test, on 1 and 2 threads. On one thread the
// kernel must have run exactly once per tile and k step.
TEST(AmxEmulated, PackedGemmShapes) {
  SKIP_WITHOUT_AVX512_BF16();
  poison_packing_buffers();
  for (const bf16_gemm_cases::GemmShape& s : bf16_gemm_cases::shapes()) {
    for (int threads : {1, 2}) {
      bf16_gemm_cases::check(s, threads, [](const kernels::GemmCall& call) {
        const int64_t before = amx_model::dpbf16ps_count();
        toadstool_amx_gemm_bf16(call);
        const int64_t ran = amx_model::dpbf16ps_count() - before;
        const bool work = call.K > 0 && call.alpha != 0;
        if (omp_get_max_threads() == 1) {
          EXPECT_EQ(ran, work ? tile_products(call.batch, call.M, call.N, call.K) : 0);
        } else if (work) {
          EXPECT_GT(ran, 0);
        }
      });
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

// A Linear's bias and ReLU in the kernel's store (K <= 512): out =
// relu(round(round(acc) + bias)), the separate pass's roundings.
TEST(AmxEmulated, FusedBiasRelu) {
  SKIP_WITHOUT_AVX512_BF16();
  poison_packing_buffers();
  for (auto [M, N, K] :
       std::vector<std::array<int64_t, 3>>{{45, 70, 33}, {64, 64, 512}, {5, 3, 1}}) {
    SCOPED_TRACE("M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K));
    const auto A = random_bf16(M * K, 4), B = random_bf16(N * K, 5), bias = random_bf16(N, 6);
    std::vector<BFloat16> C(static_cast<size_t>(M * N));
    // A Linear: x [M, K] w^T, w [N, K].
    kernels::GemmCall call = product(M, N, K, true, A.data(), B.data(), C.data());
    call.epilogue.bias = bias.data();
    call.epilogue.activation = kernels::GemmActivation::Relu;
    ASSERT_TRUE(toadstool_amx_gemm_bf16(call)) << "the epilogue was not fused";
    for (int64_t i = 0; i < M; ++i) {
      for (int64_t j = 0; j < N; ++j) {
        double sum = 0, magnitude = 0;
        for (int64_t k = 0; k < K; ++k) {
          const double term = static_cast<double>(static_cast<float>(A[i * K + k])) *
                              static_cast<float>(B[j * K + k]);
          sum += term;
          magnitude += std::abs(term);
        }
        const double pre = sum + static_cast<float>(bias[j]);
        const double want = pre < 0 ? 0.0 : pre;
        // Two roundings to bfloat16 (of the product, then of the sum with
        // the bias) and float32 accumulation.
        const double tol =
            std::ldexp(std::abs(sum) + std::abs(pre), -8) + (K + 2) * std::ldexp(magnitude, -23);
        ASSERT_NEAR(static_cast<float>(C[i * N + j]), want, tol) << "at (" << i << ", " << j << ")";
      }
    }
  }
}

// Attention's products: op(B) packed once, then serial products into float32
// C (beta 0: C not read, NaN there; beta 1: added), M not a multiple of the
// tile's 32 rows, K not a multiple of its 32 steps.
TEST(AmxEmulated, SerialProductsOnPackedB) {
  SKIP_WITHOUT_AVX512_BF16();
  poison_packing_buffers();
  for (bool trans_a : {false, true}) {
    for (bool trans_b : {false, true}) {
      for (auto [M, N, K] : std::vector<std::array<int64_t, 3>>{
               {1, 1, 1}, {17, 31, 15}, {32, 64, 64}, {45, 100, 100}, {64, 33, 512}}) {
        for (float beta : {0.0f, 1.0f}) {
          SCOPED_TRACE("ta=" + std::to_string(trans_a) + " tb=" + std::to_string(trans_b) +
                       " M=" + std::to_string(M) + " N=" + std::to_string(N) +
                       " K=" + std::to_string(K) + " beta=" + std::to_string(beta));
          const int64_t lda = (trans_a ? M : K) + 3, ldb = (trans_b ? K : N) + 1, ldc = N + 2;
          const auto A = random_bf16((trans_a ? K : M) * lda, 7);
          const auto B = random_bf16((trans_b ? N : K) * ldb, 8);
          std::vector<float> C(static_cast<size_t>(M * ldc),
                               beta == 0 ? std::numeric_limits<float>::quiet_NaN() : 0.5f);
          const int64_t before = amx_model::dpbf16ps_count();
          toadstool_amx_gemm_bf16_serial(
              trans_a, trans_b, M, N, K, 0.5f, reinterpret_cast<const uint16_t*>(A.data()), lda,
              reinterpret_cast<const uint16_t*>(B.data()), ldb, beta, C.data(), ldc);
          EXPECT_EQ(amx_model::dpbf16ps_count() - before, tile_products(1, M, N, K));
          for (int64_t i = 0; i < M; ++i) {
            for (int64_t j = 0; j < N; ++j) {
              double sum = 0, magnitude = 0;
              for (int64_t k = 0; k < K; ++k) {
                const double term = static_cast<double>(static_cast<float>(
                                        A[trans_a ? k * lda + i : i * lda + k])) *
                                    static_cast<float>(B[trans_b ? j * ldb + k : k * ldb + j]);
                sum += term;
                magnitude += std::abs(term);
              }
              const double want = 0.5 * sum + beta * 0.5;
              // float32 accumulation, and the float32 result's own rounding.
              const double tol =
                  (K + 2) * std::ldexp(magnitude, -23) + std::ldexp(std::abs(want), -23);
              ASSERT_NEAR(C[i * ldc + j], want, tol) << "at (" << i << ", " << j << ")";
            }
          }
        }
      }
    }
  }
}

// The model itself, on one 16 x 16 product of small integers (exact in
// float32): C[m, n] += sum over pairs k of A[m, 2k] B[k, 2n] + A[m, 2k + 1]
// B[k, 2n + 1], the SDM's layout of TDPBF16PS.
TEST(AmxEmulated, ModelFollowsTheSdm) {
  amx_model::TileConfig config;
  config.palette_id = 1;
  for (int t = 0; t < 3; ++t) {
    config.colsb[t] = 64;
    config.rows[t] = 16;
  }
  uint16_t a[16][32], b[16][32];
  for (int r = 0; r < 16; ++r) {
    for (int c = 0; c < 32; ++c) {
      a[r][c] = BFloat16(static_cast<float>((r + 2 * c) % 7 - 3)).bits;
      b[r][c] = BFloat16(static_cast<float>((3 * r + c) % 5 - 2)).bits;
    }
  }
  float c[16][16];
  amx_model::load_config(&config);
  amx_model::zero(0);
  amx_model::load(1, a, sizeof a[0]);
  amx_model::load(2, b, sizeof b[0]);
  amx_model::dpbf16ps(0, 1, 2);
  amx_model::dpbf16ps(0, 1, 2);  // accumulates: twice the product
  amx_model::store(0, c, sizeof c[0]);
  amx_model::release();
  for (int m = 0; m < 16; ++m) {
    for (int n = 0; n < 16; ++n) {
      float want = 0;
      for (int k = 0; k < 16; ++k) {
        want += static_cast<float>(BFloat16::from_bits(a[m][2 * k])) *
                    static_cast<float>(BFloat16::from_bits(b[k][2 * n])) +
                static_cast<float>(BFloat16::from_bits(a[m][2 * k + 1])) *
                    static_cast<float>(BFloat16::from_bits(b[k][2 * n + 1]));
      }
      EXPECT_EQ(c[m][n], 2 * want) << "at (" << m << ", " << n << ")";
    }
  }
}

// What the hardware faults on, the model stops on.
TEST(AmxEmulatedDeathTest, ModelFaultsAsTheHardware) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(amx_model::zero(0), "no tile configuration on this thread");
  amx_model::TileConfig config;
  config.palette_id = 1;
  config.colsb[0] = 64;
  config.rows[0] = 16;
  config.colsb[1] = 32;  // 8 pairs a row of src1
  config.rows[1] = 16;
  config.colsb[2] = 64;
  config.rows[2] = 16;  // 16 rows of src2: not 8
  EXPECT_DEATH(
      {
        amx_model::load_config(&config);
        amx_model::dpbf16ps(0, 1, 2);
      },
      "src1 pairs per row != src2 rows");
  config.rows[3] = 17;
  config.colsb[3] = 64;
  EXPECT_DEATH(amx_model::load_config(&config), "over 16 rows or 64 bytes");
}

}  // namespace
}  // namespace toadstool
