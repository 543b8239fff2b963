#pragma once
// Loss modules, as torch.nn's: each holds its options (class weights as
// buffers, so they follow Module::to and land in the state dict as in
// PyTorch) and calls the loss op of autograd/ops.h (docs/losses.md):
//
//   loss(input, target) -> 0-d tensor (mean / sum) or per-element (none)
#include "toadstool/nn/module.h"
#include "toadstool/tensor/loss_options.h"

namespace toadstool::nn {

// A module whose forward takes a prediction and a target: what the trainer
// calls as its loss function.
class Loss : public Module {
 public:
  virtual Tensor forward(const Tensor& input, const Tensor& target) = 0;
  Tensor operator()(const Tensor& input, const Tensor& target) { return forward(input, target); }

 protected:
  using Module::Module;
};

// logits [N, C] (or [N, C, d...], or [C]) and int64 class ids [N] (...).
class CrossEntropyLoss : public Loss {
 public:
  explicit CrossEntropyLoss(CrossEntropyOptions options = {});
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string extra_repr() const override;
  CrossEntropyOptions options;
};

// log-probabilities [N, C] (...) and int64 class ids [N] (...).
class NLLLoss : public Loss {
 public:
  explicit NLLLoss(NLLLossOptions options = {});
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string extra_repr() const override;
  NLLLossOptions options;
};

// logits and targets in [0, 1] of the same shape.
class BCEWithLogitsLoss : public Loss {
 public:
  explicit BCEWithLogitsLoss(BCEWithLogitsOptions options = {});
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string extra_repr() const override;
  BCEWithLogitsOptions options;
};

class MSELoss : public Loss {
 public:
  explicit MSELoss(Reduction reduction = Reduction::mean);
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string extra_repr() const override;
  Reduction reduction;
};

}  // namespace toadstool::nn
