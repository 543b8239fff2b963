#pragma once
// Internal to tensor/: the copies between pinned host memory and a GPU that
// do not wait (Tensor::to(device, non_blocking = true)).
#include "toadstool/tensor/tensor.h"

namespace toadstool::detail {

// `src` (contiguous) copied to `device` on the current stream without a
// host synchronisation: from pinned host memory to a GPU, or from a GPU into
// a new pinned tensor. Undefined when neither applies (the caller copies and
// waits instead).
Tensor copy_non_blocking(const Tensor& src, Device device);

}  // namespace toadstool::detail
