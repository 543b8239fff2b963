#pragma once
// Adam (L2 weight decay added to the gradient) and AdamW (decoupled weight
// decay), both with AMSGrad: torch.optim.Adam / AdamW (torch 1.13
// `_single_tensor_adam` / `_single_tensor_adamw`).
#include <utility>
#include <vector>

#include "toadstool/nn/optim/optimizer.h"

namespace toadstool::optim {

struct AdamOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0;
  bool amsgrad = false;
  bool maximize = false;
};

// AdamW's defaults differ from Adam's only in weight_decay (1e-2).
struct AdamWOptions : AdamOptions {
  AdamWOptions() { weight_decay = 1e-2; }
};

// Per step t (counted per parameter from 1), with g = grad (negated when maximize):
//   Adam:  g += weight_decay * param        AdamW: param *= 1 - lr * weight_decay
//   exp_avg = beta1 * exp_avg + (1 - beta1) * g
//   exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g^2
//   v = amsgrad ? (max_exp_avg_sq = max(max_exp_avg_sq, exp_avg_sq)) : exp_avg_sq
//   param -= lr / (1 - beta1^t) * exp_avg / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// State: step, exp_avg, exp_avg_sq, and max_exp_avg_sq with amsgrad.
// Hyper-parameter names: lr, beta1, beta2, eps, weight_decay, amsgrad, maximize.
class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& options = {});
  Adam(std::vector<ParamGroup> groups, const AdamOptions& options = {});

  void validate(const Options& options) const override;
  std::vector<std::string> buffer_names(const Options& options) const override;
  bool counts_steps() const override { return true; }

 protected:
  Adam(const char* name, bool decoupled, std::vector<ParamGroup> groups,
       const AdamOptions& options);
  void update(const Options& options, const Tensor& param, const Tensor& grad, ParamState& state,
              StepBatch& batch) override;

 private:
  bool decoupled_;
};

class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, const AdamWOptions& options = {});
  AdamW(std::vector<ParamGroup> groups, const AdamWOptions& options = {});
};

}  // namespace toadstool::optim
