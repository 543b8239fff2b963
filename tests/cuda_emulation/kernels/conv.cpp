// kernels/cuda/conv.cu compiled as C++ for the warp emulator (../shim/, which
// also renames its external functions and models cuBLAS): its entries run
// the CUDA kernels on the CPU (../emulated_backend.h).
#include "toadstool/kernels/cuda/conv.cu"
