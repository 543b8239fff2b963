// kernels/cuda/lstm_cell.cu compiled as C++ for the warp emulator (../shim/, which
// also renames its external functions): its entries run the CUDA kernels on
// the CPU (../emulated_backend.h).
#include "toadstool/kernels/cuda/lstm_cell.cu"
