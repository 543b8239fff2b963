#pragma once
// The CPU's element-wise entries of the kernel table (kernels/backend.h).
#include "toadstool/kernels/kernel_args.h"

namespace toadstool::kernels::cpu {

// Runs call.op, one of kernels/elementwise_list.h, over `plan` with the
// loop of kernels/cpu/loops.h.
void elementwise(const ElementwiseCall& call, const StridedPlan& plan);

// out = in converted from `from` to `to` (kernels/math.h's CastOp).
void convert(DType to, DType from, const StridedPlan& plan, void* out, const void* in);

}  // namespace toadstool::kernels::cpu
