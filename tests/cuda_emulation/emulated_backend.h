#pragma once
// CUDA kernel files compiled as C++ for the warp emulator (kernels/ here:
// each includes one file of toadstool/kernels/cuda/, the shim headers in
// place of CUDA's), gathered in one Backend table: its entries are the CUDA
// backend's own, launches and all, running on the CPU over host memory.
// The tests call it and the CPU backend with the same buffers and compare,
// as tests/cuda/ does with a GPU.
//
// The shim (shim/cuda_runtime.h) renames the files' external functions
// (emulated_register_*, emulated_current_stream, ...), so that they are not
// the library's, which this test also links (for the CPU backend) and which
// has the real ones in a CUDA build.
#include "toadstool/kernels/backend.h"

namespace toadstool::kernels::cuda {

void emulated_register_elementwise(Backend& b);    // convert, elementwise, triangle (not built
                                                   // under the sanitizers: tests/CMakeLists.txt)
void emulated_register_softmax(Backend& b);        // softmax_forward, softmax_backward
void emulated_register_layer_norm(Backend& b);     // layer_norm_* and dropout_add_layer_norm_*
void emulated_register_cross_entropy(Backend& b);  // cross_entropy_forward, cross_entropy_backward
void emulated_register_reduce(Backend& b);         // reduce
void emulated_register_random(Backend& b);         // the Philox fills, dropout
void emulated_register_optim(Backend& b);          // sgd_step, adam_step
void emulated_register_attention(Backend& b);      // attention_forward, attention_backward
void emulated_register_indexing(Backend& b);       // index_select, index_add, gather, scatter_add,
                                                   // hashed_bigrams, im2col, col2im
void emulated_register_lstm_cell(Backend& b);      // lstm_cell_forward, lstm_cell_backward
void emulated_register_gemm(Backend& b);           // gemm (cuBLAS: shim/cublas_v2.h's model)
void emulated_register_conv(Backend& b);           // conv_forward, conv_backward

// Those files' entries; every other entry is null.
const Backend& emulated_backend();

}  // namespace toadstool::kernels::cuda

namespace toadstool::kernels {
// emulated_backend(), for conv.cu's cuda_backend() (renamed by the shim).
const Backend& emulated_cuda_backend();
}  // namespace toadstool::kernels
