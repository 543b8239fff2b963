#pragma once
// GradClipCallback: clips the gradients before each optimizer step
// (begin_optim, after an accumulation window's gradients are averaged), over
// every parameter of the trainer's optimizer.
// - By norm (the default): nn::clip_grad_norm_ with max_norm and norm_type,
//   as torch.nn.utils.clip_grad_norm_. last_norm() is the total norm before
//   clipping at the last step, for monitoring; computing it reads one number
//   from the device per step.
// - By value (GradClipCallback::by_value): nn::clip_grad_value_ clamps each
//   gradient element into [-clip_value, clip_value]; last_norm() stays NaN.
// With a distributed::ZeroRedundancyOptimizer it clips the ranks' mean
// gradient through the optimizer (its clip_grad_norm_ / clip_grad_value_).
#include <memory>

#include "toadstool/train/callback.h"

namespace toadstool::train {

class GradClipCallback : public CallbackBase<GradClipCallback> {
 public:
  // Errors: max_norm < 0, norm_type <= 0 (nn::kInfNorm is the max norm).
  explicit GradClipCallback(double max_norm = 1.0, double norm_type = 2.0,
                            bool error_if_nonfinite = false);
  // Error: clip_value < 0.
  static std::shared_ptr<GradClipCallback> by_value(double clip_value);

  bool clips_by_value() const { return by_value_; }
  double max_norm() const { return max_norm_; }
  double norm_type() const { return norm_type_; }
  double clip_value() const { return clip_value_; }
  // The gradients' total norm before clipping at the last step (NaN before
  // the first, and when clipping by value).
  double last_norm() const { return last_norm_; }

  void begin_optim(Trainer& trainer) override;

 private:
  bool by_value_ = false;
  double max_norm_, norm_type_, clip_value_;
  bool error_if_nonfinite_;
  double last_norm_;
};

}  // namespace toadstool::train
