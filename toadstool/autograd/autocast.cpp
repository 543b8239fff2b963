#include "toadstool/autograd/autocast.h"

#include <array>

#include "toadstool/autograd/grad_mode.h"
#include "toadstool/autograd/node.h"
#include "toadstool/autograd/ops.h"
#include "toadstool/autograd/record.h"
#include "toadstool/tensor/native_ops.h"

namespace toadstool {

namespace {

enum class Policy : uint8_t { LowerPrecision, Float32 };

constexpr std::array kPolicies = {
#define TOADSTOOL_AUTOCAST(name, policy) Policy::policy,
#include "toadstool/autograd/autocast_list.h"
#undef TOADSTOOL_AUTOCAST
};

constexpr size_t kDeviceTypes = 2;  // DeviceType::CPU, DeviceType::CUDA

struct AutocastState {
  std::array<bool, kDeviceTypes> enabled{};
  std::array<DType, kDeviceTypes> dtype{kBFloat16, kFloat16};
  bool any() const { return enabled[0] || enabled[1]; }
};

AutocastState& state() {
  thread_local AutocastState s;
  return s;
}

size_t slot(DeviceType device) { return static_cast<size_t>(device); }

DType default_dtype(DeviceType device) { return device == DeviceType::CUDA ? kFloat16 : kBFloat16; }

}  // namespace

Autocast::Autocast(DeviceType device, std::optional<DType> dtype, bool enabled)
    : device_(device),
      previous_enabled_(state().enabled[slot(device)]),
      previous_dtype_(state().dtype[slot(device)]) {
  const DType d = dtype.value_or(default_dtype(device));
  TS_CHECK(is_reduced_float(d), "Autocast: expected float16 or bfloat16, got ", d);
  state().enabled[slot(device)] = enabled;
  state().dtype[slot(device)] = d;
}

Autocast::~Autocast() {
  state().enabled[slot(device_)] = previous_enabled_;
  state().dtype[slot(device_)] = previous_dtype_;
}

bool is_autocast_enabled(DeviceType device) { return state().enabled[slot(device)]; }

DType autocast_dtype(DeviceType device) { return state().dtype[slot(device)]; }

namespace autocast {

namespace {

// The dtype op `op` takes t in, or t's own when autocast leaves it alone.
DType target_dtype(Op op, const Tensor& t) {
  const AutocastState& s = state();
  if (!s.any() || !t.defined() || !s.enabled[slot(t.device().type)] || !is_floating(t.dtype()))
    return t.defined() ? t.dtype() : kFloat32;
  switch (kPolicies[static_cast<size_t>(op)]) {
    case Policy::LowerPrecision:
      return t.dtype() == kFloat64 ? t.dtype() : s.dtype[slot(t.device().type)];
    case Policy::Float32: return is_reduced_float(t.dtype()) ? kFloat32 : t.dtype();
  }
  return t.dtype();
}

bool is_current(const autograd::LowPrecisionCopy& copy, const Tensor& leaf, DType dtype) {
  return copy.value.defined() && copy.value.dtype() == dtype &&
         copy.value.shape() == leaf.shape() && copy.source_version == leaf.version() &&
         copy.value_version == copy.value.version();
}

// A parameter's cast through its kept copy: the output aliases the copy and
// is recorded as to_dtype (the gradient goes back to the float32 leaf).
Tensor cached_cast(const Tensor& leaf, DType dtype) {
  autograd::LowPrecisionCopy& copy = leaf.impl_ptr()->autograd->low_precision;
  if (!is_current(copy, leaf, dtype)) {
    copy.value = native::to_dtype(leaf.detach(), dtype);
    copy.source_version = leaf.version();
    copy.value_version = copy.value.version();
  }
  Tensor out = copy.value.detach();
  if (autograd::is_grad_enabled()) {
    autograd::record(autograd::Op::to_dtype, out, {leaf},
                     [](const Tensor& g) -> autograd::Grads { return {g}; });
  }
  return out;
}

}  // namespace

bool casts(Op op, const Tensor& t) { return t.defined() && target_dtype(op, t) != t.dtype(); }

Tensor input(Op op, const Tensor& t) {
  if (!casts(op, t)) return t;
  const DType dtype = target_dtype(op, t);
  if (is_reduced_float(dtype) && t.dtype() == kFloat32 && t.is_leaf() && t.requires_grad())
    return cached_cast(t, dtype);
  return to_dtype(t, dtype);
}

void refresh_cached_copy(const Tensor& leaf) {
  if (!leaf.defined() || !leaf.impl_ptr()->autograd) return;
  autograd::LowPrecisionCopy& copy = leaf.impl_ptr()->autograd->low_precision;
  if (!copy.value.defined()) return;
  if (copy.value.shape() != leaf.shape() || copy.value.device() != leaf.device()) {
    copy = {};
    return;
  }
  NoGradGuard no_grad;
  copy.value.copy_(leaf);  // bumps the copy's version: graphs saved before see the write
  copy.source_version = leaf.version();
  copy.value_version = copy.value.version();
}

}  // namespace autocast
}  // namespace toadstool
