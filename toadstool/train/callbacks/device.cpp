#include "toadstool/train/callbacks/device.h"

#include "toadstool/tensor/error.h"
#include "toadstool/train/trainer.h"

namespace toadstool::train {

DeviceCallback::DeviceCallback(Device device, bool move_y, const char* who)
    : device_(device), move_y_(move_y) {
  // Checked here, not at the first batch: the message then points at the set-up.
  TS_CHECK(!device_.is_cuda() || cuda_is_built(), who, ": device ", device_,
           " requested, but this build of Toadstool has no CUDA backend (configure with "
           "TOADSTOOL_CUDA=ON where nvcc is installed)");
  TS_CHECK(!device_.is_cuda() || cuda_is_available(), who, ": device ", device_,
           " requested, but no CUDA device is available (cuda_is_available() is false)");
}

void DeviceCallback::check_model(const Trainer& trainer) const {
  for (const auto& [param_name, param] : trainer.model->named_parameters()) {
    TS_CHECK(param.device() == device_, name(), ": the model's parameter '", param_name, "' is on ",
             param.device(), " but batches go to ", device_,
             "; move the model first (model->to(device), before building the optimizer)");
  }
}

void DeviceCallback::begin_fit(Trainer& trainer) { check_model(trainer); }
void DeviceCallback::begin_eval(Trainer& trainer) { check_model(trainer); }
void DeviceCallback::begin_predict(Trainer& trainer) { check_model(trainer); }

// Non-blocking: a batch in pinned memory (DataLoader's pin_memory) is queued
// on the current stream, which the model's kernels then run after, so the
// host goes on without waiting; any other batch is copied and waited for.
void DeviceCallback::begin_batch(Trainer& trainer) {
  trainer.x = trainer.x.to(device_, /*non_blocking=*/true);
  // Predict batches may have no y.
  if (move_y_ && trainer.y.defined()) trainer.y = trainer.y.to(device_, /*non_blocking=*/true);
}

void DeviceCallback::after_pred(Trainer& trainer) {
  if (!move_y_) trainer.y_pred = trainer.y_pred.to(kCPU);
}

}  // namespace toadstool::train
