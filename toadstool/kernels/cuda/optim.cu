// The CUDA fused optimizer steps: sgd_step and adam_step over contiguous
// buffers of n elements, float32 and float64, one thread per element. The
// per-element updates are kernels/optim_math.h's, and the per-step
// coefficients are computed on the host exactly as the CPU's
// kernels/cpu/optim.cpp computes them (in double, rounded to T once), so
// both backends run the same formulas in the same order.
#include <cmath>
#include <cstdint>

#include "toadstool/kernels/cuda/common.cuh"
#include "toadstool/kernels/cuda/registry.h"
#include "toadstool/kernels/optim_math.h"

namespace toadstool::kernels::cuda {

namespace {

// ---- SGD -----------------------------------------------------------------------

// A gated step (GradScaler's found-inf flag, SgdStep::skip): every thread
// reads the flag and writes nothing when it is set.
__device__ inline bool skipped(const float* skip) { return skip != nullptr && *skip != 0; }

// One kernel per combination of flags, as the CPU's loops: the flags are
// compile-time, so each kernel is branch-free. buf is null without momentum.
template <class T, WeightDecay kDecay, bool kMomentum, bool kNesterov, bool kFirst>
__global__ void sgd_kernel(T* param, const T* grad, T* buf, int64_t n, SgdCoeffs<T> c,
                           const float* skip) {
  if (skipped(skip)) return;
  for (int64_t i = first_index(); i < n; i += index_step()) {
    sgd_update<T, kDecay, kMomentum, kNesterov, kFirst>(param[i], grad[i],
                                                        kMomentum ? buf + i : nullptr, c);
  }
}

template <class T, WeightDecay kDecay, bool kMomentum, bool kNesterov, bool kFirst>
void sgd_launch(T* param, const T* grad, T* buf, int64_t n, const SgdCoeffs<T>& c,
                const float* skip) {
  sgd_kernel<T, kDecay, kMomentum, kNesterov, kFirst>
      <<<blocks_for(n), kThreads, 0, current_stream()>>>(param, grad, buf, n, c, skip);
  check_launch("sgd_step");
}

template <class T, WeightDecay kDecay>
void sgd_dispatch(T* param, const T* grad, T* buf, int64_t n, const SgdStep& hp,
                  const SgdCoeffs<T>& c) {
  const float* s = hp.skip;
  if (hp.momentum == 0)
    return sgd_launch<T, kDecay, false, false, false>(param, grad, buf, n, c, s);
  if (hp.nesterov) {
    if (hp.first_step) return sgd_launch<T, kDecay, true, true, true>(param, grad, buf, n, c, s);
    return sgd_launch<T, kDecay, true, true, false>(param, grad, buf, n, c, s);
  }
  if (hp.first_step) return sgd_launch<T, kDecay, true, false, true>(param, grad, buf, n, c, s);
  return sgd_launch<T, kDecay, true, false, false>(param, grad, buf, n, c, s);
}

template <class T>
void sgd_typed(T* param, const T* grad, T* buf, int64_t n, const SgdStep& hp) {
  const SgdCoeffs<T> c = sgd_coeffs<T>(hp);
  if (hp.weight_decay != 0) return sgd_dispatch<T, WeightDecay::kL2>(param, grad, buf, n, hp, c);
  sgd_dispatch<T, WeightDecay::kNone>(param, grad, buf, n, hp, c);
}

void sgd_step(DType dtype, void* param, const void* grad, void* momentum_buffer, int64_t n,
              const SgdStep& hp) {
  if (n <= 0) return;
  for_dtype<TypeSet::Float>(dtype, "sgd_step", [&](auto zero) {
    using T = decltype(zero);
    sgd_typed(typed<T>(param), typed<T>(grad), typed<T>(momentum_buffer), n, hp);
  });
}

// ---- Adam / AdamW ----------------------------------------------------------------

// vmax is null without AMSGrad.
template <class T, WeightDecay kDecay, bool kAmsgrad>
__global__ void adam_kernel(T* param, const T* grad, T* m, T* v, T* vmax, int64_t n,
                            AdamCoeffs<T> c, const float* skip) {
  if (skipped(skip)) return;
  for (int64_t i = first_index(); i < n; i += index_step()) {
    adam_update<T, kDecay, kAmsgrad>(param[i], grad[i], m[i], v[i], kAmsgrad ? vmax + i : nullptr,
                                     c);
  }
}

template <class T, WeightDecay kDecay>
void adam_dispatch(T* param, const T* grad, T* m, T* v, T* vmax, int64_t n, bool amsgrad,
                   const AdamCoeffs<T>& c, const float* skip) {
  const unsigned blocks = blocks_for(n);
  if (amsgrad) {
    adam_kernel<T, kDecay, true>
        <<<blocks, kThreads, 0, current_stream()>>>(param, grad, m, v, vmax, n, c, skip);
  } else {
    adam_kernel<T, kDecay, false>
        <<<blocks, kThreads, 0, current_stream()>>>(param, grad, m, v, vmax, n, c, skip);
  }
  check_launch("adam_step");
}

template <class T>
void adam_typed(T* param, const T* grad, T* m, T* v, T* vmax, int64_t n, const AdamStep& hp) {
  const AdamCoeffs<T> c = adam_coeffs<T>(hp);
  if (hp.weight_decay == 0) {
    return adam_dispatch<T, WeightDecay::kNone>(param, grad, m, v, vmax, n, hp.amsgrad, c, hp.skip);
  }
  if (hp.decoupled) {
    return adam_dispatch<T, WeightDecay::kDecoupled>(param, grad, m, v, vmax, n, hp.amsgrad, c,
                                                     hp.skip);
  }
  adam_dispatch<T, WeightDecay::kL2>(param, grad, m, v, vmax, n, hp.amsgrad, c, hp.skip);
}

void adam_step(DType dtype, void* param, const void* grad, void* exp_avg, void* exp_avg_sq,
               void* max_exp_avg_sq, int64_t n, const AdamStep& hp) {
  if (n <= 0) return;
  for_dtype<TypeSet::Float>(dtype, "adam_step", [&](auto zero) {
    using T = decltype(zero);
    adam_typed(typed<T>(param), typed<T>(grad), typed<T>(exp_avg), typed<T>(exp_avg_sq),
               typed<T>(max_exp_avg_sq), n, hp);
  });
}

}  // namespace

void register_optim(Backend& b) {
  b.sgd_step = sgd_step;
  b.adam_step = adam_step;
}

}  // namespace toadstool::kernels::cuda
