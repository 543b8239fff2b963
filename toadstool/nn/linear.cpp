#include "toadstool/nn/linear.h"

#include <cmath>

#include "toadstool/autograd/ops.h"
#include "toadstool/nn/init.h"
#include "toadstool/tensor/factory.h"

namespace toadstool::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool bias)
    : UnaryModule("Linear"), in_features(in_features), out_features(out_features) {
  TS_CHECK(in_features > 0 && out_features > 0,
           "Linear: in_features and out_features must be positive, got ", in_features, " and ",
           out_features);
  weight = register_parameter("weight", empty({out_features, in_features}));
  if (bias) this->bias = register_parameter("bias", empty({out_features}));
  reset_parameters();
}

void Linear::reset_parameters() {
  // kaiming_uniform_(a = sqrt(5)) gives bound 1 / sqrt(fan_in), as PyTorch.
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
    init::uniform_(bias, -bound, bound);
  }
}

Tensor Linear::forward(const Tensor& input) {
  TS_CHECK(input.defined(), "Linear: got an undefined input");
  TS_CHECK(input.dim() >= 1 && input.size(-1) == in_features, "Linear: input of shape ",
           input.shape(), " does not end in in_features=", in_features);
  return linear(input, weight, bias);
}

std::string Linear::extra_repr() const {
  return detail::concat("in_features=", in_features, ", out_features=", out_features,
                        ", bias=", bias.defined() ? "true" : "false");
}

}  // namespace toadstool::nn
