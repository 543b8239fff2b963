#pragma once
// Each kernel file of the CUDA backend fills its own entries of the table;
// backend.cu calls these to build it.
#include "toadstool/kernels/backend.h"

namespace toadstool::kernels::cuda {

void register_elementwise(Backend& b);  // convert, elementwise, triangle
void register_indexing(Backend& b);     // index_select, index_add, gather, scatter_add, bigrams,
                                        // im2col, col2im
void register_random(Backend& b);       // the Philox fills
void register_optim(Backend& b);        // sgd_step, adam_step
void register_reduce(Backend& b);       // reduce
void register_gemm(Backend& b);         // gemm (cuBLAS)
void register_rows(Backend& b);         // softmax, layer norm, cross-entropy fwd + bwd
void register_attention(Backend& b);    // attention fwd + bwd
void register_lstm_cell(Backend& b);    // lstm_cell_forward, lstm_cell_backward
void register_conv(Backend& b);         // conv_forward, conv_backward (im2col + cuBLAS)

}  // namespace toadstool::kernels::cuda
