#include "toadstool/nn/loss.h"

#include "toadstool/autograd/ops.h"

namespace toadstool::nn {

namespace {

std::string reduction_repr(Reduction reduction) {
  return std::string("reduction=") + reduction_name(reduction);
}

}  // namespace

CrossEntropyLoss::CrossEntropyLoss(CrossEntropyOptions options)
    : Loss("CrossEntropyLoss"), options(std::move(options)) {
  // Checked here so that a bad module fails where it is made, not at the first batch.
  TS_CHECK(this->options.label_smoothing >= 0.0 && this->options.label_smoothing <= 1.0,
           "CrossEntropyLoss: label_smoothing must be in [0, 1], got ",
           this->options.label_smoothing);
  if (this->options.weight.defined()) {
    this->options.weight = register_buffer("weight", this->options.weight);
  }
}
Tensor CrossEntropyLoss::forward(const Tensor& input, const Tensor& target) {
  return cross_entropy(input, target, options);
}
std::string CrossEntropyLoss::extra_repr() const {
  return detail::concat("ignore_index=", options.ignore_index,
                        ", label_smoothing=", options.label_smoothing, ", ",
                        reduction_repr(options.reduction));
}

NLLLoss::NLLLoss(NLLLossOptions options) : Loss("NLLLoss"), options(std::move(options)) {
  if (this->options.weight.defined()) {
    this->options.weight = register_buffer("weight", this->options.weight);
  }
}
Tensor NLLLoss::forward(const Tensor& input, const Tensor& target) {
  return nll_loss(input, target, options);
}
std::string NLLLoss::extra_repr() const {
  return detail::concat("ignore_index=", options.ignore_index, ", ",
                        reduction_repr(options.reduction));
}

BCEWithLogitsLoss::BCEWithLogitsLoss(BCEWithLogitsOptions options)
    : Loss("BCEWithLogitsLoss"), options(std::move(options)) {
  if (this->options.weight.defined()) {
    this->options.weight = register_buffer("weight", this->options.weight);
  }
  if (this->options.pos_weight.defined()) {
    this->options.pos_weight = register_buffer("pos_weight", this->options.pos_weight);
  }
}
Tensor BCEWithLogitsLoss::forward(const Tensor& input, const Tensor& target) {
  return binary_cross_entropy_with_logits(input, target, options);
}
std::string BCEWithLogitsLoss::extra_repr() const { return reduction_repr(options.reduction); }

MSELoss::MSELoss(Reduction reduction) : Loss("MSELoss"), reduction(reduction) {}
Tensor MSELoss::forward(const Tensor& input, const Tensor& target) {
  return mse_loss(input, target, reduction);
}
std::string MSELoss::extra_repr() const { return reduction_repr(reduction); }

}  // namespace toadstool::nn
