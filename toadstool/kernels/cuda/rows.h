#pragma once
// The row kernels' files (softmax.cu, layer_norm.cu, cross_entropy.cu) each
// fill their own entries; rows.cu's register_rows (registry.h) calls them.
#include "toadstool/kernels/backend.h"

namespace toadstool::kernels::cuda {

void register_softmax(Backend& b);        // softmax_forward, softmax_backward
void register_layer_norm(Backend& b);     // layer_norm_forward, layer_norm_backward
void register_cross_entropy(Backend& b);  // cross_entropy_forward, cross_entropy_backward

}  // namespace toadstool::kernels::cuda
