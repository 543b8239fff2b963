// Fused optimizer steps: argument checks, then the kernel table's
// sgd_step / adam_step entries.
#include "toadstool/tensor/dispatch.h"
#include "toadstool/tensor/kernel_args.h"
#include "toadstool/tensor/native_ops.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool::native {

namespace {

// Every state tensor matches the parameter: shape, dtype, device, layout.
Device check_step_operands(const char* op, const Tensor& param,
                           std::initializer_list<const Tensor*> state) {
  detail::check_defined(param, op);
  TS_CHECK(param.dtype() == DType::Float32 || param.dtype() == DType::Float64, op,
           ": expected a float32 or float64 parameter, got ", detail::describe(param));
  TS_CHECK(param.is_contiguous(), op, ": the parameter must be contiguous, got strides ",
           param.strides());
  for (const Tensor* t : state) {
    detail::check_defined(*t, op);
    detail::common_device(op, {&param, t});
    TS_CHECK(t->shape() == param.shape() && t->dtype() == param.dtype() && t->is_contiguous(), op,
             ": expected a contiguous ", detail::describe(param), " like the parameter, got ",
             detail::describe(*t));
  }
  return param.device();
}

// The gate's device pointer, or null without one.
const float* skip_flag(const char* op, const Tensor& param, const Tensor& skip_if_nonzero) {
  if (!skip_if_nonzero.defined()) return nullptr;
  detail::common_device(op, {&param, &skip_if_nonzero});
  TS_CHECK(skip_if_nonzero.numel() == 1 && skip_if_nonzero.dtype() == DType::Float32, op,
           ": the skip flag must be one float32 value, got ", detail::describe(skip_if_nonzero));
  return skip_if_nonzero.data_ptr<float>();  // one element: contiguous
}

}  // namespace

void sgd_step_(Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, SgdStep hp,
               const Tensor& skip_if_nonzero) {
  const char* op = "sgd_step_";
  TS_CHECK(hp.momentum == 0 || momentum_buffer.defined(), op, ": momentum ", hp.momentum,
           " needs a momentum buffer");
  const Device device = momentum_buffer.defined()
                            ? check_step_operands(op, param, {&grad, &momentum_buffer})
                            : check_step_operands(op, param, {&grad});
  hp.skip = skip_flag(op, param, skip_if_nonzero);
  TS_KERNEL(device, sgd_step, param.dtype(), param.data_ptr(), grad.data_ptr(),
            mutable_ptr_or_null(momentum_buffer), param.numel(), hp);
  param.bump_version();
}

void adam_step_(Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                const Tensor& max_exp_avg_sq, AdamStep hp, const Tensor& skip_if_nonzero) {
  const char* op = "adam_step_";
  const Device device =
      hp.amsgrad ? check_step_operands(op, param, {&grad, &exp_avg, &exp_avg_sq, &max_exp_avg_sq})
                 : check_step_operands(op, param, {&grad, &exp_avg, &exp_avg_sq});
  hp.skip = skip_flag(op, param, skip_if_nonzero);
  TS_KERNEL(device, adam_step, param.dtype(), param.data_ptr(), grad.data_ptr(), exp_avg.data_ptr(),
            exp_avg_sq.data_ptr(), hp.amsgrad ? max_exp_avg_sq.data_ptr() : nullptr, param.numel(),
            hp);
  param.bump_version();
}

}  // namespace toadstool::native
