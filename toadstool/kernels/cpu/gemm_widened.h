#pragma once
// GEMM of float16 / bfloat16 matrices on CPUs without a 16-bit kernel: the
// operands are widened to float32, multiplied by the float32 GEMM and the
// result rounded back once (float32 accumulation, as tensor cores do). It
// makes autocast work on every CPU; it is not faster than float32.
#include "toadstool/kernels/half.h"
#include "toadstool/kernels/kernel_args.h"

namespace toadstool::kernels::cpu {

void gemm_widened(const GemmCall& call, const Half* /*tag*/);
void gemm_widened(const GemmCall& call, const BFloat16* /*tag*/);

}  // namespace toadstool::kernels::cpu
