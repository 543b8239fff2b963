#include "toadstool/kernels/backend.h"

#include "toadstool/config.h"

namespace toadstool::kernels {

#if !TOADSTOOL_WITH_CUDA
// This build has no CUDA backend: its table is empty, so every CUDA kernel
// call is the dispatcher's "not built for cuda" error.
const Backend& cuda_backend() {
  static const Backend backend{.device = "cuda"};
  return backend;
}
#endif

}  // namespace toadstool::kernels
