#pragma once
// Stochastic gradient descent with momentum, dampening, Nesterov momentum and
// L2 weight decay: torch.optim.SGD (torch 1.13 `_single_tensor_sgd`).
#include <vector>

#include "toadstool/nn/optim/optimizer.h"

namespace toadstool::optim {

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
  bool maximize = false;
};

// Per step, with d = grad (negated when maximize) + weight_decay * param:
//   buf = d on the parameter's first step, else momentum * buf + (1 - dampening) * d
//   d = nesterov ? d + momentum * buf : buf      (when momentum != 0)
//   param -= lr * d
// State: `momentum_buffer` (only when momentum != 0). Hyper-parameter names:
// lr, momentum, dampening, weight_decay, nesterov, maximize.
class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, const SGDOptions& options = {});
  SGD(std::vector<ParamGroup> groups, const SGDOptions& options = {});

  void validate(const Options& options) const override;
  std::vector<std::string> buffer_names(const Options& options) const override;
  bool counts_steps() const override { return false; }

 protected:
  void update(const Options& options, const Tensor& param, const Tensor& grad, ParamState& state,
              StepBatch& batch) override;
};

}  // namespace toadstool::optim
