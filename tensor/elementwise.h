#pragma once
// Internal to tensor/: the bridge from tensors to the element-wise CPU loop.
// Front-ends check and broadcast, allocate the output, then call
// run_elementwise with a functor from kernels/math.h.
#include <array>

#include "kernels/cpu/loops.h"
#include "tensor/shape_utils.h"

namespace toadstool::detail {

// Broadcast view of `t` with `shape` (stride 0 on broadcast dims).
Tensor expand_to(const Tensor& t, const Shape& shape, const char* op);

// Geometry of operands that all have the output's shape: innermost dim first,
// size-1 dims dropped, dims merged where every operand is contiguous across
// them. operands[0] is the output.
template <int N>
kernels::cpu::StridedPlan<N> make_plan(const std::array<const Tensor*, N>& operands) {
  kernels::cpu::StridedPlan<N> plan;
  const Tensor& out = *operands[0];
  plan.numel = out.numel();
  int nd = 0;
  for (int64_t d = out.dim() - 1; d >= 0; --d) {
    const int64_t size = out.shape()[d];
    if (size == 1) continue;
    // Merge into the previous (inner) dim when that is contiguous with this one.
    bool merge = nd > 0;
    for (int k = 0; k < N && merge; ++k) {
      merge = operands[k]->strides()[d] == plan.strides[k][nd - 1] * plan.sizes[nd - 1];
    }
    if (merge) {
      plan.sizes[nd - 1] *= size;
      continue;
    }
    TS_CHECK(nd < kernels::cpu::kMaxLoopDims, "element-wise op: tensor ", out.shape(),
             " has more than ", kernels::cpu::kMaxLoopDims, " non-mergeable dims");
    plan.sizes[nd] = size;
    for (int k = 0; k < N; ++k) plan.strides[k][nd] = operands[k]->strides()[d];
    ++nd;
  }
  if (nd == 0) {  // a single element
    plan.sizes[0] = 1;
    for (int k = 0; k < N; ++k) plan.strides[k][0] = 1;
    nd = 1;
  }
  plan.ndim = nd;
  return plan;
}

// out[i] = f(inputs[i]...), where every input already has out's shape.
// Out and In... are the element types the functor works in.
template <class Out, class... In, class F, class... Tensors>
void run_elementwise(const F& f, const Tensor& out, const Tensors&... inputs) {
  static_assert(sizeof...(In) == sizeof...(Tensors), "one element type per input");
  if (out.numel() == 0) return;
  const auto plan = make_plan<1 + sizeof...(Tensors)>({&out, &inputs...});
  kernels::cpu::elementwise(plan, f, static_cast<Out*>(out.data_ptr()),
                            static_cast<const In*>(inputs.data_ptr())...);
}

// The dtype kernels compute a result of dtype `dt` in (float16/bfloat16 are
// computed in float32 and rounded once at the end).
inline DType compute_dtype(DType dt) { return is_reduced_float(dt) ? DType::Float32 : dt; }

// Converts a result computed in compute_dtype(dt) to `dt` (a no-op otherwise).
Tensor finish_result(const Tensor& computed, DType dt);

}  // namespace toadstool::detail
