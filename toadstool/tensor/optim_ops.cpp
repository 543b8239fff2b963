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

// hp_gate's pointers from the gate's tensors (none without a skip flag).
void set_gate(const char* op, const Tensor& param, const StepGateTensors& gate,
              kernels::StepGate& hp_gate) {
  if (!gate.skip.defined()) return;
  for (const Tensor* t : {&gate.skip, &gate.skipped}) {
    detail::check_defined(*t, op);
    detail::common_device(op, {&param, t});
    TS_CHECK(t->numel() == 1 && t->dtype() == DType::Float32, op,
             ": the gate's skip flag and skipped count must be one float32 value each, got ",
             detail::describe(*t));
  }
  TS_CHECK(hp_gate.step >= 1, op, ": a gated step needs its step count (>= 1), got ", hp_gate.step);
  hp_gate.skip = gate.skip.data_ptr<float>();  // one element: contiguous
  hp_gate.skipped = gate.skipped.data_ptr<float>();
}

}  // namespace

void sgd_step_(Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, SgdStep hp,
               const StepGateTensors& gate) {
  const char* op = "sgd_step_";
  TS_CHECK(hp.momentum == 0 || momentum_buffer.defined(), op, ": momentum ", hp.momentum,
           " needs a momentum buffer");
  const Device device = momentum_buffer.defined()
                            ? check_step_operands(op, param, {&grad, &momentum_buffer})
                            : check_step_operands(op, param, {&grad});
  set_gate(op, param, gate, hp.gate);
  TS_KERNEL(device, sgd_step, param.dtype(), param.data_ptr(), grad.data_ptr(),
            mutable_ptr_or_null(momentum_buffer), param.numel(), hp);
  param.bump_version();
}

void adam_step_(Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                const Tensor& max_exp_avg_sq, AdamStep hp, const StepGateTensors& gate) {
  const char* op = "adam_step_";
  const Device device =
      hp.amsgrad ? check_step_operands(op, param, {&grad, &exp_avg, &exp_avg_sq, &max_exp_avg_sq})
                 : check_step_operands(op, param, {&grad, &exp_avg, &exp_avg_sq});
  set_gate(op, param, gate, hp.gate);
  TS_KERNEL(device, adam_step, param.dtype(), param.data_ptr(), grad.data_ptr(), exp_avg.data_ptr(),
            exp_avg_sq.data_ptr(), hp.amsgrad ? max_exp_avg_sq.data_ptr() : nullptr, param.numel(),
            hp);
  param.bump_version();
}

}  // namespace toadstool::native
