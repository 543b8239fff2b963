// The trainer's own cost (issue 5, "Benchmarks"; docs/benchmarks_trainer.md):
// the same model, optimizer and DataLoader stepped by a hand-written loop and
// by Trainer::fit, measured in alternation inside one benchmark.
//
// The two sides differ by about 1% or a few microseconds, less than this
// VM's drift over a minute, so timing them as two Google Benchmark entries
// (minutes apart) would measure the drift. Instead one entry runs ROUNDS
// rounds; a round times one epoch of each side back to back (the order
// swapped every round), and the figures are medians over rounds of the
// per-round ratio and difference. Each side continues training the same
// model, so both see the same weights, optimizer state and allocator cache.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "bench/bench_util.h"
#include "toadstool/toadstool.h"
#include "toadstool/train/data/dataloader.h"

namespace toadstool::bench {

namespace {

using Callbacks = std::vector<std::shared_ptr<train::Callback>>;

// A model, its optimizer and loss, and a shuffled loader over random data of
// the workload's shapes (only the step cost matters, not what is learned).
struct Workload {
  std::shared_ptr<nn::UnaryModule> model;
  std::shared_ptr<optim::Optimizer> optimizer;
  std::shared_ptr<nn::Loss> loss;
  std::unique_ptr<train::DataLoader> loader;
};

std::unique_ptr<train::DataLoader> shuffled_loader(Tensor x, Tensor y, int64_t batch_size) {
  train::DataLoaderOptions options;
  options.batch_size = batch_size;
  options.shuffle = true;
  options.seed = 1;
  return std::make_unique<train::DataLoader>(
      std::make_shared<train::TensorDataset>(std::move(x), std::move(y)), options);
}

// The Fashion-MNIST MLP of examples/fashion_mnist: 784-512-256-10, ReLU,
// Adam (lr 1e-3), cross-entropy, batch 128. 20 batches an epoch (a real one
// has 469): short rounds keep the two sides close in time, so the machine's
// drift cancels in their ratio; fit()'s per-epoch cost is still well under
// 0.1% of such an epoch.
constexpr int64_t kMlpBatch = 128, kMlpBatches = 20;
Workload fashion_mnist_mlp() {
  manual_seed(0);
  Workload w;
  w.model = std::make_shared<nn::MLP>(std::vector<int64_t>{784, 512, 256, 10});
  w.optimizer = std::make_shared<optim::Adam>(w.model->parameters());
  w.loss = std::make_shared<nn::CrossEntropyLoss>();
  Generator gen(1);
  const int64_t n = kMlpBatch * kMlpBatches;
  w.loader =
      shuffled_loader(rand({n, 784}, kFloat32, &gen), randint(0, 10, {n}, kInt64, &gen), kMlpBatch);
  return w;
}

// A model whose step costs a few microseconds, so that the trainer's fixed
// per-step cost shows: Linear(4, 1), SGD (lr 0.01), MSE, batch 8; 1000
// batches an epoch. The targets are linear in x, so the loss stays finite.
constexpr int64_t kTinyBatch = 8, kTinyBatches = 1000;
Workload tiny_linear() {
  manual_seed(0);
  Workload w;
  w.model = std::make_shared<nn::Linear>(4, 1);
  w.optimizer = std::make_shared<optim::SGD>(w.model->parameters(), optim::SGDOptions{.lr = 0.01});
  w.loss = std::make_shared<nn::MSELoss>();
  Generator gen(2);
  const int64_t n = kTinyBatch * kTinyBatches;
  const Tensor x = randn({n, 4}, kFloat32, &gen);
  const Tensor y = matmul(x, arange(1, 5).to(kFloat32).reshape({4, 1})) + 0.5;
  w.loader = shuffled_loader(x, y, kTinyBatch);
  return w;
}

// (a) The loop a user would write without the trainer, over the same loader.
void hand_epoch(Workload& w) {
  w.model->train();
  for (const train::Batch& batch : *w.loader) {
    const Tensor loss = w.loss->forward(w.model->forward(batch.x), batch.y);
    loss.backward();
    w.optimizer->step();
    w.optimizer->zero_grad();
  }
}

// (b), (c) One epoch of Trainer::fit with its default options.
void trainer_epoch(train::Trainer& trainer, Workload& w) { trainer.fit(1, *w.loader); }

// A callback that implements every per-batch hook and does nothing: what
// the hook calls themselves cost, apart from any callback's own work.
class EmptyCallback : public train::CallbackBase<EmptyCallback> {
 public:
  void begin_batch(train::Trainer&) override {}
  void after_pred(train::Trainer&) override {}
  void after_loss(train::Trainer&) override {}
  void after_backward(train::Trainer&) override {}
  void begin_optim(train::Trainer&) override {}
  void after_step(train::Trainer&) override {}
  void after_batch(train::Trainer&) override {}
};
constexpr int kEmptyCallbacks = 5;

// The q-quantile of `values` (0.5: the median), by linear interpolation.
double quantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const double at = q * static_cast<double>(values.size() - 1);
  const size_t below = static_cast<size_t>(at);
  const size_t above = std::min(below + 1, values.size() - 1);
  return values[below] + (at - static_cast<double>(below)) * (values[above] - values[below]);
}
double median(const std::vector<double>& values) { return quantile(values, 0.5); }

// The process's CPU time, not wall time: on this shared VM the benchmark is
// often descheduled for milliseconds, which wall time would count against
// whichever side was running. At 1 thread (and DataLoader workers 0) the
// process's CPU time is the step's time on an idle machine. Wall time is
// kept for reference.
struct Seconds {
  double cpu, wall;
};
double cpu_now() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}
template <class Fn>
Seconds seconds_of(Fn&& fn) {
  const double cpu = cpu_now();
  const auto wall = std::chrono::steady_clock::now();
  fn();
  return {cpu_now() - cpu,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count()};
}

// Args: rounds, threads. One benchmark iteration is the whole interleaved
// measurement; its (manual) time is the trainer's median CPU time per step.
// Counters, medians over rounds, per optimizer step (CPU time unless named):
//   hand_us, trainer_us        the two sides
//   overhead_pct, overhead_us  trainer vs hand: per-round ratio - 1, difference
//   overhead_pct_q1, _q3       the quartiles of the per-round ratio - 1: the
//                              spread that the machine's noise gives
//   wall_overhead_pct          overhead_pct measured in wall time
//   callbacks_overhead_us      the trainer with kEmptyCallbacks empty callbacks
//                              minus the trainer without them
void BM_trainer_overhead(benchmark::State& state, Workload (*make)()) {
  const int rounds = static_cast<int>(state.range(0));
  set_num_threads(threads_of(state, 1));
  Workload w = make();
  train::Trainer plain(w.model, w.optimizer, w.loss);
  Callbacks empties;
  for (int i = 0; i < kEmptyCallbacks; ++i) empties.push_back(std::make_shared<EmptyCallback>());
  train::Trainer with_callbacks(w.model, w.optimizer, w.loss, empties);

  // The three sides of a round (hand, trainer, trainer + callbacks); their
  // order rotates every round so that none always runs first or last.
  const std::vector<std::function<void()>> sides = {[&] { hand_epoch(w); },
                                                    [&] { trainer_epoch(plain, w); },
                                                    [&] { trainer_epoch(with_callbacks, w); }};
  for (const auto& side : sides) side();  // warm-up: optimizer state, allocator cache

  const double steps = static_cast<double>(w.loader->size());
  std::vector<double> hand, trainer, ratio, difference, wall_ratio, callbacks_difference;
  for (auto _ : state) {
    for (int round = 0; round < rounds; ++round) {
      Seconds t[3];
      for (size_t k = 0; k < sides.size(); ++k) {
        const size_t side = (k + round) % sides.size();
        t[side] = seconds_of(sides[side]);
      }
      hand.push_back(t[0].cpu / steps);
      trainer.push_back(t[1].cpu / steps);
      ratio.push_back(t[1].cpu / t[0].cpu);
      difference.push_back((t[1].cpu - t[0].cpu) / steps);
      wall_ratio.push_back(t[1].wall / t[0].wall);
      callbacks_difference.push_back((t[2].cpu - t[1].cpu) / steps);
    }
    state.SetIterationTime(median(trainer));
  }
  state.counters["hand_us"] = 1e6 * median(hand);
  state.counters["trainer_us"] = 1e6 * median(trainer);
  state.counters["overhead_pct"] = 100 * (median(ratio) - 1);
  state.counters["overhead_pct_q1"] = 100 * (quantile(ratio, 0.25) - 1);
  state.counters["overhead_pct_q3"] = 100 * (quantile(ratio, 0.75) - 1);
  state.counters["overhead_us"] = 1e6 * median(difference);
  state.counters["wall_overhead_pct"] = 100 * (median(wall_ratio) - 1);
  state.counters["callbacks_overhead_us"] = 1e6 * median(callbacks_difference);
  state.counters["callbacks"] = kEmptyCallbacks;
  state.counters["rounds"] = rounds;
  state.counters["steps_per_epoch"] = steps;
}

}  // namespace

void register_trainer_benchmarks() {
  // At 1 thread, where CPU time is the step's time (see seconds_of). The
  // MLP's share of overhead would be about twice as large at 2 threads.
  for (auto [name, make, rounds] : {std::tuple{"trainer_mlp", &fashion_mnist_mlp, 61},
                                    std::tuple{"trainer_tiny", &tiny_linear, 41}}) {
    benchmark::RegisterBenchmark(name, BM_trainer_overhead, make)
        ->Args({rounds, 1})
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  }
}

}  // namespace toadstool::bench
