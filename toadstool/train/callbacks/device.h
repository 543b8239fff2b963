#pragma once
// DeviceCallback: moves each batch to a device. At begin_batch it moves x,
// and y when move_y is set (without waiting when they are in pinned memory:
// DataLoaderOptions::pin_memory); with move_y false it instead moves the
// prediction back to the host (the CPU) at after_pred, so the loss runs
// there against the y the loader gave (Toadstool's original semantics).
//
// It does not move the model: as in PyTorch, call model->to(device) before
// the optimizer is built. At begin_fit, begin_eval and begin_predict it
// checks that every parameter is on the device and otherwise throws an Error
// naming the first that is not, rather than failing inside the first batch.
//
// CudaCallback is the same callback under the name Toadstool users know.
#include "toadstool/tensor/device.h"
#include "toadstool/train/callback.h"

namespace toadstool::train {

class DeviceCallback : public CallbackBase<DeviceCallback> {
 public:
  // Error: a CUDA device in a build without the CUDA backend.
  explicit DeviceCallback(Device device, bool move_y = true)
      : DeviceCallback(device, move_y, "DeviceCallback") {}

  Device device() const { return device_; }
  bool move_y() const { return move_y_; }

  void begin_fit(Trainer& trainer) override;
  void begin_eval(Trainer& trainer) override;
  void begin_predict(Trainer& trainer) override;
  void begin_batch(Trainer& trainer) override;
  void after_pred(Trainer& trainer) override;

 protected:
  // `who` names the class in the constructor's Error (name() cannot yet).
  DeviceCallback(Device device, bool move_y, const char* who);

 private:
  void check_model(const Trainer& trainer) const;

  Device device_;
  bool move_y_;
};

// DeviceCallback on cuda:0 by default; describe() lists it as CudaCallback.
class CudaCallback : public DeviceCallback {
 public:
  explicit CudaCallback(Device device = Device(DeviceType::CUDA, 0), bool move_y = true)
      : DeviceCallback(device, move_y, "CudaCallback") {}
};

}  // namespace toadstool::train
