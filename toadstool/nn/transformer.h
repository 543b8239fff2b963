#pragma once
// The Transformer encoder, batch first, as torch.nn.TransformerEncoderLayer
// and torch.nn.TransformerEncoder (batch_first=True), with the same
// parameter names, so state dicts move between the two:
//
//   post-norm (norm_first = false, the default):
//     x = norm1(x + dropout1(self_attn(x)))
//     x = norm2(x + dropout2(linear2(dropout(activation(linear1(x))))))
//   pre-norm (norm_first = true):
//     x = x + dropout1(self_attn(norm1(x)))
//     x = x + dropout2(linear2(dropout(activation(linear1(norm2(x))))))
//
// x [B, L, d_model] -> [B, L, d_model].
#include <memory>
#include <string>

#include "toadstool/nn/activation.h"
#include "toadstool/nn/attention.h"
#include "toadstool/nn/container.h"
#include "toadstool/nn/layer_norm.h"
#include "toadstool/nn/linear.h"

namespace toadstool::nn {

struct TransformerEncoderLayerOptions {
  int64_t d_model = 512;
  int64_t nhead = 8;
  int64_t dim_feedforward = 2048;
  double dropout = 0.1;
  std::string activation = "relu";  // or "gelu"
  double layer_norm_eps = 1e-5;
  bool norm_first = false;
  bool bias = true;
  Generator* generator = nullptr;  // for every dropout (default: the global one)
};

// The layer options a model's options name: every field of the same name
// (d_model, nhead, dim_feedforward, dropout, activation, norm_first,
// generator; layer_norm_eps and bias where the model has them).
template <class ModelOptions>
TransformerEncoderLayerOptions transformer_layer_options(const ModelOptions& o) {
  TransformerEncoderLayerOptions layer;
  layer.d_model = o.d_model;
  layer.nhead = o.nhead;
  layer.dim_feedforward = o.dim_feedforward;
  layer.dropout = o.dropout;
  layer.activation = o.activation;
  layer.norm_first = o.norm_first;
  layer.generator = o.generator;
  if constexpr (requires { o.layer_norm_eps; }) layer.layer_norm_eps = o.layer_norm_eps;
  if constexpr (requires { o.bias; }) layer.bias = o.bias;
  return layer;
}

class TransformerEncoderLayer : public Module {
 public:
  explicit TransformerEncoderLayer(const TransformerEncoderLayerOptions& options);
  // masks as MultiheadAttention's (src_key_padding_mask: true = padding).
  Tensor forward(const Tensor& src, const MultiheadAttentionMasks& masks = {});
  std::string extra_repr() const override;

  TransformerEncoderLayerOptions options;
  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<Linear> linear1;  // d_model -> dim_feedforward
  std::shared_ptr<Dropout> dropout;
  std::shared_ptr<Linear> linear2;  // dim_feedforward -> d_model
  std::shared_ptr<LayerNorm> norm1;
  std::shared_ptr<LayerNorm> norm2;
  std::shared_ptr<Dropout> dropout1;
  std::shared_ptr<Dropout> dropout2;
  // forward applies options.activation inside linear1's GEMM (a fused
  // linear); this module is kept for PyTorch's layout and summary().
  std::shared_ptr<UnaryModule> activation;

 private:
  Tensor self_attention_block(const Tensor& x, const MultiheadAttentionMasks& masks);
  Tensor feed_forward_block(const Tensor& x);
};

// num_layers layers built from one set of options (PyTorch deep-copies one
// layer; each of ours is initialised afresh), then an optional final norm
// (usual with pre-norm layers).
class TransformerEncoder : public Module {
 public:
  TransformerEncoder(const TransformerEncoderLayerOptions& layer_options, int64_t num_layers,
                     bool final_norm = false);
  Tensor forward(const Tensor& src, const MultiheadAttentionMasks& masks = {});

  std::shared_ptr<ModuleList> layers;
  std::shared_ptr<LayerNorm> norm;  // null without final_norm
};

}  // namespace toadstool::nn
