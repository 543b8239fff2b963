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
};

class MultiheadAttention : public Module {
 public:
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, double dropout = 0.0, bool bias = true,
                     Generator* generator = nullptr);
  Tensor forward(const Tensor& query, const Tensor& key, const Tensor& value,
                 const MultiheadAttentionMasks& masks = {});
  // Self-attention: one packed projection of x [B, L, E].
  Tensor forward(const Tensor& x, const MultiheadAttentionMasks& masks = {});
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
};

}  // namespace toadstool::nn
