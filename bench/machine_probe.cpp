#include "bench/machine_probe.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>

#include "toadstool/kernels/backend.h"
#include "toadstool/kernels/cpu/amx_tile_config.h"
#include "toadstool/kernels/cpu/bf16_features.h"

namespace toadstool::bench {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---- bfloat16 ----

// 24 chains: VDPBF16PS's latency (5-6 cycles here) times its ports, with
// room. Returns the flops done (16 lanes x 2 products x 2 per instruction).
__attribute__((target("avx512f,avx512bf16"))) double dpbf16_chains(int64_t iterations) {
  constexpr int kChains = 24;
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  // 2^-10 in bfloat16 in both halves of each 32-bit lane.
  const auto x = reinterpret_cast<__m512bh>(_mm512_set1_epi32(0x3A803A80));
  for (int64_t it = 0; it < iterations; ++it) {
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], x, x);
  }
  __m512 total = acc[0];
  for (int i = 1; i < kChains; ++i) total = _mm512_add_ps(total, acc[i]);
  volatile float sink = _mm512_cvtss_f32(total);
  (void)sink;
  return 64.0 * kChains * static_cast<double>(iterations);
}

// tmm0-3 accumulate tmm4/5 (A) times tmm6/7 (B), the GEMM kernel's pattern:
// four independent chains. Returns the flops done (16 x 16 x 32 x 2 each).
__attribute__((target("amx-tile,amx-bf16"))) double amx_chains(int64_t iterations) {
  _tile_loadconfig(&kernels::cpu::kAmxTileConfig);
  alignas(
      64) static const uint16_t kOperand[16 * 32] = {};  // zeros: the rate does not depend on them
  alignas(64) float out[16 * 16];
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_loadd(4, kOperand, 64);
  _tile_loadd(5, kOperand, 64);
  _tile_loadd(6, kOperand, 64);
  _tile_loadd(7, kOperand, 64);
  for (int64_t it = 0; it < iterations; ++it) {
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, out, 64);
  _tile_release();
  volatile float sink = out[0];
  (void)sink;
  return 4.0 * 16 * 16 * 32 * 2 * static_cast<double>(iterations);
}

// Best of `repetitions` runs of `chains(iterations)` on every thread.
double best_rate(double (*chains)(int64_t), int threads, int repetitions, int64_t iterations) {
  double best = 0;
  for (int rep = 0; rep < repetitions; ++rep) {
    double flops = 0;
    const auto start = Clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : flops)
    flops += chains(iterations);
    best = std::max(best, flops / seconds_since(start) * 1e-9);
  }
  return best;
}

}  // namespace

double measure_avx512_bf16_peak_gflops(int threads, int repetitions) {
  if (!__builtin_cpu_supports("avx512f") || !kernels::cpu::cpu_has_avx512_bf16()) return 0;
  return best_rate(dpbf16_chains, threads, repetitions, 1'000'000);  // ~10 ms at 90 GFLOP/s
}

double measure_amx_bf16_peak_gflops(int threads, int repetitions) {
  static const bool usable = kernels::cpu::cpu_has_amx_bf16() && kernels::cpu::amx_permitted();
  if (!usable) return 0;
  return best_rate(amx_chains, threads, repetitions, 200'000);  // ~10 ms at 2 TFLOP/s
}

// The library's probe (kernels/cpu/fma_peak.h), with the vectors of the
// CPU kernels in use.
double measure_fma_peak_gflops(int threads) {
  // Best of many short runs (about 0.05 s per thread each): on a shared
  // machine a neighbour may hold a core for a while, and the peak is what
  // the core does when it is ours.
  return kernels::cpu_backend().fma_peak_gflops(threads, 20, 10'000'000);
}

double measure_adjacent_fma_peak_gflops(int threads) {
  return kernels::cpu_backend().fma_peak_gflops(threads, 5, 2'000'000);
}

double measure_stream_triad_gbs(int threads) {
  constexpr int64_t kN = 32 * 1024 * 1024;  // 128 MiB per array
  std::unique_ptr<float[]> a(new float[kN]), b(new float[kN]), c(new float[kN]);
  // First touch by the threads that will use the pages.
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < kN; ++i) {
    a[i] = 0.0f;
    b[i] = 1.0f;
    c[i] = 2.0f;
  }
  const float s = 3.0f;
  double best = 0;
  for (int rep = 0; rep < 10; ++rep) {
    const auto start = Clock::now();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < kN; ++i) a[i] = b[i] + s * c[i];
    best = std::max(best, 3.0 * sizeof(float) * kN / seconds_since(start) * 1e-9);
  }
  return best;
}

}  // namespace toadstool::bench
