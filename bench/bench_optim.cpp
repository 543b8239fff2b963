// The optimizer workload of scripts/bench.sh: one AdamW step over 16M float32
// parameters (one tensor). The step is memory-bound: it reads param, grad,
// exp_avg, exp_avg_sq and writes param, exp_avg, exp_avg_sq, 7 x 4 bytes per
// element, reported as GB/s so bench/report.py shows it as a fraction of the
// STREAM triad measured in the same run. bench/pytorch_workloads.py times
// torch.optim.AdamW on the same tensor (foreach=False, and the default).
#include "bench/bench_util.h"
#include "toadstool/nn/optim/adam.h"
#include "toadstool/toadstool.h"

namespace toadstool::bench {

namespace {

constexpr int64_t kAdamWElements = 16 * 1024 * 1024;

// Arg: threads.
void BM_adamw_step(benchmark::State& state) {
  set_num_threads(threads_of(state, 0));
  Tensor param = randn({kAdamWElements}).requires_grad_();
  param.set_grad(randn({kAdamWElements}));
  optim::AdamWOptions options;
  options.lr = 1e-3;
  optim::AdamW adamw({param}, options);
  adamw.step();  // creates the state (first touch of exp_avg, exp_avg_sq)
  for (auto _ : state) adamw.step();
  report_bytes(state, 7.0 * 4.0 * static_cast<double>(kAdamWElements));
}

}  // namespace

void register_optim_benchmarks() {
  for (int threads : {1, 2}) {
    timed(benchmark::RegisterBenchmark("adamw_step", BM_adamw_step))->Arg(threads);
  }
}

}  // namespace toadstool::bench
