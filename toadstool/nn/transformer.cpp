#include "toadstool/nn/transformer.h"

#include "toadstool/autograd/ops.h"

namespace toadstool::nn {

TransformerEncoderLayer::TransformerEncoderLayer(const TransformerEncoderLayerOptions& options)
    : Module("TransformerEncoderLayer"), options(options) {
  TS_CHECK(options.activation == "relu" || options.activation == "gelu",
           "TransformerEncoderLayer: activation must be 'relu' or 'gelu', got '",
           options.activation, "'");
  TS_CHECK(options.dim_feedforward > 0, "TransformerEncoderLayer: dim_feedforward must be ",
           "positive, got ", options.dim_feedforward);
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
  if (options.activation == "relu") {
    activation = std::make_shared<ReLU>();
  } else {
    activation = std::make_shared<GELU>();
  }
}

namespace {

// residual + drop(block_out) in one pass over memory (dropout_add), the same
// values and generator draws as the two modules.
Tensor add_dropped(const Tensor& residual, const Tensor& block_out, const Dropout& drop) {
  return dropout_add(block_out, residual, drop.p, drop.is_training(), drop.generator);
}

// norm(residual + drop(block_out)) in one pass (dropout_add_layer_norm), the
// values and generator draws of the three modules.
Tensor add_dropped_norm(const Tensor& residual, const Tensor& block_out, const Dropout& drop,
                        const LayerNorm& norm) {
  return dropout_add_layer_norm(block_out, residual, drop.p, drop.is_training(), drop.generator,
                                norm.normalized_shape, norm.weight, norm.bias, norm.eps);
}

}  // namespace

Tensor TransformerEncoderLayer::self_attention_block(const Tensor& x,
                                                     const MultiheadAttentionMasks& masks) {
  return self_attn->forward(x, masks);
}

// linear1 and the activation are one GEMM (its epilogue adds the bias and
// applies the activation): the values of linear1 then activation.
Tensor TransformerEncoderLayer::feed_forward_block(const Tensor& x) {
  // [B, L, d_model] -> [B, L, dim_feedforward] -> [B, L, d_model]
  const LinearActivation fused =
      options.activation == "relu" ? LinearActivation::ReLU : LinearActivation::GELU;
  const Tensor hidden = linear(x, linear1->weight, linear1->bias, fused);
  return linear2->forward(dropout->forward(hidden));
}

// Each block's dropout (dropout1, dropout2) is applied with its residual add,
// and in a post-norm layer with the norm after it.
Tensor TransformerEncoderLayer::forward(const Tensor& src, const MultiheadAttentionMasks& masks) {
  if (options.norm_first) {
    Tensor x = add_dropped(src, self_attention_block(norm1->forward(src), masks), *dropout1);
    return add_dropped(x, feed_forward_block(norm2->forward(x)), *dropout2);
  }
  Tensor x = add_dropped_norm(src, self_attention_block(src, masks), *dropout1, *norm1);
  return add_dropped_norm(x, feed_forward_block(x), *dropout2, *norm2);
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
