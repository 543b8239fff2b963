#pragma once
// Per-element optimizer updates, written once for both backends: the CPU
// loops (kernels/cpu/optim.cpp) and the CUDA grid-stride kernels (kernels/cuda/optim.cu) call
// these functions, so the CPU tests cover the math the GPU runs.
//
// The formulas are torch 1.13's `_single_tensor_sgd` / `_single_tensor_adam`
// / `_single_tensor_adamw`, in the same order of operations, with every
// scalar coefficient computed once per step in double (as Python does) and
// rounded to the element type T (as PyTorch's ops do when they take a Python
// float). Each update reads and writes one element of each buffer once.
#include <cmath>

#include "toadstool/kernels/host_device.h"
#include "toadstool/kernels/kernel_args.h"

namespace toadstool::kernels {

// How weight decay enters: not at all, as an L2 term added to the gradient
// (SGD, Adam), or decoupled, shrinking the parameter before the update (AdamW).
enum class WeightDecay { kNone, kL2, kDecoupled };

// SGD coefficients for one step, already in the element type.
template <class T>
struct SgdCoeffs {
  T lr;            // learning rate
  T sign;          // -1 when maximizing (the gradient is negated), else 1
  T weight_decay;  // L2 coefficient
  T momentum;
  T one_minus_dampening;
};

// The coefficients of a step with hyper-parameters hp.
template <class T>
TS_HOST_DEVICE SgdCoeffs<T> sgd_coeffs(const SgdStep& hp) {
  return {static_cast<T>(hp.lr), static_cast<T>(hp.maximize ? -1 : 1),
          static_cast<T>(hp.weight_decay), static_cast<T>(hp.momentum),
          static_cast<T>(1 - hp.dampening)};
}

// p -= lr * d, with d = sign * g (+ wd * p), and with momentum the buffer
// buf = d on the first step (PyTorch clones d: no dampening), else
// buf = momentum * buf + (1 - dampening) * d; d = buf, or d + momentum * buf
// (Nesterov).
template <class T, WeightDecay kDecay, bool kMomentum, bool kNesterov, bool kFirstStep>
TS_HOST_DEVICE void sgd_update(T& p, T g, T* buf, const SgdCoeffs<T>& c) {
  T d = g * c.sign;
  if constexpr (kDecay == WeightDecay::kL2) d = d + c.weight_decay * p;
  if constexpr (kMomentum) {
    T b;
    if constexpr (kFirstStep) {
      b = d;
    } else {
      b = *buf * c.momentum + c.one_minus_dampening * d;
    }
    *buf = b;
    if constexpr (kNesterov) {
      d = d + c.momentum * b;
    } else {
      d = b;
    }
  }
  p = p + (-c.lr) * d;
}

// Adam / AdamW coefficients for one step (step counted from 1), in T.
template <class T>
struct AdamCoeffs {
  T sign;          // -1 when maximizing, else 1
  T weight_decay;  // L2 coefficient (Adam)
  T decay_factor;  // 1 - lr * weight_decay (AdamW)
  T beta1, one_minus_beta1;
  T beta2, one_minus_beta2;
  T bias_correction2_sqrt;  // sqrt(1 - beta2^step)
  T eps;
  T neg_step_size;  // -lr / (1 - beta1^step)
};

// The coefficients of step number `step_number` (hp.step, or a gated
// step's taken_step()): the scalar part of the step in double, as torch
// 1.13 computes it in Python.
template <class T>
TS_HOST_DEVICE AdamCoeffs<T> adam_coeffs(const AdamStep& hp, int64_t step_number) {
  const double step = static_cast<double>(step_number);
  const double bias_correction1 = 1 - std::pow(hp.beta1, step);
  const double bias_correction2 = 1 - std::pow(hp.beta2, step);
  const double step_size = hp.lr / bias_correction1;
  return {static_cast<T>(hp.maximize ? -1 : 1),
          static_cast<T>(hp.weight_decay),
          static_cast<T>(1 - hp.lr * hp.weight_decay),
          static_cast<T>(hp.beta1),
          static_cast<T>(1 - hp.beta1),
          static_cast<T>(hp.beta2),
          static_cast<T>(1 - hp.beta2),
          static_cast<T>(std::sqrt(bias_correction2)),
          static_cast<T>(hp.eps),
          static_cast<T>(-step_size)};
}

// A gated step's start, run by each kernel before its loop (by every thread
// on the GPU, `counter` true in exactly one): true when the step is
// skipped, and then the counter adds it to the parameter's skipped steps.
// An ungated step runs.
TS_HOST_DEVICE bool gate_skips(const StepGate& gate, bool counter) {
  if (gate.skip == nullptr || *gate.skip == 0) return false;
  if (counter) *gate.skipped += 1;
  return true;
}

// One Adam / AdamW update of one element:
//   g = sign * g (+ wd * p for Adam); p *= 1 - lr * wd (AdamW)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   vmax = max(vmax, v) (AMSGrad; the denominator then uses vmax)
//   p += -step_size * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
template <class T, WeightDecay kDecay, bool kAmsgrad>
TS_HOST_DEVICE void adam_update(T& p, T g, T& m, T& v, T* vmax, const AdamCoeffs<T>& c) {
  g = g * c.sign;
  if constexpr (kDecay == WeightDecay::kL2) g = g + c.weight_decay * p;
  if constexpr (kDecay == WeightDecay::kDecoupled) p = p * c.decay_factor;
  m = m * c.beta1 + c.one_minus_beta1 * g;
  v = v * c.beta2 + c.one_minus_beta2 * (g * g);
  T second = v;
  if constexpr (kAmsgrad) {
    // torch.maximum: NaN wins.
    const T current = *vmax;
    second = (current > v || current != current) ? current : v;
    *vmax = second;
  }
  const T denom = std::sqrt(second) / c.bias_correction2_sqrt + c.eps;
  p = p + c.neg_step_size * (m / denom);
}

}  // namespace toadstool::kernels
