// emulated_backend() and the runtime call the emulated files make.
#include "emulated_backend.h"

#include <cuda_runtime.h>  // the shim: cudaStream_t

namespace toadstool::kernels::cuda {

// current_stream() of the emulated files (emulated_names.h renames it): the
// default stream.
cudaStream_t emulated_current_stream() { return nullptr; }

const Backend& emulated_backend() {
  static const Backend table = [] {
    // The tests read their buffers as soon as an entry returns: the
    // emulated device runs each kernel when it is launched.
    emu::Device::get().set_asynchronous(false);
    Backend b{};
#if defined(TOADSTOOL_EMULATED_ELEMENTWISE)  // not in the sanitizer build (tests/CMakeLists.txt)
    emulated_register_elementwise(b);
#endif
    emulated_register_softmax(b);
    emulated_register_layer_norm(b);
    emulated_register_cross_entropy(b);
    emulated_register_reduce(b);
    emulated_register_random(b);
    emulated_register_optim(b);
    emulated_register_attention(b);
    emulated_register_indexing(b);
    emulated_register_lstm_cell(b);
    emulated_register_gemm(b);
    emulated_register_conv(b);
    return b;
  }();
  return table;
}

}  // namespace toadstool::kernels::cuda

namespace toadstool::kernels {
const Backend& emulated_cuda_backend() { return cuda::emulated_backend(); }
}  // namespace toadstool::kernels
