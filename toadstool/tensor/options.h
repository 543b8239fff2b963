#pragma once
#include "toadstool/tensor/device.h"
#include "toadstool/tensor/dtype.h"

namespace toadstool {

// What factory functions build: zeros({2, 3}, kFloat64) or
// zeros({2, 3}, TensorOptions().dtype(kInt64).device(kCPU)). What was not
// given is float32 on the CPU, except for the *_like factories, which take
// it from their tensor (as PyTorch's do): the *_given flags say which.
struct TensorOptions {
  DType dtype_ = DType::Float32;
  Device device_ = kCPU;
  bool dtype_given_ = false;
  bool device_given_ = false;

  TensorOptions() = default;
  TensorOptions(DType dt) : dtype_(dt), dtype_given_(true) {}       // NOLINT: implicit by design
  TensorOptions(Device dev) : device_(dev), device_given_(true) {}  // NOLINT: implicit by design
  TensorOptions dtype(DType dt) const {
    TensorOptions o = *this;
    o.dtype_ = dt;
    o.dtype_given_ = true;
    return o;
  }
  TensorOptions device(Device dev) const {
    TensorOptions o = *this;
    o.device_ = dev;
    o.device_given_ = true;
    return o;
  }
};

}  // namespace toadstool
