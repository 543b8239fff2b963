// kernels/cuda/layer_norm.cu compiled as C++ for the warp emulator (../shim/), its
// external functions renamed (../emulated_names.h, which tests/CMakeLists.txt
// includes first): its entries run the CUDA kernels on the CPU
// (../emulated_backend.h).
#include "toadstool/kernels/cuda/layer_norm.cu"
