#pragma once
// Dynamic loss scaling for float16 mixed precision (PyTorch's
// torch.amp.GradScaler). Float16 gradients of small magnitude underflow to
// zero; scaling the loss by S scales every gradient by S, and the optimizer
// sees them divided by S again. When a step's gradients hold an inf or NaN,
// the step is skipped and S shrinks; after growth_interval clean steps it
// grows.
//
//   Tensor loss = ...;              // under Autocast(DeviceType::CUDA, kFloat16)
//   scaler.scale(loss).backward();
//   scaler.unscale_(*optimizer);    // optional: to clip the true gradients
//   scaler.step(*optimizer);        // skipped on the device after an overflow
//   scaler.update();
//
// Nothing here reads a device value on the host: the overflow flag, the
// scale and its update stay on the loss's device, and the optimizer's
// kernels read the flag themselves and count skipped steps on the device
// (Optimizer::step(skip_if_nonzero), docs/mixed_precision.md).
#include <cstdint>
#include <unordered_map>

#include "toadstool/nn/optim/optimizer.h"
#include "toadstool/tensor/tensor.h"
#include "toadstool/tensor/tensor_dict.h"

namespace toadstool::optim {

struct GradScalerOptions {
  double init_scale = 65536.0;  // 2^16; powers of two scale and unscale exactly
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;
  bool enabled = true;  // false: every call passes through (scale() returns the loss)
};

class GradScaler {
 public:
  // Errors: growth_factor <= 1, backoff_factor not in (0, 1), init_scale
  // not positive and finite, growth_interval < 1.
  explicit GradScaler(GradScalerOptions options = {});

  // loss * scale, in float32 on the loss's device.
  Tensor scale(const Tensor& loss);
  // Divides the gradients of the optimizer's parameters by the scale, in
  // place, and notes on the device whether any gradient holds an inf or NaN.
  // Once per optimizer between update() calls (an Error otherwise); step()
  // calls it when the caller has not.
  void unscale_(Optimizer& optimizer);
  // optimizer.step(), skipped on the device when unscale_ found an inf or NaN.
  void step(Optimizer& optimizer);
  // The scale for the next iteration: times backoff_factor after an
  // overflow in any stepped optimizer, times growth_factor after
  // growth_interval clean steps in a row (unless that overflows float32).
  // An Error when no optimizer was unscaled since the last update.
  void update();

  // The current scale (a host read: a device sync on a GPU); init_scale
  // before the first scale().
  double get_scale() const;
  bool is_enabled() const { return options_.enabled; }
  const GradScalerOptions& options() const { return options_; }

  // PyTorch's entries: scale (float32), growth_factor and backoff_factor
  // (float64), growth_interval and _growth_tracker (int64); 0-d each.
  // Empty when disabled.
  TensorDict state_dict() const;
  // Checks every entry before changing anything; an empty dict leaves the
  // scaler as it is (a disabled scaler's state).
  void load_state_dict(const TensorDict& dict);

 private:
  struct OptimizerRecord {
    bool unscaled = false;
    bool stepped = false;
    Tensor found_inf;  // 0-d float32: 1 when a gradient was not finite
  };

  OptimizerRecord& record_of(const Optimizer& optimizer);

  GradScalerOptions options_;
  Tensor scale_;           // 0-d float32, moved to the loss's device by scale()
  Tensor growth_tracker_;  // 0-d float32: clean steps since the scale last changed
  std::unordered_map<const Optimizer*, OptimizerRecord> records_;
};

}  // namespace toadstool::optim
