#pragma once
// MLP: Linear layers of `sizes` (sizes[0] inputs ... sizes.back() outputs)
// with an activation ("relu", "gelu", "tanh", "sigmoid") and dropout after
// every hidden layer; the output layer is linear. x [..., sizes[0]] ->
// [..., sizes.back()]. Parameters: layers.<i>.weight / .bias, as the same
// nn.Sequential in PyTorch.
#include <memory>
#include <string>
#include <vector>

#include "toadstool/nn/container.h"
#include "toadstool/tensor/generator.h"

namespace toadstool::nn {

class MLP : public UnaryModule {
 public:
  explicit MLP(const std::vector<int64_t>& sizes, const std::string& activation = "relu",
               double dropout = 0.0, Generator* generator = nullptr);
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<Sequential> layers;
};

}  // namespace toadstool::nn
