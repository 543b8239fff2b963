#pragma once
// Our own single-precision GEMM: operands packed into panels, a register-tile
// micro-kernel, and cache blocking in the GotoBLAS / BLIS way (docs/design.md,
// "GEMM"). kernels/cpu/gemm.cpp sends float products here when they are big
// enough to repay the packing.
#include "toadstool/kernels/cpu/gemm_args.h"

namespace toadstool::kernels::cpu {

// g on `threads` threads of the OpenMP team, or on the calling thread when
// threads == 1 (as inside a parallel region). M, N and K are positive.
// Threads share one packed panel of B and split the rows of C; a product
// with too few rows for that splits the columns instead.
void gemm_packed(const GemmArgs<float>& g, int threads);

}  // namespace toadstool::kernels::cpu
