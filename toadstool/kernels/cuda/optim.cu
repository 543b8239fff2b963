// The CUDA fused optimizer steps: sgd_step and adam_step over contiguous
// buffers of n elements, float32 and float64, one thread per element. The
// per-element updates and the per-step coefficients are kernels/
// optim_math.h's, as the CPU's kernels/cpu/optim.cpp uses them (in double,
// rounded to T once), so both backends run the same formulas in the same
// order. An empty parameter still launches one block: a gated step counts
// its skip.
#include <cmath>
#include <cstdint>

#include "toadstool/kernels/cuda/common.cuh"
#include "toadstool/kernels/cuda/registry.h"
#include "toadstool/kernels/optim_math.h"

namespace toadstool::kernels::cuda {

namespace {

// A gated step (StepGate: GradScaler's found-inf flag) is decided by every
// thread alike: skipped, thread 0 counts it in the parameter's skipped
// steps; taken, its step number counts the taken steps (the host knows
// only the calls), so the first-step choice and Adam's bias correction are
// made on the device.

// ---- SGD -----------------------------------------------------------------------

// One kernel per combination of flags, as the CPU's loops; whether this is
// the first step (the momentum buffer set to d) is a run-time choice, the
// same for every thread. buf is null without momentum.
template <class T, WeightDecay kDecay, bool kMomentum, bool kNesterov>
__global__ void sgd_kernel(T* param, const T* grad, T* buf, int64_t n, SgdCoeffs<T> c,
                           bool first_step, StepGate gate) {
  if (gate_skips(gate, first_index() == 0)) return;
  if (gate.skip != nullptr) first_step = gate.taken_step() == 1;
  for (int64_t i = first_index(); i < n; i += index_step()) {
    T* b = kMomentum ? buf + i : nullptr;
    if (first_step) {
      sgd_update<T, kDecay, kMomentum, kNesterov, true>(param[i], grad[i], b, c);
    } else {
      sgd_update<T, kDecay, kMomentum, kNesterov, false>(param[i], grad[i], b, c);
    }
  }
}

template <class T, WeightDecay kDecay, bool kMomentum, bool kNesterov>
void sgd_launch(T* param, const T* grad, T* buf, int64_t n, const SgdStep& hp) {
  sgd_kernel<T, kDecay, kMomentum, kNesterov><<<blocks_for(n), kThreads, 0, current_stream()>>>(
      param, grad, buf, n, sgd_coeffs<T>(hp), hp.first_step, hp.gate);
  check_launch("sgd_step");
}

template <class T, WeightDecay kDecay>
void sgd_dispatch(T* param, const T* grad, T* buf, int64_t n, const SgdStep& hp) {
  if (hp.momentum == 0) return sgd_launch<T, kDecay, false, false>(param, grad, buf, n, hp);
  if (hp.nesterov) return sgd_launch<T, kDecay, true, true>(param, grad, buf, n, hp);
  sgd_launch<T, kDecay, true, false>(param, grad, buf, n, hp);
}

void sgd_step(DType dtype, void* param, const void* grad, void* momentum_buffer, int64_t n,
              const SgdStep& hp) {
  for_dtype<TypeSet::Float>(dtype, "sgd_step", [&](auto zero) {
    using T = decltype(zero);
    auto* buf = typed<T>(momentum_buffer);
    if (hp.weight_decay != 0) {
      return sgd_dispatch<T, WeightDecay::kL2>(typed<T>(param), typed<T>(grad), buf, n, hp);
    }
    sgd_dispatch<T, WeightDecay::kNone>(typed<T>(param), typed<T>(grad), buf, n, hp);
  });
}

// ---- Adam / AdamW ----------------------------------------------------------------

// c holds the coefficients of hp.step, computed on the host as the CPU's
// (kernels/cpu/optim.cpp); a taken gated step recomputes them for its
// taken_step(). vmax is null without AMSGrad.
template <class T, WeightDecay kDecay, bool kAmsgrad>
__global__ void adam_kernel(T* param, const T* grad, T* m, T* v, T* vmax, int64_t n,
                            AdamCoeffs<T> c, AdamStep hp) {
  if (gate_skips(hp.gate, first_index() == 0)) return;
  if (hp.gate.skip != nullptr) c = adam_coeffs<T>(hp, hp.gate.taken_step());
  for (int64_t i = first_index(); i < n; i += index_step()) {
    adam_update<T, kDecay, kAmsgrad>(param[i], grad[i], m[i], v[i], kAmsgrad ? vmax + i : nullptr,
                                     c);
  }
}

template <class T, WeightDecay kDecay>
void adam_dispatch(T* param, const T* grad, T* m, T* v, T* vmax, int64_t n, const AdamStep& hp) {
  const unsigned blocks = blocks_for(n);
  const AdamCoeffs<T> c = adam_coeffs<T>(hp, hp.step);
  if (hp.amsgrad) {
    adam_kernel<T, kDecay, true>
        <<<blocks, kThreads, 0, current_stream()>>>(param, grad, m, v, vmax, n, c, hp);
  } else {
    adam_kernel<T, kDecay, false>
        <<<blocks, kThreads, 0, current_stream()>>>(param, grad, m, v, vmax, n, c, hp);
  }
  check_launch("adam_step");
}

void adam_step(DType dtype, void* param, const void* grad, void* exp_avg, void* exp_avg_sq,
               void* max_exp_avg_sq, int64_t n, const AdamStep& hp) {
  for_dtype<TypeSet::Float>(dtype, "adam_step", [&](auto zero) {
    using T = decltype(zero);
    T* args[] = {typed<T>(param), typed<T>(exp_avg), typed<T>(exp_avg_sq),
                 typed<T>(max_exp_avg_sq)};
    const T* g = typed<T>(grad);
    if (hp.weight_decay == 0) {
      return adam_dispatch<T, WeightDecay::kNone>(args[0], g, args[1], args[2], args[3], n, hp);
    }
    if (hp.decoupled) {
      return adam_dispatch<T, WeightDecay::kDecoupled>(args[0], g, args[1], args[2], args[3], n,
                                                       hp);
    }
    adam_dispatch<T, WeightDecay::kL2>(args[0], g, args[1], args[2], args[3], n, hp);
  });
}

}  // namespace

void register_optim(Backend& b) {
  b.sgd_step = sgd_step;
  b.adam_step = adam_step;
}

}  // namespace toadstool::kernels::cuda
