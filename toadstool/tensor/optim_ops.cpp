// Fused optimizer steps: argument checks, then the kernel table's
// sgd_step / adam_step entries.
#include <cstdint>
#include <iterator>
#include <map>
#include <span>
#include <utility>
#include <vector>

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

// The bytes a contiguous parameter occupies, [first, second).
std::pair<uintptr_t, uintptr_t> byte_range(const Tensor& t) {
  const auto begin = reinterpret_cast<uintptr_t>(t.data_ptr());
  return {begin, begin + static_cast<uintptr_t>(t.numel()) * t.element_size()};
}

// One kernel call per run of consecutive steps with one device and dtype
// (calls[first, last) share steps[first]'s), whose parameters do not
// overlap: a backend may run a call's steps at once (CUDA does), so two
// parameters on one memory (tied weights) go to separate calls, in order.
// Each run's parameters get their version bumped as soon as it has run.
template <class Steps, class Calls, class Launch>
void run_by_device_and_dtype(const Steps& steps, const Calls& calls, const Launch& launch) {
  for (size_t first = 0; first < steps.size();) {
    const Tensor& lead = steps[first].param;
    std::map<uintptr_t, uintptr_t> taken;  // the run's byte ranges, begin -> end
    auto joins = [&](const Tensor& p) {
      if (p.device() != lead.device() || p.dtype() != lead.dtype()) return false;
      const auto [begin, end] = byte_range(p);
      if (begin == end) return true;  // empty: no memory
      auto next = taken.lower_bound(begin);
      if (next != taken.end() && next->first < end) return false;
      if (next != taken.begin() && std::prev(next)->second > begin) return false;
      taken.emplace(begin, end);
      return true;
    };
    size_t last = first;
    while (last < steps.size() && joins(steps[last].param)) ++last;
    launch(lead.device(), lead.dtype(), calls.data() + first, static_cast<int64_t>(last - first));
    for (size_t i = first; i < last; ++i) steps[i].param.bump_version();
    first = last;
  }
}

}  // namespace

void sgd_steps_(std::span<const SgdStepTensors> steps) {
  const char* op = "sgd_step_";
  std::vector<kernels::SgdStepCall> calls;
  calls.reserve(steps.size());
  for (const SgdStepTensors& s : steps) {
    TS_CHECK(s.hp.momentum == 0 || s.momentum_buffer.defined(), op, ": momentum ", s.hp.momentum,
             " needs a momentum buffer");
    if (s.momentum_buffer.defined()) {
      check_step_operands(op, s.param, {&s.grad, &s.momentum_buffer});
    } else {
      check_step_operands(op, s.param, {&s.grad});
    }
    kernels::SgdStepCall& call = calls.emplace_back();
    call.hp = s.hp;
    set_gate(op, s.param, s.gate, call.hp.gate);
    call.param = s.param.data_ptr();
    call.grad = s.grad.data_ptr();
    call.momentum_buffer = mutable_ptr_or_null(s.momentum_buffer);
    call.n = s.param.numel();
  }
  run_by_device_and_dtype(steps, calls,
                          [](const Device& device, DType dtype, const kernels::SgdStepCall* first,
                             int64_t count) { TS_KERNEL(device, sgd_step, dtype, first, count); });
}

void adam_steps_(std::span<const AdamStepTensors> steps) {
  const char* op = "adam_step_";
  std::vector<kernels::AdamStepCall> calls;
  calls.reserve(steps.size());
  for (const AdamStepTensors& s : steps) {
    if (s.hp.amsgrad) {
      check_step_operands(op, s.param, {&s.grad, &s.exp_avg, &s.exp_avg_sq, &s.max_exp_avg_sq});
    } else {
      check_step_operands(op, s.param, {&s.grad, &s.exp_avg, &s.exp_avg_sq});
    }
    kernels::AdamStepCall& call = calls.emplace_back();
    call.hp = s.hp;
    set_gate(op, s.param, s.gate, call.hp.gate);
    call.param = s.param.data_ptr();
    call.grad = s.grad.data_ptr();
    call.exp_avg = s.exp_avg.data_ptr();
    call.exp_avg_sq = s.exp_avg_sq.data_ptr();
    call.max_exp_avg_sq = s.hp.amsgrad ? s.max_exp_avg_sq.data_ptr() : nullptr;
    call.n = s.param.numel();
  }
  run_by_device_and_dtype(steps, calls,
                          [](const Device& device, DType dtype, const kernels::AdamStepCall* first,
                             int64_t count) { TS_KERNEL(device, adam_step, dtype, first, count); });
}

void sgd_step_(Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, SgdStep hp,
               const StepGateTensors& gate) {
  const SgdStepTensors step{param, grad, momentum_buffer, hp, gate};
  sgd_steps_(std::span(&step, 1));
}

void adam_step_(Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                const Tensor& max_exp_avg_sq, AdamStep hp, const StepGateTensors& gate) {
  const AdamStepTensors step{param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, hp, gate};
  adam_steps_(std::span(&step, 1));
}

}  // namespace toadstool::native
