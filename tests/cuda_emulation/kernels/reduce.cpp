// kernels/cuda/reduce.cu compiled as C++ for the warp emulator (../shim/): its
// entries run the CUDA kernels on the CPU (../emulated_backend.h).
#define register_reduce emulated_register_reduce
#include "toadstool/kernels/cuda/reduce.cu"
