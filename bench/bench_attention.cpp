// Attention at the IMDB Transformer shape: q, k, v [32, 4, 256, 32] with a
// key-padding mask [32, 1, 1, 256], forward + backward, through the fused op
// (scaled_dot_product_attention) and through the unfused composite of
// existing ops (matmul, masked_fill, softmax, matmul). bench/pytorch_workloads.py
// runs the composite in PyTorch under both names (PyTorch 1.13 has no fused op).
#include <cmath>

#include "bench/bench_util.h"
#include "toadstool/toadstool.h"

namespace toadstool::bench {

namespace {

constexpr int64_t kB = 32, kH = 4, kL = 256, kE = 32;

// Nominal FLOPs of forward + backward, counted as FlashAttention does: the
// forward's two products (q k^T, p v) 4 B H L S E, the backward 2.5 times
// that (five products: the scores recomputed, dV, dP, dQ, dK). The composite
// is charged the same, so the rates compare as times do.
constexpr double kFlops = 14.0 * kB * kH * kL * kL * kE;

struct Workload {
  Tensor q, k, v, keep, grad_out;
  Workload() {
    Generator g(1);
    q = randn({kB, kH, kL, kE}, kFloat32, &g).requires_grad_();
    k = randn({kB, kH, kL, kE}, kFloat32, &g).requires_grad_();
    v = randn({kB, kH, kL, kE}, kFloat32, &g).requires_grad_();
    grad_out = randn({kB, kH, kL, kE}, kFloat32, &g);
    // Sequence b has 256 - 4 b real tokens (the IMDB batches are padded).
    const Tensor lengths = sub(full({kB, 1, 1, 1}, kL, kInt64), arange(kB).view({kB, 1, 1, 1}) * 4);
    keep = lt(arange(kL).view({1, 1, 1, kL}), lengths);
  }
  void step(const Tensor& out) {
    out.backward(grad_out);
    for (Tensor* t : {&q, &k, &v}) t->zero_grad();
  }
};

void BM_attention_fused(benchmark::State& state) {
  set_num_threads(threads_of(state, 0));
  Workload w;
  AttentionOptions o;
  o.attn_mask = w.keep;
  w.step(scaled_dot_product_attention(w.q, w.k, w.v, o));  // warm-up
  const SteadyStateCounters counters;
  for (auto _ : state) w.step(scaled_dot_product_attention(w.q, w.k, w.v, o));
  counters.report(state);
  report_flops(state, kFlops);
}

void BM_attention_composite(benchmark::State& state) {
  set_num_threads(threads_of(state, 0));
  Workload w;
  const Tensor padded = logical_not(w.keep);
  const double scale = 1.0 / std::sqrt(static_cast<double>(kE));
  auto forward = [&] {
    Tensor scores = masked_fill(matmul(w.q, w.k.transpose(-1, -2)) * scale, padded,
                                -std::numeric_limits<double>::infinity());
    return matmul(softmax(scores, -1), w.v);
  };
  w.step(forward());
  const SteadyStateCounters counters;
  for (auto _ : state) w.step(forward());
  counters.report(state);
  report_flops(state, kFlops);
}

}  // namespace

void register_attention_benchmarks() {
  for (int threads : {1, 2}) {
    timed(benchmark::RegisterBenchmark("attention_fused", BM_attention_fused))->Arg(threads);
    timed(benchmark::RegisterBenchmark("attention_composite", BM_attention_composite))
        ->Arg(threads);
  }
}

}  // namespace toadstool::bench
