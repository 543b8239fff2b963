// kernels/cuda/conv.cu compiled as C++ for the warp emulator (../shim/, with its
// cuBLAS model), its external functions renamed (../emulated_names.h, which
// tests/CMakeLists.txt includes first): its entries run the CUDA kernels on
// the CPU (../emulated_backend.h). Its chunks of images hold 2100 column
// elements here, not 64 Mi: two images of test_gemm_emulated.cpp's
// convolution (1008 columns an image), so its batch of 3 runs in chunks of
// 2 and 1.
#define TOADSTOOL_CONV_COLUMN_BUDGET 2100
#include "toadstool/kernels/cuda/conv.cu"
