#pragma once
// Internal to tensor/: how front-ends reach a device's kernel table
// (kernels/backend.h).
//
//   TS_KERNEL(device, softmax_forward, dtype, x, y, ...);
//
// calls the entry of that device's backend with the arguments after its
// name, or throws toadstool::Error "softmax_forward: not built for cuda:0"
// when the backend lacks it. TS_KERNEL_ENTRY(device, name) is the entry
// itself (the same check, no call).
#include "toadstool/kernels/backend.h"
#include "toadstool/tensor/device.h"
#include "toadstool/tensor/error.h"

namespace toadstool::detail {

// The CUDA table, after checking that the device exists when the backend is
// built (an Error naming the device otherwise).
const kernels::Backend& cuda_backend_of(Device device);

// The table of a device type (the CUDA one is empty in a CPU-only build).
inline const kernels::Backend& backend_of(Device device) {
  return device.is_cuda() ? cuda_backend_of(device) : kernels::cpu_backend();
}

template <class Fn>
Fn& require_kernel(Fn* entry, const char* kernel, Device device) {
  TS_CHECK(entry != nullptr, kernel, ": not built for ", device);
  return *entry;
}

}  // namespace toadstool::detail

#define TS_KERNEL_ENTRY(device, name) \
  ::toadstool::detail::require_kernel(::toadstool::detail::backend_of(device).name, #name, (device))
#define TS_KERNEL(device, name, ...) TS_KERNEL_ENTRY(device, name)(__VA_ARGS__)
