// CUDA fused attention (kernels/cuda/attention.cu) against the CPU's:
// output and the gradients of q, k and v through autograd, with strided
// queries, more keys than one tile, a causal mask, broadcast float and bool
// masks (fully masked rows included), a custom scale and dropout, whose mask
// must be the CPU's exactly for the same generator state; and the same bits
// twice.
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

// q [2, 3, L, 16] with its rows 48 elements apart (a transposed view, made
// on each device: a copy to the GPU would be contiguous), k [2, 3, S, 16],
// v [2, 3, S, 24].
Inputs make_inputs(DType dtype, int64_t L, int64_t S, uint64_t seed) {
  Generator g(seed);
  Inputs in;
  in.q = randn({2, L, 3, 16}, dtype, &g);
  in.k = randn({2, 3, S, 16}, dtype, &g);
  in.v = randn({2, 3, S, 24}, dtype, &g);
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
  (out * randn(out.shape(), out.dtype(), &weights).to(device)).sum().backward();
  return {out.detach().to(kCPU), q_rows.grad().to(kCPU), k.grad().to(kCPU), v.grad().to(kCPU)};
}

void expect_parity(const Inputs& in, const std::string& what) {
  SCOPED_TRACE(what + " on " + dtype_name(in.q.dtype()));
  const auto expected = run(in, kCPU), actual = run(in, kCuda);
  const double tol = in.q.dtype() == kFloat32 ? 5e-5 : 1e-10;
  const char* names[] = {"out", "grad_q", "grad_k", "grad_v"};
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(names[i]);
    testing::expect_close(actual[i], expected[i], tol, tol);
  }
}

TEST(CudaAttention, MatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : {kFloat32, kFloat64}) {
    // 150 keys: two key tiles; 37 queries.
    expect_parity(make_inputs(dtype, 37, 150, 1), "plain");
    Inputs scaled = make_inputs(dtype, 37, 150, 2);
    scaled.options.scale = 0.3;
    expect_parity(scaled, "custom scale");
    Inputs causal = make_inputs(dtype, 140, 140, 3);
    causal.options.is_causal = true;
    expect_parity(causal, "causal");
    // A float mask [L, S] broadcast over batch and heads (stride 0).
    Inputs masked = make_inputs(dtype, 37, 150, 4);
    Generator g(40);
    masked.options.attn_mask = randn({37, 150}, dtype, &g);
    expect_parity(masked, "float mask");
    // A key-padding bool mask [2, 1, 1, S]; and rows with no key at all.
    Inputs padded = make_inputs(dtype, 37, 150, 5);
    Tensor keep = ones({2, 1, 1, 150}, kBool);
    keep.slice(3, 100, 150).select(0, 1).fill_(false);
    padded.options.attn_mask = keep;
    expect_parity(padded, "key padding");
    Inputs empty_rows = make_inputs(dtype, 37, 150, 6);
    Tensor rows = ones({37, 150}, kBool);
    for (int64_t row : {0, 20}) rows.select(0, row).fill_(false);
    empty_rows.options.attn_mask = rows;
    expect_parity(empty_rows, "fully masked rows");
  }
}

// Dropout draws the CPU's keep bits (Philox at the score's flat index), so
// with the same generator state the two devices drop the same weights.
TEST(CudaAttention, DropoutMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : {kFloat32, kFloat64}) {
    Inputs in = make_inputs(dtype, 37, 150, 7);
    in.options.dropout_p = 0.3;
    in.dropout_seed = 1234;
    expect_parity(in, "dropout");
    in.options.is_causal = true;
    expect_parity(in, "dropout, causal");
  }
}

// The packed self-attention form: its gradient is written through views of
// one [B, L, 3E] tensor (the kernel's gradient layouts).
TEST(CudaAttention, PackedMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : {kFloat32, kFloat64}) {
    SCOPED_TRACE(dtype_name(dtype));
    Generator g(8);
    const Tensor qkv0 = randn({2, 37, 3 * 32}, dtype, &g);
    const Tensor weights = randn({2, 37, 32}, dtype, &g);
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
    const double tol = dtype == kFloat32 ? 5e-5 : 1e-10;
    testing::expect_close(out, want_out, tol, tol);
    testing::expect_close(grad, want_grad, tol, tol);
  }
}

TEST(CudaAttention, TheSameInputGivesTheSameBits) {
  SKIP_WITHOUT_GPU();
  Inputs in = make_inputs(kFloat32, 64, 300, 8);
  in.options.dropout_p = 0.1;
  in.dropout_seed = 3;
  const auto first = run(in, kCuda), second = run(in, kCuda);
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(testing::values(first[i]), testing::values(second[i])) << "output " << i;
  }
}

}  // namespace
}  // namespace toadstool
