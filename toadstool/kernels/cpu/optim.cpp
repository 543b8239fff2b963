#include "toadstool/kernels/cpu/optim.h"

#include <cmath>

#include "toadstool/kernels/cpu/parallel.h"
#include "toadstool/kernels/optim_math.h"

namespace toadstool::kernels::cpu {

namespace {

// Each element costs a handful of flops over 3-5 streams: split only ranges
// large enough to pay for waking the team.
constexpr int64_t kGrain = kDefaultGrain;

// The loop for one combination of flags: branch-free, so it vectorizes.
template <class T, WeightDecay kDecay, bool kMomentum, bool kNesterov, bool kFirst>
void sgd_loop(T* param, const T* grad, T* buf, int64_t n, const SgdCoeffs<T>& c) {
  parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) {
      sgd_update<T, kDecay, kMomentum, kNesterov, kFirst>(param[i], grad[i],
                                                          kMomentum ? buf + i : nullptr, c);
    }
  });
}

template <class T, WeightDecay kDecay>
void sgd_dispatch(T* param, const T* grad, T* buf, int64_t n, const SgdStep& hp,
                  const SgdCoeffs<T>& c) {
  if (hp.momentum == 0) return sgd_loop<T, kDecay, false, false, false>(param, grad, buf, n, c);
  if (hp.nesterov) {
    if (hp.first_step) return sgd_loop<T, kDecay, true, true, true>(param, grad, buf, n, c);
    return sgd_loop<T, kDecay, true, true, false>(param, grad, buf, n, c);
  }
  if (hp.first_step) return sgd_loop<T, kDecay, true, false, true>(param, grad, buf, n, c);
  return sgd_loop<T, kDecay, true, false, false>(param, grad, buf, n, c);
}

template <class T>
void sgd_impl(T* param, const T* grad, T* buf, int64_t n, const SgdStep& hp) {
  const SgdCoeffs<T> c = sgd_coeffs<T>(hp);
  if (hp.weight_decay != 0) return sgd_dispatch<T, WeightDecay::kL2>(param, grad, buf, n, hp, c);
  sgd_dispatch<T, WeightDecay::kNone>(param, grad, buf, n, hp, c);
}

template <class T, WeightDecay kDecay, bool kAmsgrad>
void adam_loop(T* param, const T* grad, T* m, T* v, T* vmax, int64_t n, const AdamCoeffs<T>& c) {
  parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) {
      adam_update<T, kDecay, kAmsgrad>(param[i], grad[i], m[i], v[i], kAmsgrad ? vmax + i : nullptr,
                                       c);
    }
  });
}

template <class T, WeightDecay kDecay>
void adam_dispatch(T* param, const T* grad, T* m, T* v, T* vmax, int64_t n, bool amsgrad,
                   const AdamCoeffs<T>& c) {
  if (amsgrad) return adam_loop<T, kDecay, true>(param, grad, m, v, vmax, n, c);
  adam_loop<T, kDecay, false>(param, grad, m, v, vmax, n, c);
}

template <class T>
void adam_impl(T* param, const T* grad, T* m, T* v, T* vmax, int64_t n, const AdamStep& hp) {
  const AdamCoeffs<T> c = adam_coeffs<T>(hp, hp.step);
  if (hp.weight_decay == 0) {
    return adam_dispatch<T, WeightDecay::kNone>(param, grad, m, v, vmax, n, hp.amsgrad, c);
  }
  if (hp.decoupled) {
    return adam_dispatch<T, WeightDecay::kDecoupled>(param, grad, m, v, vmax, n, hp.amsgrad, c);
  }
  adam_dispatch<T, WeightDecay::kL2>(param, grad, m, v, vmax, n, hp.amsgrad, c);
}

}  // namespace

void sgd_step(float* param, const float* grad, float* momentum_buffer, int64_t n,
              const SgdStep& hp) {
  sgd_impl(param, grad, momentum_buffer, n, hp);
}
void sgd_step(double* param, const double* grad, double* momentum_buffer, int64_t n,
              const SgdStep& hp) {
  sgd_impl(param, grad, momentum_buffer, n, hp);
}

void adam_step(float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
               float* max_exp_avg_sq, int64_t n, const AdamStep& hp) {
  adam_impl(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, n, hp);
}
void adam_step(double* param, const double* grad, double* exp_avg, double* exp_avg_sq,
               double* max_exp_avg_sq, int64_t n, const AdamStep& hp) {
  adam_impl(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, n, hp);
}

}  // namespace toadstool::kernels::cpu
