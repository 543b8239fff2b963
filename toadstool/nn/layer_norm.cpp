#include "toadstool/nn/layer_norm.h"

#include "toadstool/autograd/ops.h"
#include "toadstool/tensor/factory.h"

namespace toadstool::nn {

LayerNorm::LayerNorm(Shape normalized_shape, double eps, bool elementwise_affine)
    : UnaryModule("LayerNorm"), normalized_shape(std::move(normalized_shape)), eps(eps) {
  TS_CHECK(!this->normalized_shape.empty(), "LayerNorm: normalized_shape must not be empty");
  if (elementwise_affine) {
    weight = register_parameter("weight", ones(this->normalized_shape));
    bias = register_parameter("bias", zeros(this->normalized_shape));
  }
}

Tensor LayerNorm::forward(const Tensor& input) {
  return layer_norm(input, normalized_shape, weight, bias, eps);
}

std::string LayerNorm::extra_repr() const {
  return detail::concat(normalized_shape, ", eps=", eps,
                        ", elementwise_affine=", weight.defined() ? "true" : "false");
}

}  // namespace toadstool::nn
