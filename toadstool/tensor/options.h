#pragma once
#include "toadstool/tensor/device.h"
#include "toadstool/tensor/dtype.h"

namespace toadstool {

// What factory functions build: zeros({2, 3}, kFloat64) or
// zeros({2, 3}, TensorOptions().dtype(kInt64).device(kCPU)).
struct TensorOptions {
  DType dtype_ = DType::Float32;
  Device device_ = kCPU;

  TensorOptions() = default;
  TensorOptions(DType dt) : dtype_(dt) {}      // NOLINT: implicit by design
  TensorOptions(Device dev) : device_(dev) {}  // NOLINT: implicit by design
  TensorOptions dtype(DType dt) const {
    TensorOptions o = *this;
    o.dtype_ = dt;
    return o;
  }
  TensorOptions device(Device dev) const {
    TensorOptions o = *this;
    o.device_ = dev;
    return o;
  }
};

}  // namespace toadstool
