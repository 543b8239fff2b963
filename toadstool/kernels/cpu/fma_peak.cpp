#include "toadstool/kernels/cpu/fma_peak.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>

namespace toadstool::kernels::cpu {

namespace {

// 12 independent accumulators hide the FMA latency (4 cycles) on two FMA
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
  for (int i = 0; i < kChains; ++i) acc[i] = set(1.0f + static_cast<float>(i) * 1e-3f);
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

}  // namespace

double fma_peak_gflops(int threads, int repetitions, int64_t iterations) {
  using Clock = std::chrono::steady_clock;
  double best = 0;
  for (int rep = 0; rep < repetitions; ++rep) {
    double flops = 0;
    const auto start = Clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : flops)
    flops += fma_chains(iterations);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    best = std::max(best, flops / seconds * 1e-9);
  }
  return best;
}

}  // namespace toadstool::kernels::cpu
