#pragma once
// nn::Linear: y = x W^T + b, with x [..., in_features] -> y [..., out_features].
// weight [out_features, in_features] and bias [out_features] start as
// PyTorch's: U(-1/sqrt(in_features), 1/sqrt(in_features)).
#include "toadstool/nn/module.h"

namespace toadstool::nn {

class Linear : public UnaryModule {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  // Re-draws weight and bias from the default distribution.
  void reset_parameters();

  int64_t in_features;
  int64_t out_features;
  Tensor weight;  // [out_features, in_features]
  Tensor bias;    // [out_features], undefined without bias
};

}  // namespace toadstool::nn
