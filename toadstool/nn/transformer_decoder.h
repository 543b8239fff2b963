#pragma once
// The Transformer decoder, batch first, as torch.nn.TransformerDecoderLayer
// and torch.nn.TransformerDecoder (batch_first=True), with the same
// parameter names, so state dicts move between the two:
//
//   post-norm (norm_first = false, the default):
//     x = norm1(x + dropout1(self_attn(x)))
//     x = norm2(x + dropout2(multihead_attn(x, memory, memory)))
//     x = norm3(x + dropout3(linear2(dropout(activation(linear1(x))))))
//   pre-norm (norm_first = true):
//     x = x + dropout1(self_attn(norm1(x)))
//     x = x + dropout2(multihead_attn(norm2(x), memory, memory))
//     x = x + dropout3(linear2(dropout(activation(linear1(norm3(x))))))
//
// tgt [B, L, d_model], memory [B, S, d_model] -> [B, L, d_model].
#include <memory>

#include "toadstool/nn/transformer.h"

namespace toadstool::nn {

// The decoder layer takes the encoder layer's options (PyTorch's two
// constructors have the same arguments).
using TransformerDecoderLayerOptions = TransformerEncoderLayerOptions;

class TransformerDecoderLayer : public Module {
 public:
  explicit TransformerDecoderLayer(const TransformerDecoderLayerOptions& options);
  // tgt_masks: self-attention over tgt (PyTorch's tgt_mask,
  // tgt_key_padding_mask, tgt_is_causal); memory_masks: attention from tgt to
  // memory (memory_mask [L, S], memory_key_padding_mask [B, S],
  // memory_is_causal). Masks as MultiheadAttention's (bool true = blocked).
  Tensor forward(const Tensor& tgt, const Tensor& memory,
                 const MultiheadAttentionMasks& tgt_masks = {},
                 const MultiheadAttentionMasks& memory_masks = {});
  std::string extra_repr() const override;

  TransformerDecoderLayerOptions options;
  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<MultiheadAttention> multihead_attn;
  std::shared_ptr<Linear> linear1;  // d_model -> dim_feedforward
  std::shared_ptr<Dropout> dropout;
  std::shared_ptr<Linear> linear2;  // dim_feedforward -> d_model
  std::shared_ptr<LayerNorm> norm1;
  std::shared_ptr<LayerNorm> norm2;
  std::shared_ptr<LayerNorm> norm3;
  std::shared_ptr<Dropout> dropout1;
  std::shared_ptr<Dropout> dropout2;
  std::shared_ptr<Dropout> dropout3;
  // Applied inside linear1's GEMM; kept for PyTorch's layout and summary().
  std::shared_ptr<UnaryModule> activation;
};

// num_layers layers built from one set of options (each initialised
// afresh), then an optional final norm.
class TransformerDecoder : public Module {
 public:
  TransformerDecoder(const TransformerDecoderLayerOptions& layer_options, int64_t num_layers,
                     bool final_norm = false);
  Tensor forward(const Tensor& tgt, const Tensor& memory,
                 const MultiheadAttentionMasks& tgt_masks = {},
                 const MultiheadAttentionMasks& memory_masks = {});

  std::shared_ptr<ModuleList> layers;
  std::shared_ptr<LayerNorm> norm;  // null without final_norm
};

}  // namespace toadstool::nn
