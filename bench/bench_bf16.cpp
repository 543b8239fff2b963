// bfloat16 GEMM on the Transformer shapes, per path of the CPU's bf16 GEMM
// (toadstool::cpu_bf16_gemm: "fp32" widened, "avx512bf16", "amx"), each
// registered only where this CPU and build can run it. The shapes are a
// Linear layer's three products over M = 8192 tokens, in {128, 512}
// features:
//   forward   Y  = X W^T    [M, in] x [out, in]^T   (NT)
//   dX        dX = dY W     [M, out] x [out, in]    (NN)
//   dW        dW = dY^T X   [M, out]^T x [M, in]    (TN, K = M)
// Reported as GFLOP/s and as a fraction of the path's own peak (the
// machine probe's VDPBF16PS / AMX / FMA chains, measured next to the
// benchmark) and of the FMA peak.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "bench/machine_probe.h"
#include "toadstool/toadstool.h"

namespace toadstool::bench {

namespace {

// A [rows, cols] bfloat16 operand, stored transposed when `transposed` (a
// view of a [cols, rows] tensor, as a Linear's weight and a backward's
// inputs are).
Tensor bf16_operand(int64_t rows, int64_t cols, bool transposed) {
  return transposed ? randn({cols, rows}).to(kBFloat16).t() : randn({rows, cols}).to(kBFloat16);
}

double path_peak_gflops(const std::string& path, int threads) {
  if (path == "amx") return measure_amx_bf16_peak_gflops(threads, 5);
  if (path == "avx512bf16") return measure_avx512_bf16_peak_gflops(threads, 5);
  return measure_adjacent_fma_peak_gflops(threads);
}

// Args: M, N, K, transpose A, transpose B, threads.
void BM_bf16_gemm(benchmark::State& state, const std::string& path) {
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  const int threads = threads_of(state, 5);
  set_num_threads(threads);
  set_cpu_bf16_gemm(path);
  const Tensor a = bf16_operand(M, K, state.range(3) != 0);
  const Tensor b = bf16_operand(K, N, state.range(4) != 0);
  const double peak = path_peak_gflops(path, threads);
  const double fma_peak = measure_adjacent_fma_peak_gflops(threads);
  for (auto _ : state) benchmark::DoNotOptimize(matmul(a, b).data_ptr());
  set_cpu_bf16_gemm("");
  const double flops = 2.0 * M * N * K;
  report_flops_and_adjacent_peak(state, flops, fma_peak);
  state.counters["of_path_peak"] =
      benchmark::Counter(flops * 1e-9 / peak, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

void register_bf16_benchmarks() {
  constexpr int64_t kTokens = 8192;
  for (const char* path : {"fp32", "avx512bf16", "amx"}) {
    try {
      set_cpu_bf16_gemm(path);
      set_cpu_bf16_gemm("");
    } catch (const Error&) {
      continue;  // this CPU or build lacks it
    }
    const std::string name = std::string("bf16_gemm_") + path;
    for (int threads : {1, 2}) {
      for (int64_t in : {128, 512}) {
        for (int64_t out : {128, 512}) {
          auto* b = timed(benchmark::RegisterBenchmark(
              name.c_str(), [p = std::string(path)](benchmark::State& s) { BM_bf16_gemm(s, p); }));
          b->Args({kTokens, out, in, 0, 1, threads});  // forward
          b->Args({kTokens, in, out, 0, 0, threads});  // dX
          b->Args({out, in, kTokens, 1, 0, threads});  // dW
        }
      }
    }
  }
}

}  // namespace toadstool::bench
