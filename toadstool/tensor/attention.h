#pragma once
// scaled_dot_product_attention's options and its native front-ends (no
// gradients; the differentiable op is toadstool::scaled_dot_product_attention
// in autograd/ops.h). Semantics of torch.nn.functional.
// scaled_dot_product_attention (PyTorch 2.x), shapes:
//
//   q [..., L, E], k [..., S, E], v [..., S, Ev]  (same leading dims)
//   out [..., L, Ev]
//
// The CPU kernel and its algorithm: kernels/cpu/attention.h; decisions:
// docs/attention.md.
#include <optional>

#include "toadstool/tensor/generator.h"
#include "toadstool/tensor/tensor.h"

namespace toadstool {

struct AttentionOptions {
  // Optional, broadcastable to [..., L, S]: bool (true = the key takes part)
  // or floating (added to the scores). E.g. a key-padding mask [B, 1, 1, S]
  // or a causal [L, S]. Receives no gradient.
  Tensor attn_mask;
  // Query i attends to keys j <= i (top-left aligned, as PyTorch). An Error
  // together with attn_mask.
  bool is_causal = false;
  // Probability in [0, 1) of dropping each attention weight (survivors scale
  // by 1 / (1 - p)), drawn from `generator` (default: the global one).
  double dropout_p = 0;
  std::optional<double> scale;  // default 1 / sqrt(E)
  Generator* generator = nullptr;
  // For self-attention over a padded batch whose padded positions' outputs
  // are never read (packed tokens, nn/packed_tokens.h): the queries at the
  // positions that attn_mask hides as keys are skipped, their output rows 0
  // and without gradient, as rows that see no key. attn_mask must be one
  // row for every query ([..., 1, S]), and L == S.
  bool skip_padded_queries = false;
  // Self-attention over packed sequences, without padding
  // (scaled_dot_product_attention_packed only, on the CPU): qkv is [N, 3E]
  // and the output [N, E], the tokens of B sequences one after another,
  // sequence b in rows [sequence_offsets[b], sequence_offsets[b + 1])
  // (int64 [B + 1] on the CPU: 0, non-decreasing, N). Each attends within
  // itself, as a batch [B, sequence_length, 3E] padded at the end with its
  // key padding and skip_padded_queries would: the same values, dropout
  // included (drawn over the padded [B, H, L, L] scores). No attn_mask, not
  // causal.
  Tensor sequence_offsets;
  int64_t sequence_length = 0;  // L, at least every sequence's length
};

namespace native {

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& options = {});

// The forward with what its backward needs: out in the compute dtype
// (float32 or float64; float16 / bfloat16 inputs compute in float32, and on
// the CPU out stays in their dtype; with
// two or more leading dims [B, H, ...] laid out as [B, L, H, Ev], so that
// merging the heads is a view), the
// log-sum-exp of each score row lse [..., L] (+inf on rows whose every key is
// masked) and the generator state its dropout mask was drawn from.
struct AttentionForward {
  Tensor out, lse;
  Generator::State dropout_state;
  // With dropout on the CPU: the keep bit of every score the kernel
  // computes (int64 words, kernels::AttentionArgs::keep_bits; those of
  // skipped tiles and rows are left unwritten), so the backward draws nothing; only
  // up to 16 MiB of bits (2^27 scores), beyond which the backward draws again.
  Tensor keep_bits;
};
AttentionForward scaled_dot_product_attention_forward(const Tensor& q, const Tensor& k,
                                                      const Tensor& v,
                                                      const AttentionOptions& options);

// Gradients of q, k and v (in their dtypes) from grad_out [..., L, Ev] and
// the forward's results; options as given to the forward (its generator is
// not used: the mask comes back from dropout_state).
struct AttentionGrads {
  Tensor q, k, v;
};
AttentionGrads scaled_dot_product_attention_backward(const Tensor& grad_out, const Tensor& q,
                                                     const Tensor& k, const Tensor& v,
                                                     const AttentionForward& forward,
                                                     const AttentionOptions& options);

// Self-attention over a packed projection: qkv [B, L, 3E] holds q, k and v
// side by side (MultiheadAttention's one in-projection GEMM), each split
// into num_heads heads of E / num_heads; the result is [B, L, E], the heads
// merged (a view of the kernel's output). With options.sequence_offsets,
// qkv [N, 3E] -> [N, E] over packed sequences. The same values as
// scaled_dot_product_attention on the three [B, H, L, E / H] views; the
// backward writes one [B, L, 3E] gradient through views of its parts,
// instead of three gradients that the views' backwards would zero-pad to
// [B, L, 3E] and sum.
Tensor scaled_dot_product_attention_packed(const Tensor& qkv, int64_t num_heads,
                                           const AttentionOptions& options = {});
// out [B, H, L, Ev] -> [B, L, H Ev] (a view of the forwards' outputs).
Tensor merge_heads(const Tensor& out);
// out [B, H, L, E / H] (laid out [B, L, H, E / H]; packed sequences: out
// [N, E]) and the rest, as above.
AttentionForward scaled_dot_product_attention_packed_forward(const Tensor& qkv, int64_t num_heads,
                                                             const AttentionOptions& options);
// grad_out [B, L, E] -> the gradient of qkv [B, L, 3E] (packed sequences:
// [N, E] -> [N, 3E]).
Tensor scaled_dot_product_attention_packed_backward(const Tensor& grad_out, const Tensor& qkv,
                                                    int64_t num_heads,
                                                    const AttentionForward& forward,
                                                    const AttentionOptions& options);

}  // namespace native
}  // namespace toadstool
