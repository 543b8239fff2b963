// register_rows (registry.h): the row kernels, one file each (rows.h).
#include "toadstool/kernels/cuda/registry.h"
#include "toadstool/kernels/cuda/rows.h"

namespace toadstool::kernels::cuda {

void register_rows(Backend& b) {
  register_softmax(b);
  register_layer_norm(b);
  register_cross_entropy(b);
}

}  // namespace toadstool::kernels::cuda
