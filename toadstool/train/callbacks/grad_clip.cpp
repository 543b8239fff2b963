#include "toadstool/train/callbacks/grad_clip.h"

#include <limits>
#include <vector>

#include "toadstool/distributed/zero.h"
#include "toadstool/nn/clip_grad.h"
#include "toadstool/tensor/error.h"
#include "toadstool/train/trainer.h"

namespace toadstool::train {
namespace {
constexpr double kUnset = std::numeric_limits<double>::quiet_NaN();
}  // namespace

GradClipCallback::GradClipCallback(double max_norm, double norm_type, bool error_if_nonfinite)
    : max_norm_(max_norm),
      norm_type_(norm_type),
      clip_value_(kUnset),
      error_if_nonfinite_(error_if_nonfinite),
      last_norm_(kUnset) {
  TS_CHECK(max_norm >= 0, "GradClipCallback: max_norm must be >= 0, got ", max_norm);
  TS_CHECK(norm_type > 0, "GradClipCallback: norm_type must be > 0 (or inf), got ", norm_type);
}

std::shared_ptr<GradClipCallback> GradClipCallback::by_value(double clip_value) {
  TS_CHECK(clip_value >= 0, "GradClipCallback::by_value: clip_value must be >= 0, got ",
           clip_value);
  auto callback = std::make_shared<GradClipCallback>();
  callback->by_value_ = true;
  callback->max_norm_ = callback->norm_type_ = kUnset;
  callback->clip_value_ = clip_value;
  return callback;
}

void GradClipCallback::begin_optim(Trainer& trainer) {
  // ZeRO-1: each rank's gradients are its own until the optimizer averages
  // them; it clips the mean, as one process would.
  if (auto* zero = dynamic_cast<distributed::ZeroRedundancyOptimizer*>(trainer.optimizer.get())) {
    if (by_value_) {
      zero->clip_grad_value_(clip_value_);
    } else {
      last_norm_ = zero->clip_grad_norm_(max_norm_, norm_type_, error_if_nonfinite_);
    }
    return;
  }
  std::vector<Tensor> params;
  for (const auto& group : trainer.optimizer->param_groups()) {
    params.insert(params.end(), group.params.begin(), group.params.end());
  }
  if (by_value_) {
    nn::clip_grad_value_(params, clip_value_);
  } else {
    last_norm_ = nn::clip_grad_norm_(params, max_norm_, norm_type_, error_if_nonfinite_);
  }
}

}  // namespace toadstool::train
