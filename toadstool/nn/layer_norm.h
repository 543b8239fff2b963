#pragma once
// nn::LayerNorm over the trailing dims `normalized_shape`: x [..., *shape]
// -> same shape. weight starts at ones and bias at zeros, as PyTorch.
#include "toadstool/nn/module.h"

namespace toadstool::nn {

class LayerNorm : public UnaryModule {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;

  Shape normalized_shape;
  double eps;
  Tensor weight;  // normalized_shape, undefined without elementwise_affine
  Tensor bias;    // normalized_shape, undefined without elementwise_affine
};

}  // namespace toadstool::nn
