// kernels/cuda/layer_norm.cu compiled as C++ for the warp emulator (../shim/): its
// entries run the CUDA kernels on the CPU (../emulated_backend.h).
#define register_layer_norm emulated_register_layer_norm
#include "toadstool/kernels/cuda/layer_norm.cu"
