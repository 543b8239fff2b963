#include "toadstool/nn/transformer_decoder.h"

#include "toadstool/autograd/ops.h"
#include "toadstool/nn/transformer_blocks.h"

namespace toadstool::nn {

namespace blocks = transformer_blocks;

TransformerDecoderLayer::TransformerDecoderLayer(const TransformerDecoderLayerOptions& options)
    : Module("TransformerDecoderLayer"), options(options) {
  blocks::check_layer_options(options, "TransformerDecoderLayer");
  auto attention = [&options] {
    return std::make_shared<MultiheadAttention>(options.d_model, options.nhead, options.dropout,
                                                options.bias, options.generator);
  };
  auto norm = [&options] {
    return std::make_shared<LayerNorm>(Shape{options.d_model}, options.layer_norm_eps);
  };
  auto drop = [&options] { return std::make_shared<Dropout>(options.dropout, options.generator); };
  // Registration order = PyTorch's, so named_parameters() lists the same way.
  self_attn = register_module("self_attn", attention());
  multihead_attn = register_module("multihead_attn", attention());
  linear1 = register_module(
      "linear1", std::make_shared<Linear>(options.d_model, options.dim_feedforward, options.bias));
  dropout = register_module("dropout", drop());
  linear2 = register_module(
      "linear2", std::make_shared<Linear>(options.dim_feedforward, options.d_model, options.bias));
  norm1 = register_module("norm1", norm());
  norm2 = register_module("norm2", norm());
  norm3 = register_module("norm3", norm());
  dropout1 = register_module("dropout1", drop());
  dropout2 = register_module("dropout2", drop());
  dropout3 = register_module("dropout3", drop());
  // Not registered: PyTorch keeps the activation as a plain function.
  activation = blocks::make_activation(options.activation);
}

// Each block's dropout (dropout1..3) is applied with its residual add, and
// in a post-norm layer with the norm after it.
Tensor TransformerDecoderLayer::forward(const Tensor& tgt, const Tensor& memory,
                                        const MultiheadAttentionMasks& tgt_masks,
                                        const MultiheadAttentionMasks& memory_masks) {
  TS_CHECK(memory.dim() == 3 && tgt.dim() == 3 && memory.size(0) == tgt.size(0),
           "TransformerDecoderLayer: tgt [B, L, d_model] and memory [B, S, d_model] must share ",
           "the batch, got ", tgt.shape(), " and ", memory.shape());
  auto feed_forward = [this](const Tensor& x) {
    return blocks::feed_forward(x, *linear1, *dropout, *linear2, options.activation);
  };
  auto cross_attention = [&](const Tensor& x) {
    return multihead_attn->forward(x, memory, memory, memory_masks);
  };
  if (options.norm_first) {
    Tensor x =
        blocks::add_dropped(tgt, self_attn->forward(norm1->forward(tgt), tgt_masks), *dropout1);
    x = blocks::add_dropped(x, cross_attention(norm2->forward(x)), *dropout2);
    return blocks::add_dropped(x, feed_forward(norm3->forward(x)), *dropout3);
  }
  Tensor x = blocks::add_dropped_norm(tgt, self_attn->forward(tgt, tgt_masks), *dropout1, *norm1);
  x = blocks::add_dropped_norm(x, cross_attention(x), *dropout2, *norm2);
  return blocks::add_dropped_norm(x, feed_forward(x), *dropout3, *norm3);
}

std::string TransformerDecoderLayer::extra_repr() const {
  return detail::concat("activation=", options.activation,
                        ", norm_first=", options.norm_first ? "true" : "false");
}

TransformerDecoder::TransformerDecoder(const TransformerDecoderLayerOptions& layer_options,
                                       int64_t num_layers, bool final_norm)
    : Module("TransformerDecoder") {
  TS_CHECK(num_layers > 0, "TransformerDecoder: num_layers must be positive, got ", num_layers);
  layers = register_module("layers", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < num_layers; ++i) {
    layers->push_back(std::make_shared<TransformerDecoderLayer>(layer_options));
  }
  if (final_norm) {
    norm = register_module("norm", std::make_shared<LayerNorm>(Shape{layer_options.d_model},
                                                               layer_options.layer_norm_eps));
  }
}

Tensor TransformerDecoder::forward(const Tensor& tgt, const Tensor& memory,
                                   const MultiheadAttentionMasks& tgt_masks,
                                   const MultiheadAttentionMasks& memory_masks) {
  Tensor x = tgt;
  for (size_t i = 0; i < layers->size(); ++i) {
    x = layers->at<TransformerDecoderLayer>(i)->forward(x, memory, tgt_masks, memory_masks);
  }
  return norm ? norm->forward(x) : x;
}

}  // namespace toadstool::nn
