#include "toadstool/tensor/dispatch.h"

namespace toadstool::detail {

const kernels::Backend& backend_of(Device device) {
  return device.is_cuda() ? kernels::cuda_backend() : kernels::cpu_backend();
}

}  // namespace toadstool::detail
