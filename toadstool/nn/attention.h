#pragma once
// nn::MultiheadAttention, batch first, as torch.nn.MultiheadAttention(
// embed_dim, num_heads, dropout, bias, batch_first=True):
//
//   query [B, L, E], key [B, S, E], value [B, S, E] -> out [B, L, E]
//
// q, k, v = x W_q^T + b_q ... (one packed in_proj_weight [3E, E]), split into
// heads [B, H, L, E/H], attention by the fused scaled_dot_product_attention
// op (flash-style, docs/attention.md; self-attention by its packed form over
// the one [B, L, 3E] projection), heads merged, then out_proj. Masks
// follow PyTorch's MultiheadAttention: true (bool) means "may not attend",
// floating masks are added to the scores.
#include <memory>

#include "toadstool/nn/linear.h"
#include "toadstool/nn/module.h"
#include "toadstool/nn/packed_tokens.h"
#include "toadstool/tensor/attention.h"
#include "toadstool/tensor/generator.h"

namespace toadstool::nn {

struct MultiheadAttentionMasks {
  // [B, S]: true where a key is padding (bool), or added to the scores (float).
  Tensor key_padding_mask;
  // [L, S] or [B * H, L, S]: true where query i may not attend key j (bool),
  // or added to the scores (float).
  Tensor attn_mask;
  // A causal mask (query i attends keys j <= i); attn_mask must be empty.
  bool is_causal = false;
  // Self-attention over packed tokens (nn/packed_tokens.h): x is [N, E],
  // the real tokens of a [B, L] batch, and so is the output; the packing's
  // padding is the key padding (key_padding_mask must be empty). Only
  // forward(x, masks) takes it. Not owned: it outlives the forward call.
  const PackedTokens* packed_tokens = nullptr;
};

// forward_with_weights' result: out [B, L, E] and the attention weights,
// [B, L, S] averaged over the heads or [B, H, L, S] per head.
struct AttentionOutputAndWeights {
  Tensor output;
  Tensor weights;
};

class MultiheadAttention : public Module {
 public:
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, double dropout = 0.0, bool bias = true,
                     Generator* generator = nullptr);
  Tensor forward(const Tensor& query, const Tensor& key, const Tensor& value,
                 const MultiheadAttentionMasks& masks = {});
  // Self-attention: one packed projection of x [B, L, E] (or of packed
  // tokens [N, E] with masks.packed_tokens).
  Tensor forward(const Tensor& x, const MultiheadAttentionMasks& masks = {});
  // PyTorch's need_weights=True: the same output, and the attention weights
  // (softmax of the masked, scaled scores, after attention dropout as in
  // PyTorch; averaged over the heads unless average_attn_weights is false).
  // The weights are materialised ([B, H, L, S]), so this takes the composed
  // path (matmul, softmax, dropout, matmul) instead of the fused kernel: the
  // same values without dropout, different dropout draws with it.
  AttentionOutputAndWeights forward_with_weights(const Tensor& query, const Tensor& key,
                                                 const Tensor& value,
                                                 const MultiheadAttentionMasks& masks = {},
                                                 bool average_attn_weights = true);
  std::string extra_repr() const override;
  // xavier_uniform_ in_proj_weight, zero biases, as PyTorch.
  void reset_parameters();

  int64_t embed_dim;
  int64_t num_heads;
  int64_t head_dim;
  double dropout;
  Generator* generator;   // for attention dropout (default: the global one)
  Tensor in_proj_weight;  // [3E, E]: rows [0, E) query, [E, 2E) key, [2E, 3E) value
  Tensor in_proj_bias;    // [3E], undefined without bias
  std::shared_ptr<Linear> out_proj;

 private:
  // The attention's options for `batch` queries of length query_len over
  // key_len keys: the masks merged, dropout while training.
  AttentionOptions attention_options(const MultiheadAttentionMasks& masks, int64_t batch,
                                     int64_t query_len, int64_t key_len, DType dtype) const;
  // query [B, L, E], key and value [B, S, E] checked, projected and split
  // into heads: q [B, H, L, D], k and v [B, H, S, D] (strided views).
  struct Heads {
    Tensor q, k, v;
  };
  Heads project_heads(const Tensor& query, const Tensor& key, const Tensor& value) const;
  // out [B, H, L, D] -> out_proj of the merged heads [B, L, E].
  Tensor merge_and_project(const Tensor& out) const;
};

}  // namespace toadstool::nn
