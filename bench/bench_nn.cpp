// The nn workloads of scripts/bench.sh: a training step of the IMDB
// TransformerClassifier (its default options: vocabulary 20,000, d_model 128,
// 4 heads, 2 post-norm layers, feed-forward 512, ReLU, dropout 0.1, mean
// pooling, 2 classes), batch 32 of sequence 256, and the pieces of that step
// timed alone with the model's shapes (docs/benchmarks_nn.md).
// bench/pytorch_workloads.py (transformer_step_workload) is the twin.
#include <malloc.h>

#include <fstream>
#include <string>

#include "bench/bench_util.h"
#include "toadstool/toadstool.h"

namespace toadstool::bench {

namespace {

constexpr int64_t kBatch = 32, kSeq = 256, kVocab = 20000, kModel = 128, kHeads = 4, kLayers = 2,
                  kFeedForward = 512, kClasses = 2;
constexpr int64_t kTokens = kBatch * kSeq;

// Useful FLOPs of one training step, counted on the full [32, 256] batch
// (padding included, as a dense step computes it; since the classifier
// packs its real tokens, docs/nn.md, ours computes about three quarters of
// them, so its rate is a dense-equivalent one). Forward matmuls per
// layer, with N = B * L tokens:
//   in_proj 2 N d (3d) + out_proj 2 N d d + linear1 2 N d ff + linear2 2 N ff d
//   + attention q k^T 2 B L L d + p v 2 B L L d
// plus the head 2 B d C. A training step is 3x the forward (backward: one
// product for the input's gradient, one for the weight's), so
//   FLOPs = 3 * (layers * (2 N (4 d^2 + 2 d ff) + 4 B L^2 d) + 2 B d C)
// = 25.8 GFLOP. Embedding, layer norm, softmax, element-wise and the
// optimizer are not counted.
constexpr double kForwardFlops =
    kLayers * (2.0 * kTokens * (4.0 * kModel * kModel + 2.0 * kModel * kFeedForward) +
               4.0 * kBatch * kSeq * kSeq * kModel) +
    2.0 * kBatch * kModel * kClasses;
constexpr double kStepFlops = 3.0 * kForwardFlops;

// Sequence b has its last 4 b tokens padded (id 0): 256 down to 132 real tokens.
Tensor token_ids() {
  Generator gen(3);
  const Tensor ids = randint(1, kVocab, {kBatch, kSeq}, kInt64, &gen);
  const Tensor lengths = sub(full({kBatch, 1}, kSeq, kInt64), arange(kBatch).view({kBatch, 1}) * 4);
  return masked_fill(ids, ge(arange(kSeq).view({1, kSeq}), lengths), 0);
}

long proc_status_kb(const char* key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(key) + ":";
  while (std::getline(status, line)) {
    if (line.rfind(prefix, 0) == 0) return std::stol(line.substr(prefix.size()));
  }
  return -1;
}

// Peak RSS growth over one call of `fn`, in bytes: resets the high-water mark
// (clear_refs 5), runs fn, returns VmHWM - VmRSS before. The same figure as
// bench/pytorch_workloads.py measures for PyTorch.
template <class Fn>
double peak_rss_growth(Fn&& fn) {
  std::ofstream("/proc/self/clear_refs") << "5";
  const long before = proc_status_kb("VmRSS");
  fn();
  return 1024.0 * static_cast<double>(proc_status_kb("VmHWM") - before);
}

struct TransformerStep {
  std::shared_ptr<nn::TransformerClassifier> model;
  nn::CrossEntropyLoss loss_fn;
  std::unique_ptr<optim::AdamW> optimizer;
  Tensor ids = token_ids();
  Tensor labels;

  TransformerStep() {
    manual_seed(0);
    model = std::make_shared<nn::TransformerClassifier>();
    model->train();
    optimizer = std::make_unique<optim::AdamW>(model->parameters());
    Generator gen(4);
    labels = randint(0, kClasses, {kBatch}, kInt64, &gen);
  }
  // bf16: the forward and the loss under CPU autocast to bfloat16 (the
  // trainer's precision = "bf16-mixed"), float32 weights and optimizer.
  bool bf16 = false;

  void operator()() {
    optimizer->zero_grad();
    Tensor loss;
    {
      Autocast autocast(DeviceType::CPU, kBFloat16, /*enabled=*/bf16);
      loss = loss_fn(model->forward(ids), labels);
    }
    loss.backward();
    optimizer->step();
  }
};

// Arg: threads. Counters: GFLOP/s (useful FLOPs, above), page faults and
// system allocations per step, the peak RSS growth over one step with the
// allocator's cache emptied and glibc trimmed first (PyTorch: glibc trimmed),
// and the allocator's peak bytes over that step.
void run_transformer_step(benchmark::State& state, bool bf16) {
  set_num_threads(threads_of(state, 0));
  TransformerStep step;
  step.bf16 = bf16;
  step();  // warm-up: optimizer state, the allocator's cache
  step();
  empty_cache();
  malloc_trim(0);  // the cache's blocks came from glibc (aligned_alloc)
  reset_peak_memory_stats();
  const double rss = peak_rss_growth(step);
  const double allocator_peak = static_cast<double>(memory_stats().peak_bytes);
  step();  // refill the cache
  const SteadyStateCounters counters;
  for (auto _ : state) step();
  counters.report(state);
  report_flops(state, kStepFlops);
  state.counters["peak_rss_growth_MB"] = rss / (1 << 20);
  state.counters["allocator_peak_MB"] = allocator_peak / (1 << 20);
}

void BM_transformer_step(benchmark::State& state) { run_transformer_step(state, false); }
// The same step in bf16-mixed; its GEMMs take the bf16 path chosen for this
// CPU (cpu_bf16_gemm(), recorded in the run's context).
void BM_transformer_step_bf16(benchmark::State& state) { run_transformer_step(state, true); }

// --- The step's pieces, timed alone with the model's shapes ---------------------

// All matmuls of the step's Linear layers, forward and backward, without
// autograd: per layer and per projection [N, in] x [in, out]: y = x w^T,
// dx = dy w, dw = dy^T x.
void BM_transformer_gemms(benchmark::State& state) {
  set_num_threads(threads_of(state, 0));
  Generator gen(5);
  struct Proj {
    Tensor x, w, dy;
  };
  std::vector<Proj> projs;
  for (auto [in, out] : {std::pair{kModel, 3 * kModel},
                         {kModel, kModel},
                         {kModel, kFeedForward},
                         {kFeedForward, kModel}}) {
    projs.push_back({randn({kTokens, in}, kFloat32, &gen), randn({out, in}, kFloat32, &gen),
                     randn({kTokens, out}, kFloat32, &gen)});
  }
  NoGradGuard no_grad;
  auto run = [&] {
    for (int layer = 0; layer < kLayers; ++layer) {
      for (const Proj& p : projs) {
        benchmark::DoNotOptimize(matmul(p.x, p.w.t()).data_ptr());
        benchmark::DoNotOptimize(matmul(p.dy, p.w).data_ptr());
        benchmark::DoNotOptimize(matmul(p.dy.t(), p.x).data_ptr());
      }
    }
  };
  run();
  for (auto _ : state) run();
}

// The attention op forward + backward for the 2 layers, as MultiheadAttention
// calls it: q, k, v strided head views of one [B, L, 3E] tensor, the
// key-padding mask, dropout 0.1.
void BM_transformer_attention(benchmark::State& state) {
  set_num_threads(threads_of(state, 0));
  Generator gen(6);
  const Tensor qkv = randn({kBatch, kSeq, 3 * kModel}, kFloat32, &gen).requires_grad_();
  const Tensor grad_out = randn({kBatch, kHeads, kSeq, kModel / kHeads}, kFloat32, &gen);
  const Tensor padding = eq(token_ids(), scalar_tensor(0));
  AttentionOptions options;
  options.attn_mask = logical_not(padding).view({kBatch, 1, 1, kSeq});
  options.dropout_p = 0.1;
  auto heads = [&](int64_t part) {
    return qkv.narrow(2, part * kModel, kModel)
        .view({kBatch, kSeq, kHeads, kModel / kHeads})
        .transpose(1, 2);
  };
  auto run = [&] {
    for (int layer = 0; layer < kLayers; ++layer) {
      scaled_dot_product_attention(heads(0), heads(1), heads(2), options).backward(grad_out);
      qkv.zero_grad();
    }
  };
  run();
  for (auto _ : state) run();
}

// The AdamW step alone on the model's parameters (gradients set once).
void BM_transformer_adamw(benchmark::State& state) {
  set_num_threads(threads_of(state, 0));
  TransformerStep step;
  step();
  for (auto _ : state) step.optimizer->step();
}

// Conv2d forward + backward on a ResNet stage's shape (issue 20's target):
// x [32, 64, 56, 56] -> 64 channels, 3 x 3, padding 1, the gradients of
// input, weight and bias. bench/pytorch_workloads.py (conv2d_workload) is
// the twin.
void BM_conv2d_resnet(benchmark::State& state) {
  set_num_threads(threads_of(state, 0));
  manual_seed(7);
  nn::Conv2d conv(64, 64, {3}, {.padding = {1}});
  Generator gen(8);
  const Tensor x = randn({32, 64, 56, 56}, kFloat32, &gen).requires_grad_();
  const Tensor grad_out = randn({32, 64, 56, 56}, kFloat32, &gen);
  auto run = [&] {
    conv.forward(x).backward(grad_out);
    x.zero_grad();
    conv.zero_grad();
  };
  run();
  for (auto _ : state) run();
}

// LSTM forward + backward on issue 20's shape: batch 32, sequence 256,
// input 256, hidden 256, one layer, batch first; the gradients of the input
// and every parameter. bench/pytorch_workloads.py (lstm_workload) is the
// twin.
void BM_lstm(benchmark::State& state) {
  set_num_threads(threads_of(state, 0));
  manual_seed(7);
  nn::LSTM lstm(256, 256, {.batch_first = true});
  Generator gen(8);
  const Tensor x = randn({32, 256, 256}, kFloat32, &gen).requires_grad_();
  const Tensor grad_out = randn({32, 256, 256}, kFloat32, &gen);
  auto run = [&] {
    lstm.forward(x).first.backward(grad_out);
    x.zero_grad();
    lstm.zero_grad();
  };
  run();
  for (auto _ : state) run();
}

}  // namespace

void register_nn_benchmarks() {
  for (int threads : {1, 2}) {
    for (auto [name, fn] : std::vector<std::pair<const char*, void (*)(benchmark::State&)>>{
             {"transformer_step", BM_transformer_step},
             {"transformer_step_bf16", BM_transformer_step_bf16},
             {"transformer_gemms", BM_transformer_gemms},
             {"transformer_attention", BM_transformer_attention},
             {"transformer_adamw", BM_transformer_adamw},
             {"conv2d_resnet", BM_conv2d_resnet},
             {"lstm", BM_lstm}}) {
      timed(benchmark::RegisterBenchmark(name, fn))->Arg(threads);
    }
  }
}

}  // namespace toadstool::bench
