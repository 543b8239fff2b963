// kernels/cuda/indexing.cu compiled as C++ for the warp emulator (../shim/, which
// also renames its external functions, and stands in for CUB's sort): its
// entries run the CUDA kernels on the CPU (../emulated_backend.h).
#include "toadstool/kernels/cuda/indexing.cu"
