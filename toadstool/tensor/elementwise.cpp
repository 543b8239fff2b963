#include "toadstool/tensor/elementwise.h"

#include <array>

#include "toadstool/tensor/dispatch.h"

namespace toadstool::detail {

void make_plan(std::span<const Tensor* const> operands, kernels::StridedPlan& plan) {
  plan.operands = static_cast<int>(operands.size());
  TS_CHECK(plan.operands <= kernels::kMaxOperands, "element-wise op: ", plan.operands,
           " operands, at most ", kernels::kMaxOperands);
  const Tensor& out = *operands.front();
  plan.numel = out.numel();
  int nd = 0;
  for (int64_t d = out.dim() - 1; d >= 0; --d) {
    const int64_t size = out.shape()[d];
    if (size == 1) continue;
    // Merge into the previous (inner) dim when that is contiguous with this one.
    bool merge = nd > 0;
    int k = 0;
    for (const Tensor* t : operands) {
      merge = merge && t->strides()[d] == plan.strides[k][nd - 1] * plan.sizes[nd - 1];
      ++k;
    }
    if (merge) {
      plan.sizes[nd - 1] *= size;
      continue;
    }
    TS_CHECK(nd < kernels::kMaxLoopDims, "element-wise op: tensor ", out.shape(), " has more than ",
             kernels::kMaxLoopDims, " non-mergeable dims");
    plan.sizes[nd] = size;
    k = 0;
    for (const Tensor* t : operands) plan.strides[k++][nd] = t->strides()[d];
    ++nd;
  }
  if (nd == 0) {  // a single element
    plan.sizes[0] = 1;
    for (int k = 0; k < plan.operands; ++k) plan.strides[k][0] = 1;
    nd = 1;
  }
  plan.ndim = nd;
}

void run_elementwise(kernels::ElementwiseCall call, const Tensor& out,
                     std::initializer_list<const Tensor*> inputs) {
  if (out.numel() == 0) return;
  TS_CHECK(inputs.size() < kernels::kMaxOperands, "element-wise op: ", inputs.size(),
           " inputs, at most ", kernels::kMaxOperands - 1);
  std::array<const Tensor*, kernels::kMaxOperands> operands{&out};
  size_t n = 1;
  for (const Tensor* t : inputs) {  // on out's device: the front-end has checked
    call.in[n - 1] = t->data_ptr();
    operands[n++] = t;
  }
  call.out = out.data_ptr();
  kernels::StridedPlan plan;
  make_plan(std::span(operands.data(), n), plan);
  TS_KERNEL(out.device(), elementwise, call, plan);
}

kernels::KernelScalar kernel_scalar(const Scalar& s, DType dtype, const char* op) {
  kernels::KernelScalar k;
  if (is_floating(dtype)) {
    k.f = s.to_double();
  } else if (dtype == DType::Bool) {
    k.i = s.to<bool>(op);
  } else {
    k.i = s.to<int64_t>(op);
  }
  return k;
}

}  // namespace toadstool::detail
