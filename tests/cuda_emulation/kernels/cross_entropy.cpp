// kernels/cuda/cross_entropy.cu compiled as C++ for the warp emulator (../shim/): its
// entries run the CUDA kernels on the CPU (../emulated_backend.h).
#define register_cross_entropy emulated_register_cross_entropy
#include "toadstool/kernels/cuda/cross_entropy.cu"
