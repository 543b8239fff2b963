#include "toadstool/nn/transformer.h"

#include "toadstool/autograd/ops.h"
#include "toadstool/nn/transformer_blocks.h"

namespace toadstool::nn {

namespace blocks = transformer_blocks;

TransformerEncoderLayer::TransformerEncoderLayer(const TransformerEncoderLayerOptions& options)
    : Module("TransformerEncoderLayer"), options(options) {
  blocks::check_layer_options(options, "TransformerEncoderLayer");
  // Registration order = PyTorch's, so named_parameters() lists the same way.
  self_attn = register_module("self_attn", std::make_shared<MultiheadAttention>(
                                               options.d_model, options.nhead, options.dropout,
                                               options.bias, options.generator));
  linear1 = register_module(
      "linear1", std::make_shared<Linear>(options.d_model, options.dim_feedforward, options.bias));
  dropout =
      register_module("dropout", std::make_shared<Dropout>(options.dropout, options.generator));
  linear2 = register_module(
      "linear2", std::make_shared<Linear>(options.dim_feedforward, options.d_model, options.bias));
  norm1 = register_module(
      "norm1", std::make_shared<LayerNorm>(Shape{options.d_model}, options.layer_norm_eps));
  norm2 = register_module(
      "norm2", std::make_shared<LayerNorm>(Shape{options.d_model}, options.layer_norm_eps));
  dropout1 =
      register_module("dropout1", std::make_shared<Dropout>(options.dropout, options.generator));
  dropout2 =
      register_module("dropout2", std::make_shared<Dropout>(options.dropout, options.generator));
  // Not registered: PyTorch keeps the activation as a plain function.
  activation = blocks::make_activation(options.activation);
}

Tensor TransformerEncoderLayer::self_attention_block(const Tensor& x,
                                                     const MultiheadAttentionMasks& masks) {
  return self_attn->forward(x, masks);
}

Tensor TransformerEncoderLayer::feed_forward_block(const Tensor& x) {
  return blocks::feed_forward(x, *linear1, *dropout, *linear2, options.activation);
}

// Each block's dropout (dropout1, dropout2) is applied with its residual add,
// and in a post-norm layer with the norm after it.
Tensor TransformerEncoderLayer::forward(const Tensor& src, const MultiheadAttentionMasks& masks) {
  if (options.norm_first) {
    Tensor x =
        blocks::add_dropped(src, self_attention_block(norm1->forward(src), masks), *dropout1);
    return blocks::add_dropped(x, feed_forward_block(norm2->forward(x)), *dropout2);
  }
  Tensor x = blocks::add_dropped_norm(src, self_attention_block(src, masks), *dropout1, *norm1);
  return blocks::add_dropped_norm(x, feed_forward_block(x), *dropout2, *norm2);
}

std::string TransformerEncoderLayer::extra_repr() const {
  return detail::concat("activation=", options.activation,
                        ", norm_first=", options.norm_first ? "true" : "false");
}

TransformerEncoder::TransformerEncoder(const TransformerEncoderLayerOptions& layer_options,
                                       int64_t num_layers, bool final_norm)
    : Module("TransformerEncoder") {
  TS_CHECK(num_layers > 0, "TransformerEncoder: num_layers must be positive, got ", num_layers);
  layers = register_module("layers", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < num_layers; ++i) {
    layers->push_back(std::make_shared<TransformerEncoderLayer>(layer_options));
  }
  if (final_norm) {
    norm = register_module("norm", std::make_shared<LayerNorm>(Shape{layer_options.d_model},
                                                               layer_options.layer_norm_eps));
  }
}

Tensor TransformerEncoder::forward(const Tensor& src, const MultiheadAttentionMasks& masks) {
  Tensor x = src;
  for (size_t i = 0; i < layers->size(); ++i) {
    x = layers->at<TransformerEncoderLayer>(i)->forward(x, masks);
  }
  return norm ? norm->forward(x) : x;
}

}  // namespace toadstool::nn
