#include "toadstool/tensor/dispatch.h"

#include "toadstool/config.h"

namespace toadstool::detail {

const kernels::Backend& cuda_backend_of(Device device) {
  // A CPU-only build keeps its "not built for cuda" errors; a build with the
  // backend says when the GPU is missing.
  if (TOADSTOOL_WITH_CUDA) {
    const int count = kernels::cuda_device_count();
    TS_CHECK(device.index < count, device, ": no such CUDA device (", count,
             count == 1 ? " device is" : " devices are",
             " available; cuda_is_available() tells whether there is any)");
    kernels::cuda_use_device(device.index);
  }
  return kernels::cuda_backend();
}

}  // namespace toadstool::detail
