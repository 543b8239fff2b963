// kernels/cuda/softmax.cu compiled as C++ for the warp emulator (../shim/): its
// entries run the CUDA kernels on the CPU (../emulated_backend.h).
#define register_softmax emulated_register_softmax
#include "toadstool/kernels/cuda/softmax.cu"
