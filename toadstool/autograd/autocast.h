#pragma once
// Automatic mixed precision (PyTorch's torch.autocast): inside an Autocast
// scope for a device type, the ops of autograd/autocast_list.h cast their
// inputs on that device's tensors: matmul, linear and attention to the
// scope's 16-bit dtype (float32 accumulation inside), softmax, norms, losses
// and sums to float32. Parameters stay float32 (the master weights); the
// casts are recorded on the tape, so their gradients arrive in float32.
//
//   {
//     Autocast autocast(DeviceType::CUDA, kBFloat16);
//     loss = criterion(model->forward(x), y);  // matmuls in bf16
//   }
//   loss.backward();  // outside the scope, as PyTorch recommends
//
// The state is per thread and per device type; scopes nest and restore the
// previous state on exit. Float16 usually needs a GradScaler
// (nn/optim/grad_scaler.h); bfloat16 has float32's range and does not.
#include <optional>

#include "toadstool/tensor/device.h"
#include "toadstool/tensor/dtype.h"
#include "toadstool/tensor/tensor.h"

namespace toadstool {

class Autocast {
 public:
  // dtype: float16 or bfloat16 (an Error otherwise); by default float16 on
  // CUDA and bfloat16 on the CPU, as PyTorch. enabled = false makes a scope
  // without autocast (inside an enabled one, too).
  explicit Autocast(DeviceType device, std::optional<DType> dtype = std::nullopt,
                    bool enabled = true);
  ~Autocast();
  Autocast(const Autocast&) = delete;
  Autocast& operator=(const Autocast&) = delete;

 private:
  DeviceType device_;
  bool previous_enabled_;
  DType previous_dtype_;
};

bool is_autocast_enabled(DeviceType device);
// The dtype LowerPrecision ops run in on `device` (meaningful when enabled).
DType autocast_dtype(DeviceType device);

namespace autocast {

enum class Op : uint8_t {
#define TOADSTOOL_AUTOCAST(name, policy) name,
#include "toadstool/autograd/autocast_list.h"
#undef TOADSTOOL_AUTOCAST
};

// `t` as op `op` takes it under the calling thread's autocast state: cast by
// the op's policy when autocast is on for t's device type and t is a
// floating tensor, else t itself (an undefined t too). Every listed op calls
// it on its floating inputs first; it costs one thread-local read when
// autocast is off.
Tensor input(Op op, const Tensor& t);
// A float32 leaf that requires grad (a parameter) is cast once and its
// 16-bit copy kept (in its autograd state) while the leaf is unchanged:
// every later use, in this forward or the next ones, takes the copy.
// refresh_cached_copy rewrites the copy after an in-place update of the
// leaf, so the optimizer step keeps it current (nn/optim/optimizer.h); a
// leaf changed otherwise is cast again at its next use.
void refresh_cached_copy(const Tensor& leaf);

// Whether input(op, t) would cast any of `ts`: a listed op starts with
//   if (autocast::casts(Op::x, a, b)) return x(input(Op::x, a), input(Op::x, b), ...);
// and the second call, its inputs cast, runs the op.
bool casts(Op op, const Tensor& t);
template <class... Tensors>
bool casts(Op op, const Tensor& first, const Tensors&... rest) {
  return casts(op, first) || (casts(op, rest) || ...);
}

}  // namespace autocast
}  // namespace toadstool
