#pragma once
// Element-wise activations and other parameter-free layers as modules.
#include <string>

#include "toadstool/nn/module.h"
#include "toadstool/tensor/generator.h"

namespace toadstool::nn {

class ReLU : public UnaryModule {
 public:
  ReLU() : UnaryModule("ReLU") {}
  Tensor forward(const Tensor& input) override;
};

// approximate: "none" (erf form) or "tanh".
class GELU : public UnaryModule {
 public:
  explicit GELU(std::string approximate = "none");
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  std::string approximate;
};

class Tanh : public UnaryModule {
 public:
  Tanh() : UnaryModule("Tanh") {}
  Tensor forward(const Tensor& input) override;
};

class Sigmoid : public UnaryModule {
 public:
  Sigmoid() : UnaryModule("Sigmoid") {}
  Tensor forward(const Tensor& input) override;
};

class Softmax : public UnaryModule {
 public:
  explicit Softmax(int64_t dim) : UnaryModule("Softmax"), dim(dim) {}
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  int64_t dim;
};

// torch.nn.GLU: the gated linear unit, glu(input, dim): [..., 2n, ...] ->
// [..., n, ...], the first half times the sigmoid of the second.
class GLU : public UnaryModule {
 public:
  explicit GLU(int64_t dim = -1) : UnaryModule("GLU"), dim(dim) {}
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  int64_t dim;
};

class Identity : public UnaryModule {
 public:
  Identity() : UnaryModule("Identity") {}
  Tensor forward(const Tensor& input) override { return input; }
};

// Zeroes elements with probability p in training mode (scaling the rest by
// 1 / (1 - p)); the identity in eval mode. Draws from `generator` (default:
// the global one; the caller keeps a given generator alive).
class Dropout : public UnaryModule {
 public:
  explicit Dropout(double p = 0.5, Generator* generator = nullptr);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  double p;
  Generator* generator;
};

}  // namespace toadstool::nn
