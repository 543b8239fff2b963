// kernels/cuda/optim.cu compiled as C++ for the warp emulator (../shim/): its
// entries run the CUDA kernels on the CPU (../emulated_backend.h).
#define register_optim emulated_register_optim
#include "toadstool/kernels/cuda/optim.cu"
