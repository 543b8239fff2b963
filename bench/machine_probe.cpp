#include "bench/machine_probe.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>

namespace toadstool::bench {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// 12 independent accumulators hide the FMA latency (4 cycles) on both FMA
// pipes. Returns the flops done.
double fma_chains(int64_t iterations) {
#if defined(__AVX512F__)
  using Vec = __m512;
  constexpr int kWidth = 16;
  auto fma = [](Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); };
  auto set = [](float v) { return _mm512_set1_ps(v); };
  auto add = [](Vec a, Vec b) { return _mm512_add_ps(a, b); };
  auto first = [](Vec a) { return _mm512_cvtss_f32(a); };
#elif defined(__AVX2__) && defined(__FMA__)
  using Vec = __m256;
  constexpr int kWidth = 8;
  auto fma = [](Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); };
  auto set = [](float v) { return _mm256_set1_ps(v); };
  auto add = [](Vec a, Vec b) { return _mm256_add_ps(a, b); };
  auto first = [](Vec a) { return _mm256_cvtss_f32(a); };
#else
  using Vec = float;
  constexpr int kWidth = 1;
  auto fma = [](Vec a, Vec b, Vec c) { return a * b + c; };
  auto set = [](float v) { return v; };
  auto add = [](Vec a, Vec b) { return a + b; };
  auto first = [](Vec a) { return a; };
#endif
  constexpr int kChains = 12;
  Vec acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = set(1.0f + i * 1e-3f);
  const Vec mul = set(0.999999f), addend = set(1e-7f);
  for (int64_t it = 0; it < iterations; ++it) {
    for (int i = 0; i < kChains; ++i) acc[i] = fma(acc[i], mul, addend);
  }
  Vec total = acc[0];
  for (int i = 1; i < kChains; ++i) total = add(total, acc[i]);
  // Keep the result observable so the chains are not optimised away.
  volatile float sink = first(total);
  (void)sink;
  return 2.0 * kWidth * kChains * static_cast<double>(iterations);
}

// Best of `repetitions` runs of `iterations` FMA steps per thread.
double best_fma_rate(int threads, int repetitions, int64_t iterations) {
  double best = 0;
  for (int rep = 0; rep < repetitions; ++rep) {
    double flops = 0;
    const auto start = Clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : flops)
    flops += fma_chains(iterations);
    best = std::max(best, flops / seconds_since(start) * 1e-9);
  }
  return best;
}

}  // namespace

double measure_fma_peak_gflops(int threads) {
  // Best of many short runs (about 0.05 s per thread each): on a shared
  // machine a neighbour may hold a core for a while, and the peak is what
  // the core does when it is ours.
  return best_fma_rate(threads, 20, 10'000'000);
}

double measure_adjacent_fma_peak_gflops(int threads) {
  return best_fma_rate(threads, 5, 2'000'000);
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
