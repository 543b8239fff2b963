// kernels/cuda/random.cu compiled as C++ for the warp emulator (../shim/): its
// entries run the CUDA kernels on the CPU (../emulated_backend.h).
#define register_random emulated_register_random
#include "toadstool/kernels/cuda/random.cu"
