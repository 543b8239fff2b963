// The autograd workloads of scripts/bench.sh: the tape's cost per node, the
// fixed cost of backward(), and a training step of an MLP.
#include <cmath>

#include "bench/bench_util.h"
#include "toadstool/toadstool.h"

namespace toadstool::bench {

namespace {

constexpr int kChainLength = 100;

// x * c * c * ... (100 multiplies) on 1-element tensors, then backward: the
// autograd cost per node is this minus chain_no_grad, over 100. Arg: threads.
void BM_chain_grad(benchmark::State& state) {
  set_num_threads(threads_of(state, 0));
  const Tensor x = ones({1}).requires_grad_();
  const Tensor c = full({1}, 1.0001f);
  for (auto _ : state) {
    Tensor y = x;
    for (int i = 0; i < kChainLength; ++i) y = y * c;
    y.backward();
    x.zero_grad();
  }
}

// The same forward without recording.
void BM_chain_no_grad(benchmark::State& state) {
  set_num_threads(threads_of(state, 0));
  const Tensor x = ones({1}).requires_grad_();
  const Tensor c = full({1}, 1.0001f);
  NoGradGuard no_grad;
  for (auto _ : state) {
    Tensor y = x;
    for (int i = 0; i < kChainLength; ++i) y = y * c;
    benchmark::DoNotOptimize(y.data_ptr());
  }
}

// backward() of a one-node graph (y = x * 2, kept with retain_graph), the
// leaf's gradient set to none each time so that it is created afresh.
void BM_backward_one_node(benchmark::State& state) {
  set_num_threads(threads_of(state, 0));
  const Tensor x = ones({1}).requires_grad_();
  const Tensor y = x * 2;
  for (auto _ : state) {
    y.backward({}, /*retain_graph=*/true);
    x.zero_grad();
  }
}

// One SGD step of an MLP 784-1024-1024-10 (ReLU), batch 128, cross-entropy:
// forward, backward, update. Weights are [in, out] (x @ w), as in the
// PyTorch twin. Arg: threads.
void BM_mlp_step(benchmark::State& state) {
  set_num_threads(threads_of(state, 0));
  Generator gen(1);
  const Tensor x = randn({128, 784}, kFloat32, &gen);
  const Tensor y = randint(0, 10, {128, 1}, kInt64, &gen);
  std::vector<Tensor> params;
  for (auto [in, out] : {std::pair{784, 1024}, {1024, 1024}, {1024, 10}}) {
    params.push_back((randn({in, out}, kFloat32, &gen) * (1.0 / std::sqrt(in))).requires_grad_());
    params.push_back(zeros({out}).requires_grad_());
  }
  auto step = [&] {
    Tensor h = relu(matmul(x, params[0]) + params[1]);
    h = relu(matmul(h, params[2]) + params[3]);
    const Tensor logits = matmul(h, params[4]) + params[5];
    const Tensor loss = -gather(log_softmax(logits, 1), 1, y).mean();
    loss.backward();
    NoGradGuard no_grad;
    for (Tensor& p : params) {
      p.sub_(p.grad(), 0.01);
      p.zero_grad();
    }
  };
  step();  // warm-up: the allocator's cache
  const SteadyStateCounters counters;
  for (auto _ : state) step();
  counters.report(state);
}

// cross_entropy forward + backward on float32 logits [2048, 8192] (mean over
// the batch, the usual training loss). Rate: logits traffic, 3 * 4 bytes per
// logit (the forward reads them, the backward reads them and writes their
// gradient). The PyTorch twin is F.cross_entropy. Arg: threads.
constexpr int64_t kLossRows = 2048, kLossClasses = 8192;
void BM_cross_entropy(benchmark::State& state) {
  set_num_threads(threads_of(state, 0));
  Generator gen(2);
  const Tensor logits = randn({kLossRows, kLossClasses}, kFloat32, &gen).requires_grad_();
  const Tensor target = randint(0, kLossClasses, {kLossRows}, kInt64, &gen);
  auto step = [&] {
    cross_entropy(logits, target).backward();
    benchmark::DoNotOptimize(logits.grad().data_ptr());
    logits.zero_grad();
  };
  step();  // warm-up: the allocator's cache
  const SteadyStateCounters counters;
  for (auto _ : state) step();
  report_bytes(state, 3.0 * kLossRows * kLossClasses * sizeof(float));
  counters.report(state);
}

}  // namespace

void register_autograd_benchmarks() {
  for (int threads : {1, 2}) {
    for (auto [name, fn] : std::vector<std::pair<const char*, void (*)(benchmark::State&)>>{
             {"chain_grad", BM_chain_grad},
             {"chain_no_grad", BM_chain_no_grad},
             {"backward_one_node", BM_backward_one_node},
             {"mlp_step", BM_mlp_step},
             {"cross_entropy", BM_cross_entropy}}) {
      timed(benchmark::RegisterBenchmark(name, fn))->Arg(threads);
    }
  }
}

}  // namespace toadstool::bench
