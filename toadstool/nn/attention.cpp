#include "toadstool/nn/attention.h"

#include <cmath>
#include <limits>

#include "toadstool/autograd/ops.h"
#include "toadstool/nn/init.h"
#include "toadstool/tensor/attention.h"
#include "toadstool/tensor/factory.h"

namespace toadstool::nn {

namespace {

// A PyTorch MultiheadAttention mask (bool: true = blocked; float: added) as
// an additive float mask of `dtype`.
Tensor as_additive(const Tensor& mask, DType dtype) {
  if (mask.dtype() != kBool) return mask.to(dtype);
  return masked_fill(zeros(mask.shape(), TensorOptions(dtype).device(mask.device())), mask,
                     -std::numeric_limits<double>::infinity());
}

// The two MultiheadAttention masks as one scaled_dot_product_attention mask
// broadcastable to [B, H, L, S] (bool: true = takes part, or additive float).
// key_padding_mask [B, S] -> [B, 1, 1, S]; attn_mask [L, S] stays, [B*H, L, S]
// -> [B, H, L, S].
Tensor merge_masks(const MultiheadAttentionMasks& masks, int64_t batch, int64_t heads,
                   int64_t query_len, int64_t key_len, DType dtype) {
  Tensor padding = masks.key_padding_mask;
  Tensor attn = masks.attn_mask;
  if (padding.defined()) {
    TS_CHECK(padding.shape() == (Shape{batch, key_len}),
             "MultiheadAttention: key_padding_mask must be [batch, key_len] = [", batch, ", ",
             key_len, "], got ", padding.shape());
    padding = padding.view({batch, 1, 1, key_len});
  }
  if (attn.defined()) {
    if (attn.dim() == 3) {
      TS_CHECK(attn.shape() == (Shape{batch * heads, query_len, key_len}),
               "MultiheadAttention: a 3-D attn_mask must be [batch * num_heads, L, S] = [",
               batch * heads, ", ", query_len, ", ", key_len, "], got ", attn.shape());
      attn = attn.view({batch, heads, query_len, key_len});
    } else {
      TS_CHECK(attn.shape() == (Shape{query_len, key_len}),
               "MultiheadAttention: attn_mask must be [L, S] = [", query_len, ", ", key_len,
               "] or [batch * num_heads, L, S], got ", attn.shape());
    }
  }
  if (!padding.defined() && !attn.defined()) return {};
  const bool all_bool = (!padding.defined() || padding.dtype() == kBool) &&
                        (!attn.defined() || attn.dtype() == kBool);
  if (all_bool) {
    // Blocked by either mask -> does not take part.
    if (!padding.defined()) return logical_not(attn);
    if (!attn.defined()) return logical_not(padding);
    return logical_not(logical_or(padding, attn));
  }
  if (!padding.defined()) return as_additive(attn, dtype);
  if (!attn.defined()) return as_additive(padding, dtype);
  return as_additive(padding, dtype) + as_additive(attn, dtype);
}

// [L, S] bool on `device`: true where query i may attend key j (j <= i).
Tensor causal_mask(int64_t query_len, int64_t key_len, Device device) {
  return tril(ones({query_len, key_len}, TensorOptions(kBool).device(device)));
}

}  // namespace

MultiheadAttention::MultiheadAttention(int64_t embed_dim, int64_t num_heads, double dropout,
                                       bool bias, Generator* generator)
    : Module("MultiheadAttention"),
      embed_dim(embed_dim),
      num_heads(num_heads),
      head_dim(num_heads > 0 ? embed_dim / num_heads : 0),
      dropout(dropout),
      generator(generator) {
  TS_CHECK(embed_dim > 0 && num_heads > 0 && embed_dim % num_heads == 0,
           "MultiheadAttention: embed_dim (", embed_dim, ") must be a positive multiple of ",
           "num_heads (", num_heads, ")");
  TS_CHECK(dropout >= 0.0 && dropout < 1.0, "MultiheadAttention: dropout must be in [0, 1), got ",
           dropout);
  in_proj_weight = register_parameter("in_proj_weight", empty({3 * embed_dim, embed_dim}));
  if (bias) in_proj_bias = register_parameter("in_proj_bias", empty({3 * embed_dim}));
  out_proj = register_module("out_proj", std::make_shared<Linear>(embed_dim, embed_dim, bias));
  reset_parameters();
}

void MultiheadAttention::reset_parameters() {
  init::xavier_uniform_(in_proj_weight);
  if (in_proj_bias.defined()) {
    init::zeros_(in_proj_bias);
    init::zeros_(out_proj->bias);
  }
}

Tensor MultiheadAttention::forward(const Tensor& x, const MultiheadAttentionMasks& masks) {
  if (masks.packed_tokens != nullptr) {
    const PackedTokens& packed = *masks.packed_tokens;
    TS_CHECK(x.dim() == 2 && x.size(0) == packed.tokens() && x.size(1) == embed_dim,
             "MultiheadAttention: packed tokens must be [", packed.tokens(),
             ", embed_dim=", embed_dim, "], got ", x.shape());
    TS_CHECK(!masks.key_padding_mask.defined(),
             "MultiheadAttention: with packed_tokens the key padding is the packing's; "
             "key_padding_mask must be empty");
    if (packed.sequence_offsets.defined() && !masks.attn_mask.defined() && !masks.is_causal) {
      // tokens [N, E] -> qkv [N, 3E] -> attention within each sequence
      // [N, E] -> out_proj: the padded batch's values without its padding.
      AttentionOptions options =
          attention_options({}, packed.batch, packed.length, packed.length, x.dtype());
      options.sequence_offsets = packed.sequence_offsets;
      options.sequence_length = packed.length;
      return out_proj->forward(scaled_dot_product_attention_packed(
          linear(x, in_proj_weight, in_proj_bias), num_heads, options));
    }
    // tokens [N, E] -> qkv [N, 3E] -> [B, L, 3E] (zeros at padding) ->
    // attention [B, L, E] -> its real tokens [N, E] -> out_proj.
    MultiheadAttentionMasks padded = masks;  // the masks of the unpacked [B, L] batch
    padded.key_padding_mask = packed.padding;
    padded.packed_tokens = nullptr;
    const Tensor qkv = packed.unpack(linear(x, in_proj_weight, in_proj_bias));
    AttentionOptions options =
        attention_options(padded, packed.batch, packed.length, packed.length, qkv.dtype());
    // The padded positions' outputs are dropped by pack: skip their queries
    // where the mask is the key padding alone ([B, 1, 1, L]).
    options.skip_padded_queries = options.attn_mask.defined() && options.attn_mask.size(-2) == 1;
    return out_proj->forward(
        packed.pack(scaled_dot_product_attention_packed(qkv, num_heads, options)));
  }
  TS_CHECK(x.dim() == 3 && x.size(2) == embed_dim, "MultiheadAttention: input must be [batch, ",
           "seq, embed_dim=", embed_dim, "], got ", x.shape());
  // One GEMM for q, k and v: [B, L, E] x [E, 3E] -> [B, L, 3E] (the bias
  // added by the GEMM's epilogue), attended as it is: the packed op splits
  // it into heads as views, and its backward writes one [B, L, 3E] gradient.
  const Tensor qkv = linear(x, in_proj_weight, in_proj_bias);
  const int64_t len = x.size(1);
  return out_proj->forward(scaled_dot_product_attention_packed(
      qkv, num_heads, attention_options(masks, x.size(0), len, len, qkv.dtype())));
}

MultiheadAttention::Heads MultiheadAttention::project_heads(const Tensor& query, const Tensor& key,
                                                            const Tensor& value) const {
  TS_CHECK(query.dim() == 3 && key.dim() == 3 && value.dim() == 3 && query.size(2) == embed_dim &&
               key.size(2) == embed_dim && value.size(2) == embed_dim &&
               key.size(0) == query.size(0) && value.size(0) == query.size(0) &&
               key.size(1) == value.size(1),
           "MultiheadAttention: query [B, L, E], key and value [B, S, E] with E=", embed_dim,
           ", got ", query.shape(), ", ", key.shape(), ", ", value.shape());
  auto project = [this](const Tensor& input, int64_t part) {
    const Tensor bias =
        in_proj_bias.defined() ? in_proj_bias.narrow(0, part * embed_dim, embed_dim) : Tensor();
    return linear(input, in_proj_weight.narrow(0, part * embed_dim, embed_dim), bias);
  };
  const int64_t batch = query.size(0);
  // [B, len, E] -> [B, len, H, D] -> [B, H, len, D]: strided views, no copies.
  auto heads = [this, batch](const Tensor& t) {
    return t.view({batch, t.size(1), num_heads, head_dim}).transpose(1, 2);
  };
  return {heads(project(query, 0)), heads(project(key, 1)), heads(project(value, 2))};
}

Tensor MultiheadAttention::merge_and_project(const Tensor& out) const {
  // [B, H, L, D] -> [B, L, H, D] -> [B, L, E]: a view when the attention
  // wrote its output as [B, L, H, D] (tensor/attention.h), else a copy.
  return out_proj->forward(out.transpose(1, 2).reshape({out.size(0), out.size(2), embed_dim}));
}

Tensor MultiheadAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                   const MultiheadAttentionMasks& masks) {
  const Heads h = project_heads(query, key, value);
  const AttentionOptions options =
      attention_options(masks, query.size(0), query.size(1), key.size(1), h.q.dtype());
  return merge_and_project(scaled_dot_product_attention(h.q, h.k, h.v, options));
}

AttentionOutputAndWeights MultiheadAttention::forward_with_weights(
    const Tensor& query, const Tensor& key, const Tensor& value,
    const MultiheadAttentionMasks& masks, bool average_attn_weights) {
  const Heads h = project_heads(query, key, value);
  const int64_t query_len = query.size(1), key_len = key.size(1);
  const AttentionOptions options =
      attention_options(masks, query.size(0), query_len, key_len, h.q.dtype());
  // scores [B, H, L, S] = q k^T / sqrt(D), masked as the fused kernel masks.
  Tensor scores = matmul(h.q, h.k.transpose(2, 3)) * (1.0 / std::sqrt(double(head_dim)));
  Tensor allowed = options.attn_mask;  // bool: true = takes part; or additive float
  if (options.is_causal) allowed = causal_mask(query_len, key_len, query.device());
  if (allowed.defined()) {
    scores = allowed.dtype() == kBool ? masked_fill(scores, logical_not(allowed),
                                                    -std::numeric_limits<double>::infinity())
                                      : scores + allowed;
  }
  // (`dropout` alone names the member, the probability.)
  const Tensor weights = toadstool::dropout(softmax(scores, -1), options.dropout_p,
                                            options.dropout_p > 0, options.generator);
  return {merge_and_project(matmul(weights, h.v)),
          average_attn_weights ? mean(weights, {1}) : weights};
}

AttentionOptions MultiheadAttention::attention_options(const MultiheadAttentionMasks& masks,
                                                       int64_t batch, int64_t query_len,
                                                       int64_t key_len, DType dtype) const {
  TS_CHECK(masks.packed_tokens == nullptr,
           "MultiheadAttention: packed_tokens are for self-attention, forward(x, masks)");
  AttentionOptions options;
  options.attn_mask = merge_masks(masks, batch, num_heads, query_len, key_len, dtype);
  TS_CHECK(!masks.is_causal || !options.attn_mask.defined() || !masks.attn_mask.defined(),
           "MultiheadAttention: is_causal and attn_mask cannot both be given");
  if (masks.is_causal) {
    if (options.attn_mask.defined()) {
      // A causal mask combined with key padding: fold causality into the mask.
      const Tensor causal = causal_mask(query_len, key_len, options.attn_mask.device());
      options.attn_mask = options.attn_mask.dtype() == kBool
                              ? logical_and(options.attn_mask, causal)
                              : options.attn_mask + as_additive(logical_not(causal), dtype);
    } else {
      options.is_causal = true;
    }
  }
  options.dropout_p = is_training() ? dropout : 0.0;
  options.generator = generator;
  return options;
}

std::string MultiheadAttention::extra_repr() const {
  return detail::concat("embed_dim=", embed_dim, ", num_heads=", num_heads, ", dropout=", dropout,
                        ", batch_first=true");
}

}  // namespace toadstool::nn
