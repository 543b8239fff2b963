#include "toadstool/nn/activation.h"

#include "toadstool/autograd/ops.h"

namespace toadstool::nn {

Tensor ReLU::forward(const Tensor& input) { return relu(input); }

GELU::GELU(std::string approximate) : UnaryModule("GELU"), approximate(std::move(approximate)) {
  TS_CHECK(this->approximate == "none" || this->approximate == "tanh",
           "GELU: approximate must be 'none' or 'tanh', got '", this->approximate, "'");
}
Tensor GELU::forward(const Tensor& input) { return gelu(input, approximate); }
std::string GELU::extra_repr() const {
  return approximate == "none" ? "" : "approximate='" + approximate + "'";
}

Tensor Tanh::forward(const Tensor& input) { return tanh(input); }
Tensor Sigmoid::forward(const Tensor& input) { return sigmoid(input); }

Tensor Softmax::forward(const Tensor& input) { return softmax(input, dim); }
std::string Softmax::extra_repr() const { return detail::concat("dim=", dim); }

Tensor GLU::forward(const Tensor& input) { return glu(input, dim); }
std::string GLU::extra_repr() const { return detail::concat("dim=", dim); }

Dropout::Dropout(double p, Generator* generator)
    : UnaryModule("Dropout"), p(p), generator(generator) {
  TS_CHECK(p >= 0.0 && p <= 1.0, "Dropout: p must be in [0, 1], got ", p);
}
Tensor Dropout::forward(const Tensor& input) { return dropout(input, p, is_training(), generator); }
std::string Dropout::extra_repr() const { return detail::concat("p=", p); }

}  // namespace toadstool::nn
