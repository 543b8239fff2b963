// The AVX512-BF16 micro-kernel of the packed bfloat16 GEMM
// (gemm_bf16_packed.h) and the throughput probe behind the automatic choice
// (gemm_bf16.cpp). VDPBF16PS multiplies 16 pairs of bfloat16 and adds both
// products of a pair to one float32 lane: one instruction is 2 steps of k
// for 16 columns.
//
// The tile is the float32 kernel's, 14 rows x 32 columns: 28 accumulators,
// the two B vectors of a pair row (64 bfloat16) and one broadcast A pair fill
// the 32 vector registers. A is read as 32-bit pairs (a[i, 2q], a[i, 2q + 1])
// at any strides (straight from rows of A [M, K], or from pair rows packed
// from A [K, M]); an odd last step takes a[i, kc - 1] alone (the high half
// zero, as B's padding is).
#include "toadstool/kernels/cpu/gemm_bf16_packed.h"

#if TOADSTOOL_BF16_KERNELS

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <utility>

#include "toadstool/kernels/cpu/gemm_bf16_store.h"

#define TOADSTOOL_AVX512_BF16 __attribute__((target("avx512bf16")))

namespace toadstool::kernels::cpu {

namespace {

constexpr int64_t kMR = 14;

// The pair word (a[2q], a[2q + 1]) of a row, broadcast.
[[gnu::always_inline]] TOADSTOOL_AVX512_BF16 inline __m512bh pair(const uint16_t* a) {
  uint32_t word = 0;
  std::memcpy(&word, a, sizeof(word));
  return reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(word)));
}

template <int kRows>
TOADSTOOL_AVX512_BF16 void micro_kernel(int64_t kc, const uint16_t* a, int64_t a_row,
                                        int64_t a_pair, const uint16_t* b, int64_t cols,
                                        const Bf16Out& out) {
  prefetch_out_tile<kRows>(out);
  __m512 acc[kRows][2];
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  const int64_t pairs = kc / 2;
#pragma GCC unroll 2
  for (int64_t q = 0; q < pairs; ++q, b += 2 * kBf16NR) {
    const auto b0 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(b));
    const auto b1 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(b + kBf16NR));
#pragma GCC unroll 16
    for (int i = 0; i < kRows; ++i) {
      const __m512bh ai = pair(a + i * a_row + q * a_pair);
      acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, b0);
      acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, b1);
    }
  }
  if (kc % 2 != 0) {
    const auto b0 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(b));
    const auto b1 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(b + kBf16NR));
#pragma GCC unroll 16
    for (int i = 0; i < kRows; ++i) {
      const auto ai = reinterpret_cast<__m512bh>(_mm512_set1_epi32(a[i * a_row + pairs * a_pair]));
      acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, b0);
      acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, b1);
    }
  }
  const Bf16TileStore store(out, cols);
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i) store.row(i, acc[i][0], acc[i][1]);
}

using Kernel = void (*)(int64_t, const uint16_t*, int64_t, int64_t, const uint16_t*, int64_t,
                        const Bf16Out&);
template <size_t... R>
constexpr std::array<Kernel, sizeof...(R)> kernels(std::index_sequence<R...> /*rows*/) {
  return {&micro_kernel<static_cast<int>(R) + 1>...};
}
// One instantiation per height: the last rows of a matrix use a shorter tile.
constexpr auto kKernels = kernels(std::make_index_sequence<kMR>());

void avx512_kernel(int64_t rows, int64_t kc, const uint16_t* a, int64_t a_row, int64_t a_pair,
                   const uint16_t* b, int64_t cols, const Bf16Out& out) {
  kKernels[rows - 1](kc, a, a_row, a_pair, b, cols, out);
}

// ---- the probe: independent chains of each instruction, in registers ----

using Clock = std::chrono::steady_clock;

// 24 chains cover VDPBF16PS's latency on both ports; returns flops (an
// instruction is 16 lanes x 2 products x 2).
TOADSTOOL_AVX512_BF16 double dpbf16_chains(int64_t iterations) {
  constexpr int kChains = 24;
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  // 2^-10 in bfloat16, in both halves of each word.
  const auto x = reinterpret_cast<__m512bh>(_mm512_set1_epi32(0x3A803A80));
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 24
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], x, x);
  }
  __m512 total = acc[0];
  for (int i = 1; i < kChains; ++i) total = _mm512_add_ps(total, acc[i]);
  volatile float sink = _mm512_cvtss_f32(total);
  (void)sink;
  return 64.0 * kChains * static_cast<double>(iterations);
}

// 12 chains cover the FMA latency (4 cycles) on both FMA ports.
double fma_chains(int64_t iterations) {
  constexpr int kChains = 12;
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(1.0f + static_cast<float>(i) * 1e-3f);
  const __m512 mul = _mm512_set1_ps(0.999999f), add = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], mul, add);
  }
  __m512 total = acc[0];
  for (int i = 1; i < kChains; ++i) total = _mm512_add_ps(total, acc[i]);
  volatile float sink = _mm512_cvtss_f32(total);
  (void)sink;
  return 32.0 * kChains * static_cast<double>(iterations);
}

template <class Fn>
double rate(Fn chains, int64_t iterations) {
  const auto start = Clock::now();
  const double flops = chains(iterations);
  return flops / std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

const Bf16Tile& avx512_bf16_tile() {
  static const Bf16Tile tile{.name = "avx512bf16",
                             .mr = kMR,
                             .k_pad = 2,
                             .a_pairs = true,
                             .fetch_ahead = true,
                             .begin = nullptr,
                             .end = nullptr,
                             .kernel = avx512_kernel};
  return tile;
}

double avx512_bf16_to_fma_rate() {
  // About 0.3 ms a run at 3 GHz, the two alternated and the best of 5 each
  // kept: a neighbour holding the core for a moment slows one run, not the
  // ratio.
  constexpr int64_t kIterations = 20000;
  double dp = 0, fma = 0;
  for (int run = 0; run < 5; ++run) {
    dp = std::max(dp, rate(dpbf16_chains, kIterations));
    fma = std::max(fma, rate(fma_chains, 2 * kIterations));
  }
  return dp / fma;
}

}  // namespace toadstool::kernels::cpu

#endif  // TOADSTOOL_BF16_KERNELS
