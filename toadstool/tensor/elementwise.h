#pragma once
// Internal to tensor/: the bridge from tensors to the kernel table's
// element-wise entries. Front-ends check and broadcast, allocate the output,
// then call run_elementwise with a functor of kernels/elementwise_list.h.
#include <initializer_list>
#include <span>

#include "toadstool/kernels/kernel_args.h"
#include "toadstool/tensor/scalar.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool::detail {

// Broadcast view of `t` with `shape` (stride 0 on broadcast dims).
Tensor expand_to(const Tensor& t, const Shape& shape, const char* op);

// Writes the geometry of operands that all have the output's shape into
// `plan`: innermost dim first, size-1 dims dropped, dims merged where every
// operand is contiguous across them. operands[0] is the output.
void make_plan(std::span<const Tensor* const> operands, kernels::StridedPlan& plan);

// out[i] = f(inputs[i]...) for the functor call.op in dtype call.dtype,
// where every input already has out's shape and the dtype the functor's
// signature takes; call carries the functor's scalars and binding (pass it
// as a temporary: it is large). Runs on out's device.
void run_elementwise(kernels::ElementwiseCall call, const Tensor& out,
                     std::initializer_list<const Tensor*> inputs = {});

// `s` for a kernel computing in `dtype`, checked as Scalar::to does
// (a float for an integer dtype is an error naming `op`).
kernels::KernelScalar kernel_scalar(const Scalar& s, DType dtype, const char* op);

// The dtype kernels compute a result of dtype `dt` in (float16/bfloat16 are
// computed in float32 and rounded once at the end).
inline DType compute_dtype(DType dt) { return is_reduced_float(dt) ? DType::Float32 : dt; }

// Converts a result computed in compute_dtype(dt) to `dt` (a no-op otherwise).
Tensor finish_result(const Tensor& computed, DType dt);

}  // namespace toadstool::detail
