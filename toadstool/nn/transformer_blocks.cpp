#include "toadstool/nn/transformer_blocks.h"

#include "toadstool/autograd/ops.h"
#include "toadstool/nn/transformer.h"

namespace toadstool::nn::transformer_blocks {

void check_layer_options(const TransformerEncoderLayerOptions& options, const char* layer) {
  TS_CHECK(options.activation == "relu" || options.activation == "gelu", layer,
           ": activation must be 'relu' or 'gelu', got '", options.activation, "'");
  TS_CHECK(options.dim_feedforward > 0, layer, ": dim_feedforward must be positive, got ",
           options.dim_feedforward);
}

std::shared_ptr<UnaryModule> make_activation(const std::string& activation) {
  if (activation == "relu") return std::make_shared<ReLU>();
  return std::make_shared<GELU>();
}

Tensor feed_forward(const Tensor& x, const Linear& linear1, Dropout& dropout, Linear& linear2,
                    const std::string& activation) {
  const LinearActivation fused =
      activation == "relu" ? LinearActivation::ReLU : LinearActivation::GELU;
  const Tensor hidden = linear(x, linear1.weight, linear1.bias, fused);
  return linear2.forward(dropout.forward(hidden));
}

Tensor add_dropped(const Tensor& residual, const Tensor& block_out, const Dropout& drop) {
  return dropout_add(block_out, residual, drop.p, drop.is_training(), drop.generator);
}

Tensor add_dropped_norm(const Tensor& residual, const Tensor& block_out, const Dropout& drop,
                        const LayerNorm& norm) {
  return dropout_add_layer_norm(block_out, residual, drop.p, drop.is_training(), drop.generator,
                                norm.normalized_shape, norm.weight, norm.bias, norm.eps);
}

}  // namespace toadstool::nn::transformer_blocks
