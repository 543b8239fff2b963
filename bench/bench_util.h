#pragma once
// What every benchmark file of toadstool_bench shares: the thread-count
// argument, the rate counters, and the best-of-five repetition policy.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <algorithm>
#include <vector>

#include "toadstool/tensor/allocator.h"

namespace toadstool::bench {

// The thread count is one of each benchmark's arguments.
inline int threads_of(const benchmark::State& state, int index) {
  return static_cast<int>(state.range(index));
}

inline void report_flops(benchmark::State& state, double flops_per_iter) {
  state.counters["GFLOPs"] =
      benchmark::Counter(flops_per_iter * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// report_flops, plus the rate as a fraction of the FMA peak measured just
// before the timed loop (`adjacent_peak_gflops`, from
// measure_adjacent_fma_peak_gflops): bench/report.py shows it next to the
// fraction of the run's own peak.
inline void report_flops_and_adjacent_peak(benchmark::State& state, double flops_per_iter,
                                           double adjacent_peak_gflops) {
  report_flops(state, flops_per_iter);
  state.counters["of_adjacent_peak"] = benchmark::Counter(
      flops_per_iter * 1e-9 / adjacent_peak_gflops, benchmark::Counter::kIsIterationInvariantRate);
}

inline void report_bytes(benchmark::State& state, double bytes_per_iter) {
  state.counters["GBs"] =
      benchmark::Counter(bytes_per_iter * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

inline long minor_page_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// Page faults and system allocations (each large malloc is an mmap) per
// iteration of a repeated workload after warm-up; the caching allocator
// should make both about zero. Construct before the timed loop, report after.
class SteadyStateCounters {
 public:
  SteadyStateCounters()
      : faults_(minor_page_faults()), allocations_(memory_stats().system_allocations) {}
  void report(benchmark::State& state) const {
    const double iterations = static_cast<double>(state.iterations());
    state.counters["page_faults_per_iter"] = (minor_page_faults() - faults_) / iterations;
    state.counters["system_allocs_per_iter"] =
        (memory_stats().system_allocations - allocations_) / iterations;
  }

 private:
  long faults_;
  int64_t allocations_;
};

// Five timed repetitions of every benchmark, reported as aggregates only:
// the best one ("min" time, "max" rate) is what bench/report.py uses, the
// same best-of-five that bench/pytorch_workloads.py applies to PyTorch.
inline benchmark::internal::Benchmark* timed(benchmark::internal::Benchmark* b) {
  return b->UseRealTime()
      ->MinTime(0.1)
      ->Repetitions(5)
      ->ReportAggregatesOnly(true)
      ->ComputeStatistics(
          "min", [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); })
      ->ComputeStatistics("max", [](const std::vector<double>& v) {
        return *std::max_element(v.begin(), v.end());
      });
}

// Registration, one function per benchmark file.
void register_tensor_benchmarks();
void register_autograd_benchmarks();
void register_attention_benchmarks();
void register_optim_benchmarks();
void register_nn_benchmarks();
void register_trainer_benchmarks();
void register_text_benchmarks();
void register_bf16_benchmarks();

}  // namespace toadstool::bench
