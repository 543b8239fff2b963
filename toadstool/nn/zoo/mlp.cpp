#include "toadstool/nn/zoo/mlp.h"

#include "toadstool/nn/activation.h"
#include "toadstool/nn/linear.h"

namespace toadstool::nn {

namespace {

std::shared_ptr<UnaryModule> make_activation(const std::string& name) {
  if (name == "relu") return std::make_shared<ReLU>();
  if (name == "gelu") return std::make_shared<GELU>();
  if (name == "tanh") return std::make_shared<Tanh>();
  if (name == "sigmoid") return std::make_shared<Sigmoid>();
  throw Error(detail::concat("MLP: unknown activation '", name,
                             "' (expected relu, gelu, tanh or sigmoid)"));
}

}  // namespace

MLP::MLP(const std::vector<int64_t>& sizes, const std::string& activation, double dropout,
         Generator* generator)
    : UnaryModule("MLP") {
  TS_CHECK(sizes.size() >= 2, "MLP: needs at least an input and an output size, got ", sizes.size(),
           " sizes");
  make_activation(activation);  // an unknown name is an Error even without hidden layers
  layers = register_module("layers", std::make_shared<Sequential>());
  for (size_t i = 0; i + 1 < sizes.size(); ++i) {
    layers->push_back(std::make_shared<Linear>(sizes[i], sizes[i + 1]));
    if (i + 2 < sizes.size()) {
      layers->push_back(make_activation(activation));
      if (dropout > 0.0) layers->push_back(std::make_shared<Dropout>(dropout, generator));
    }
  }
}

Tensor MLP::forward(const Tensor& x) { return layers->forward(x); }

}  // namespace toadstool::nn
