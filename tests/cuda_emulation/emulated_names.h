#pragma once
// Included first by the emulation test's copies of the CUDA files
// (kernels/*.cpp; tests/CMakeLists.txt passes -include): the functions of external linkage that
// they define or call, renamed (emulated_*) so that they are not the library's, which the test also
// links (for the CPU backend) and which has its own in a CUDA build (TOADSTOOL_CUDA=ON or
// EMULATED). current_stream (common.cuh, streams.cu's) is emulated_backend.cpp's;
// emulated_backend.h declares the registers.
#define current_stream emulated_current_stream
#define register_softmax emulated_register_softmax
#define register_layer_norm emulated_register_layer_norm
#define register_cross_entropy emulated_register_cross_entropy
#define register_reduce emulated_register_reduce
#define register_random emulated_register_random
#define register_optim emulated_register_optim
#define register_attention emulated_register_attention
#define register_indexing emulated_register_indexing
#define register_elementwise emulated_register_elementwise
#define register_lstm_cell emulated_register_lstm_cell
#define register_gemm emulated_register_gemm
#define register_conv emulated_register_conv
// conv.cu calls its own table's im2col and gemm: the emulated one.
#define cuda_backend emulated_cuda_backend
#define attention_tiled_takes emulated_attention_tiled_takes
#define attention_tiled_forward emulated_attention_tiled_forward
#define attention_tiled_backward emulated_attention_tiled_backward
// At most three blocks a grid (kernels/cuda/common.cuh's blocks_for and
// block_reduce.cuh's grid_for): every grid-stride loop over rows, items or
// elements runs several times a block, with the barriers between its
// rounds, as it does on a GPU only for very large tensors.
#define TOADSTOOL_EMULATION_GRID_CAP 3
