// CUDA fused attention (the tiled kernels of attention_tiled_kernels.cuh
// for float32, bfloat16 and float16, the fixed-order ones of attention.cu
// for float64 and the calls the tiled ones do not take) against the CPU's: output and the gradients
// of q, k and v through autograd, with strided queries, more keys than one tile, a causal mask,
// broadcast float and bool masks (fully masked rows included), a custom scale and dropout, whose
// mask must be the CPU's exactly for the same generator state; and the same bits twice.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "cuda_test_util.h"

namespace toadstool {
namespace {

using testing::kCuda;

struct Inputs {
  Tensor q, k, v;  // q as stored: [2, L, 3, 16] (run() views it as [2, 3, L, 16])
  AttentionOptions options;
  uint64_t dropout_seed = 0;  // the generator's seed when options.dropout_p > 0
};

// q [2, 3, L, E] with its rows 3 E elements apart (a transposed view, made
// on each device: a copy to the GPU would be contiguous), k [2, 3, S, E],
// v [2, 3, S, Ev]. 16-bit inputs are float32 draws rounded.
Inputs make_inputs(DType dtype, int64_t L, int64_t S, uint64_t seed, int64_t E = 16,
                   int64_t Ev = 24) {
  Generator g(seed);
  Inputs in;
  in.q = randn({2, L, 3, E}, kFloat32, &g).to(dtype);
  in.k = randn({2, 3, S, E}, kFloat32, &g).to(dtype);
  in.v = randn({2, 3, S, Ev}, kFloat32, &g).to(dtype);
  return in;
}

// out, grad_q (as q is stored), grad_k, grad_v on the CPU, for a fixed
// weighting of out.
std::vector<Tensor> run(const Inputs& in, const Device& device) {
  Tensor q_rows = in.q.detach().to(device).requires_grad_();
  const Tensor q = q_rows.transpose(1, 2);
  Tensor k = in.k.detach().to(device).requires_grad_();
  Tensor v = in.v.detach().to(device).requires_grad_();
  AttentionOptions o = in.options;
  if (o.attn_mask.defined()) o.attn_mask = o.attn_mask.to(device);
  Generator g(in.dropout_seed);
  o.generator = &g;
  const Tensor out = scaled_dot_product_attention(q, k, v, o);
  Generator weights(99);
  (out * randn(out.shape(), kFloat32, &weights).to(out.dtype()).to(device)).sum().backward();
  return {out.detach().to(kCPU), q_rows.grad().to(kCPU), k.grad().to(kCPU), v.grad().to(kCPU)};
}

// The largest finite |value| of t.
double largest(const Tensor& t) {
  double m = 0;
  for (double v : testing::values(t)) {
    if (std::isfinite(v)) m = std::max(m, std::abs(v));
  }
  return m;
}

// float32 and float64 within a few rounding errors. 16-bit results round
// in different places on the two devices (the GPU's tensor-core kernels
// round P and dS to 16 bits before their products, as the CPU's bfloat16
// GEMM path does; the CPU's widened path does not): within a fraction of
// the largest value (the warp-emulated kernels' worst errors against
// float64 were 3.6e-3 in bfloat16 and 3.1e-4 in float16 of it).
void expect_matches(const Tensor& actual, const Tensor& expected) {
  const DType dtype = expected.dtype();
  ASSERT_EQ(actual.dtype(), dtype);
  if (dtype == kFloat32 || dtype == kFloat64) {
    const double tol = dtype == kFloat32 ? 5e-5 : 1e-10;
    testing::expect_close(actual, expected, tol, tol);
  } else {
    const double tol = dtype == kBFloat16 ? 2e-2 : 3e-3;
    testing::expect_close(actual, expected, tol, tol * largest(expected));
  }
}

void expect_attention_parity(const Inputs& in, const std::string& what) {
  SCOPED_TRACE(what + " on " + dtype_name(in.q.dtype()));
  const auto expected = run(in, kCPU), actual = run(in, kCuda);
  const char* names[] = {"out", "grad_q", "grad_k", "grad_v"};
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(names[i]);
    expect_matches(actual[i], expected[i]);
  }
}

TEST(CudaAttention, MatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : {kFloat32, kFloat64, kBFloat16, kFloat16}) {
    // 150 keys: two key tiles; 37 queries.
    expect_attention_parity(make_inputs(dtype, 37, 150, 1), "plain");
    Inputs scaled = make_inputs(dtype, 37, 150, 2);
    scaled.options.scale = 0.3;
    expect_attention_parity(scaled, "custom scale");
    Inputs causal = make_inputs(dtype, 140, 140, 3);
    causal.options.is_causal = true;
    expect_attention_parity(causal, "causal");
    // A float mask [L, S] broadcast over batch and heads (stride 0).
    Inputs masked = make_inputs(dtype, 37, 150, 4);
    Generator g(40);
    masked.options.attn_mask = randn({37, 150}, dtype, &g);
    expect_attention_parity(masked, "float mask");
    // A key-padding bool mask [2, 1, 1, S]; and rows with no key at all.
    Inputs padded = make_inputs(dtype, 37, 150, 5);
    Tensor keep = ones({2, 1, 1, 150}, kBool);
    keep.slice(3, 100, 150).select(0, 1).fill_(false);
    padded.options.attn_mask = keep;
    expect_attention_parity(padded, "key padding");
    // The key padding's hidden queries skipped (skip_padded_queries): the
    // CPU's kernel leaves their rows out, CUDA gets them folded into the
    // mask; rows 0 without gradient both ways. Sequence 1 is padded at the
    // end, at the start and in a gap.
    Inputs skipping = make_inputs(dtype, 140, 140, 7);
    Tensor kept_keys = ones({2, 1, 1, 140}, kBool);
    for (const auto& [from, to] : {std::pair{0, 10}, std::pair{50, 55}, std::pair{90, 140}}) {
      kept_keys.slice(3, from, to).select(0, 1).fill_(false);
    }
    skipping.options.attn_mask = kept_keys;
    skipping.options.skip_padded_queries = true;
    expect_attention_parity(skipping, "padded queries skipped");
    Inputs empty_rows = make_inputs(dtype, 37, 150, 6);
    Tensor rows = ones({37, 150}, kBool);
    for (int64_t row : {0, 20}) rows.select(0, row).fill_(false);
    empty_rows.options.attn_mask = rows;
    expect_attention_parity(empty_rows, "fully masked rows");
  }
}

// Dropout draws the CPU's keep bits (Philox at the score's flat index), so
// with the same generator state the two devices drop the same weights.
TEST(CudaAttention, DropoutMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : {kFloat32, kFloat64, kBFloat16, kFloat16}) {
    Inputs in = make_inputs(dtype, 37, 150, 7);
    in.options.dropout_p = 0.3;
    in.dropout_seed = 1234;
    expect_attention_parity(in, "dropout");
    in.options.is_causal = true;
    expect_attention_parity(in, "dropout, causal");
  }
}

// The head dims: each of the tiled kernels' padded widths (32, 64, 128; E
// and Ev different; L and S whole tiles once), and over 128, which runs the
// fixed-order kernels (16-bit calls on widened float32 copies): plain, with
// a broadcast float mask, causal, and with dropout. (A GPU with less shared
// memory a block than H100's sends the wider tiled calls there too:
// docs/cuda.md.)
TEST(CudaAttention, HeadDimsMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : {kFloat32, kBFloat16, kFloat16}) {
    const std::pair<int64_t, int64_t> dims[] = {{32, 32}, {48, 64}, {128, 96}, {160, 64}};
    for (const auto& [E, Ev] : dims) {
      const std::string what = "E " + std::to_string(E) + ", Ev " + std::to_string(Ev);
      Inputs in = make_inputs(dtype, E == 32 ? 64 : 70, E == 32 ? 128 : 130, 9, E, Ev);
      in.options.is_causal = E == 128;
      expect_attention_parity(in, what);
      if (E != 160) continue;
      Inputs masked = make_inputs(dtype, 70, 130, 10, E, Ev);
      Generator g(41);
      masked.options.attn_mask = randn({70, 130}, kFloat32, &g);
      expect_attention_parity(masked, what + ", float mask");
      Inputs causal = make_inputs(dtype, 70, 70, 11, E, Ev);
      causal.options.is_causal = true;
      expect_attention_parity(causal, what + ", causal");
      Inputs dropped = make_inputs(dtype, 70, 130, 12, E, Ev);
      dropped.options.dropout_p = 0.25;
      dropped.dropout_seed = 77;
      expect_attention_parity(dropped, what + ", dropout");
    }
  }
}

// The packed self-attention form: its gradient is written through views of
// one [B, L, 3E] tensor (the kernel's gradient layouts).
TEST(CudaAttention, PackedMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : {kFloat32, kFloat64, kBFloat16}) {
    SCOPED_TRACE(dtype_name(dtype));
    Generator g(8);
    const Tensor qkv0 = randn({2, 37, 3 * 32}, kFloat32, &g).to(dtype);
    const Tensor weights = randn({2, 37, 32}, kFloat32, &g).to(dtype);
    auto run = [&](const Device& device) {
      Tensor qkv = qkv0.to(device).requires_grad_();
      AttentionOptions o;
      o.is_causal = true;
      const Tensor out = scaled_dot_product_attention_packed(qkv, 4, o);
      (out * weights.to(device)).sum().backward();
      return std::pair{out.detach().to(kCPU), qkv.grad().to(kCPU)};
    };
    const auto [out, grad] = run(kCuda);
    const auto [want_out, want_grad] = run(kCPU);
    expect_matches(out, want_out);
    expect_matches(grad, want_grad);
  }
}

TEST(CudaAttention, TheSameInputGivesTheSameBits) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : {kFloat32, kBFloat16}) {
    SCOPED_TRACE(dtype_name(dtype));
    Inputs in = make_inputs(dtype, 64, 300, 8);
    in.options.dropout_p = 0.1;
    in.dropout_seed = 3;
    const auto first = run(in, kCuda), second = run(in, kCuda);
    for (size_t i = 0; i < first.size(); ++i) {
      EXPECT_EQ(testing::values(first[i]), testing::values(second[i])) << "output " << i;
    }
  }
}

}  // namespace
}  // namespace toadstool
