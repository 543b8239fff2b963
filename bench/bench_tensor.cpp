// The tensor-core workloads of scripts/bench.sh. Each benchmark takes the
// thread count as its last argument and reports the rate it achieved
// (GFLOP/s or GB/s) as a counter; bench/report.py turns those into ratios
// to the machine's peak (measured in-process, see machine_probe.h) and to
// PyTorch running the same workloads (bench/pytorch_workloads.py).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "bench/machine_probe.h"
#include "toadstool/toadstool.h"

namespace toadstool::bench {

namespace {
constexpr int64_t kElementwiseN = 16 * 1024 * 1024;

// A [rows, cols] operand, stored transposed when `transposed` (a view of a
// [cols, rows] tensor, so matmul reads it without copying).
Tensor operand(int64_t rows, int64_t cols, bool transposed) {
  return transposed ? randn({cols, rows}).t() : randn({rows, cols});
}

// Args: M, N, K, transpose A, transpose B, threads.
void BM_sgemm(benchmark::State& state) {
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  set_num_threads(threads_of(state, 5));
  const Tensor a = operand(M, K, state.range(3) != 0);
  const Tensor b = operand(K, N, state.range(4) != 0);
  const double peak = measure_adjacent_fma_peak_gflops(threads_of(state, 5));
  for (auto _ : state) benchmark::DoNotOptimize(matmul(a, b).data_ptr());
  report_flops_and_adjacent_peak(state, 2.0 * M * N * K, peak);
}

// Args: batch, M, N, K, threads: [batch, M, K] @ [batch, K, N].
void BM_batched_gemm(benchmark::State& state) {
  const int64_t B = state.range(0), M = state.range(1), N = state.range(2), K = state.range(3);
  set_num_threads(threads_of(state, 4));
  const Tensor a = randn({B, M, K});
  const Tensor b = randn({B, K, N});
  const double peak = measure_adjacent_fma_peak_gflops(threads_of(state, 4));
  for (auto _ : state) benchmark::DoNotOptimize(matmul(a, b).data_ptr());
  report_flops_and_adjacent_peak(state, 2.0 * B * M * N * K, peak);
}

// Element-wise over 16M floats; bytes counted as STREAM does (each array
// read or written once). Arg: threads.
void BM_add(benchmark::State& state) {
  set_num_threads(threads_of(state, 0));
  const Tensor a = randn({kElementwiseN}), b = randn({kElementwiseN});
  for (auto _ : state) benchmark::DoNotOptimize(add(a, b).data_ptr());
  report_bytes(state, 3.0 * 4 * kElementwiseN);
}

void BM_mul(benchmark::State& state) {
  set_num_threads(threads_of(state, 0));
  const Tensor a = randn({kElementwiseN}), b = randn({kElementwiseN});
  for (auto _ : state) benchmark::DoNotOptimize(mul(a, b).data_ptr());
  report_bytes(state, 3.0 * 4 * kElementwiseN);
}

void BM_gelu(benchmark::State& state) {
  set_num_threads(threads_of(state, 0));
  const Tensor a = randn({kElementwiseN});
  for (auto _ : state) benchmark::DoNotOptimize(gelu(a).data_ptr());
  report_bytes(state, 2.0 * 4 * kElementwiseN);
}

void BM_gelu_backward(benchmark::State& state) {
  set_num_threads(threads_of(state, 0));
  const Tensor grad = randn({kElementwiseN}), x = randn({kElementwiseN});
  for (auto _ : state) benchmark::DoNotOptimize(gelu_backward(grad, x).data_ptr());
  report_bytes(state, 3.0 * 4 * kElementwiseN);
}

// Row workloads over [8192, 256] floats.
constexpr int64_t kRows = 8192, kCols = 256;

void BM_row_sum(benchmark::State& state) {
  set_num_threads(threads_of(state, 0));
  const Tensor x = randn({kRows, kCols});
  for (auto _ : state) benchmark::DoNotOptimize(x.sum({1}).data_ptr());
  report_bytes(state, 4.0 * kRows * (kCols + 1));
}

void BM_softmax(benchmark::State& state) {
  set_num_threads(threads_of(state, 0));
  const Tensor x = randn({kRows, kCols});
  for (auto _ : state) benchmark::DoNotOptimize(softmax(x, -1).data_ptr());
  report_bytes(state, 2.0 * 4 * kRows * kCols);
}

void BM_layer_norm(benchmark::State& state) {
  set_num_threads(threads_of(state, 0));
  const Tensor x = randn({kRows, kCols});
  const Tensor w = randn({kCols}), b = randn({kCols});
  for (auto _ : state) benchmark::DoNotOptimize(layer_norm(x, {kCols}, w, b).data_ptr());
  report_bytes(state, 2.0 * 4 * kRows * kCols);
}

// The fixed cost of one op: a 1-element add, output allocation included.
void BM_tiny_add(benchmark::State& state) {
  set_num_threads(threads_of(state, 0));
  const Tensor a = ones({1}), b = ones({1});
  for (auto _ : state) benchmark::DoNotOptimize(add(a, b).data_ptr());
}

// A repeated workload after warm-up: how many page faults and system
// allocations (each large malloc is an mmap) one more iteration costs. The
// caching allocator should make both about zero. Arg: threads.
void BM_steady_state(benchmark::State& state) {
  set_num_threads(threads_of(state, 0));
  const Tensor x = randn({4096, 256}), w = randn({256, 256});
  auto step = [&] { return softmax(gelu(matmul(x, w)), -1).sum({1}); };
  for (int i = 0; i < 3; ++i) step();  // warm-up fills the cache
  const SteadyStateCounters counters;
  for (auto _ : state) benchmark::DoNotOptimize(step().data_ptr());
  counters.report(state);
}

}  // namespace

void register_tensor_benchmarks() {
  const std::vector<std::vector<int64_t>> gemm_shapes = {
      {4096, 256, 256}, {4096, 1024, 256}, {4096, 256, 1024}, {256, 256, 4096}, {1024, 1024, 1024}};
  for (int threads : {1, 2}) {
    for (const auto& s : gemm_shapes) {
      for (int ta : {0, 1}) {
        for (int tb : {0, 1}) {
          timed(benchmark::RegisterBenchmark("sgemm", BM_sgemm))
              ->Args({s[0], s[1], s[2], ta, tb, threads});
        }
      }
    }
    timed(benchmark::RegisterBenchmark("batched_gemm", BM_batched_gemm))
        ->Args({128, 128, 128, 64, threads})
        ->Args({128, 128, 64, 128, threads});
    for (auto [name, fn] : std::vector<std::pair<const char*, void (*)(benchmark::State&)>>{
             {"add", BM_add},
             {"mul", BM_mul},
             {"gelu", BM_gelu},
             {"gelu_backward", BM_gelu_backward},
             {"row_sum", BM_row_sum},
             {"softmax", BM_softmax},
             {"layer_norm", BM_layer_norm},
             {"tiny_add", BM_tiny_add},
             {"steady_state", BM_steady_state}}) {
      timed(benchmark::RegisterBenchmark(name, fn))->Arg(threads);
    }
  }
}

}  // namespace toadstool::bench

int main(int argc, char** argv) {
  using namespace toadstool::bench;
  // The machine, measured in this process, for the ratios in the report.
  for (int threads : {1, 2}) {
    benchmark::AddCustomContext("fma_peak_gflops_t" + std::to_string(threads),
                                std::to_string(measure_fma_peak_gflops(threads)));
    benchmark::AddCustomContext("stream_triad_gbs_t" + std::to_string(threads),
                                std::to_string(measure_stream_triad_gbs(threads)));
    benchmark::AddCustomContext("avx512_bf16_peak_gflops_t" + std::to_string(threads),
                                std::to_string(measure_avx512_bf16_peak_gflops(threads)));
    benchmark::AddCustomContext("amx_bf16_peak_gflops_t" + std::to_string(threads),
                                std::to_string(measure_amx_bf16_peak_gflops(threads)));
  }
  benchmark::AddCustomContext("cpu_isa", toadstool::cpu_isa());
  benchmark::AddCustomContext("cpu_bf16_gemm", toadstool::cpu_bf16_gemm());
  register_tensor_benchmarks();
  register_autograd_benchmarks();
  register_attention_benchmarks();
  register_optim_benchmarks();
  register_nn_benchmarks();
  register_trainer_benchmarks();
  register_text_benchmarks();
  register_bf16_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
