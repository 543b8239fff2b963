// The CUDA fused optimizer steps, multi-tensor: sgd_step and adam_step over
// a list of parameters (contiguous buffers, float32 or float64), up to
// kStepsPerLaunch parameters per launch, each parameter its own range of
// blocks (at least one: a gated step counts its skip even for an empty
// parameter), one thread per element in a grid-stride loop over that
// range. The per-element updates and the per-step coefficients are
// kernels/optim_math.h's, as the CPU's kernels/cpu/optim.cpp uses them (in
// double, rounded to T once), so both backends run the same formulas in
// the same order; only the launches differ (ceil(N / 16) for N
// parameters instead of N).
//
// The kernels and the making of a launch's arguments, in an unnamed
// namespace: the entries are optim.cu's, and the warp-emulation test
// (tests/cuda_emulation/) runs these same kernels on the CPU.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "toadstool/kernels/cuda/common.cuh"
#include "toadstool/kernels/optim_math.h"

namespace toadstool::kernels::cuda {

namespace {

// Parameters per launch: the launch's arguments (kernel parameters, 4 KiB
// at most on every CUDA version we build for) hold each one's pointers,
// coefficients and hyper-parameters.
constexpr int kStepsPerLaunch = 16;

// The parameter whose range of blocks holds this block: the last t with
// first_block[t] <= blockIdx.x.
__device__ int step_of_block(const int64_t* first_block, int count) {
  int t = 0;
  while (t + 1 < count && first_block[t + 1] <= static_cast<int64_t>(blockIdx.x)) ++t;
  return t;
}

// This block's place in its parameter's range: the grid-stride loop over
// the parameter's elements starts at `begin` and advances by `stride`;
// `first` is true in exactly one thread of the range (the gate's counter).
struct BlockRange {
  int64_t begin, stride;
  bool first;
};
__device__ BlockRange block_range(const int64_t* first_block, int t) {
  const int64_t block = static_cast<int64_t>(blockIdx.x) - first_block[t];
  const int64_t blocks = first_block[t + 1] - first_block[t];
  return {block * blockDim.x + threadIdx.x, blocks * blockDim.x, block == 0 && threadIdx.x == 0};
}

// Blocks for a parameter of n elements (at least one), and the prefix sums
// of a launch's parameters.
template <class Launch>
int64_t fill_first_blocks(Launch& launch) {
  launch.first_block[0] = 0;
  for (int t = 0; t < launch.count; ++t) {
    launch.first_block[t + 1] = launch.first_block[t] + blocks_for(launch.steps[t].n);
  }
  return launch.first_block[launch.count];
}

// Gated steps (StepGate: GradScaler's found-inf flag) are decided by every
// thread alike: skipped, the range's first thread counts it in the
// parameter's skipped steps; taken, its step number counts the taken steps
// (the host knows only the calls), so the first-step choice and Adam's
// bias correction are made on the device.

// ---- SGD -----------------------------------------------------------------------

template <class T>
struct SgdLaunch {
  struct Step {
    T* param;
    const T* grad;
    T* buf;  // null without momentum
    int64_t n;
    SgdCoeffs<T> coeffs;
    bool l2, momentum, nesterov, first_step;
    StepGate gate;
  } steps[kStepsPerLaunch];
  int64_t first_block[kStepsPerLaunch + 1];
  int count;
};
static_assert(sizeof(SgdLaunch<double>) <= 4000, "kernel parameters are limited to 4 KiB");

template <class T, WeightDecay kDecay, bool kMomentum, bool kNesterov>
__device__ void sgd_elements(const typename SgdLaunch<T>::Step& s, const BlockRange& r,
                             bool first_step) {
  for (int64_t i = r.begin; i < s.n; i += r.stride) {
    T* b = kMomentum ? s.buf + i : nullptr;
    if (first_step) {
      sgd_update<T, kDecay, kMomentum, kNesterov, true>(s.param[i], s.grad[i], b, s.coeffs);
    } else {
      sgd_update<T, kDecay, kMomentum, kNesterov, false>(s.param[i], s.grad[i], b, s.coeffs);
    }
  }
}

template <class T, WeightDecay kDecay>
__device__ void sgd_momentum_dispatch(const typename SgdLaunch<T>::Step& s, const BlockRange& r,
                                      bool first_step) {
  if (!s.momentum) return sgd_elements<T, kDecay, false, false>(s, r, first_step);
  if (s.nesterov) return sgd_elements<T, kDecay, true, true>(s, r, first_step);
  sgd_elements<T, kDecay, true, false>(s, r, first_step);
}

template <class T>
__global__ void sgd_kernel(SgdLaunch<T> launch) {
  const int t = step_of_block(launch.first_block, launch.count);
  const auto& s = launch.steps[t];
  const BlockRange r = block_range(launch.first_block, t);
  if (gate_skips(s.gate, r.first)) return;
  const bool first_step = s.gate.skip != nullptr ? s.gate.taken_step() == 1 : s.first_step;
  if (s.l2) return sgd_momentum_dispatch<T, WeightDecay::kL2>(s, r, first_step);
  sgd_momentum_dispatch<T, WeightDecay::kNone>(s, r, first_step);
}

// The launch of steps[0, count) (count <= kStepsPerLaunch), and its blocks.
template <class T>
int64_t make_launch(SgdLaunch<T>& launch, const SgdStepCall* steps, int count) {
  launch.count = count;
  for (int t = 0; t < count; ++t) {
    const SgdStepCall& call = steps[t];
    launch.steps[t] = {typed<T>(call.param),
                       typed<T>(call.grad),
                       typed<T>(call.momentum_buffer),
                       call.n,
                       sgd_coeffs<T>(call.hp),
                       call.hp.weight_decay != 0,
                       call.hp.momentum != 0,
                       call.hp.nesterov,
                       call.hp.first_step,
                       call.hp.gate};
  }
  return fill_first_blocks(launch);
}

// ---- Adam / AdamW ----------------------------------------------------------------

// coeffs holds the coefficients of hp.step, computed on the host as the
// CPU's (kernels/cpu/optim.cpp); a taken gated step recomputes them for its
// taken_step(). vmax is null without AMSGrad.
template <class T>
struct AdamLaunch {
  struct Step {
    T *param, *m, *v, *vmax;
    const T* grad;
    int64_t n;
    AdamCoeffs<T> coeffs;
    AdamStep hp;
  } steps[kStepsPerLaunch];
  int64_t first_block[kStepsPerLaunch + 1];
  int count;
};
static_assert(sizeof(AdamLaunch<double>) <= 4000, "kernel parameters are limited to 4 KiB");

template <class T, WeightDecay kDecay, bool kAmsgrad>
__device__ void adam_elements(const typename AdamLaunch<T>::Step& s, const BlockRange& r,
                              const AdamCoeffs<T>& c) {
  for (int64_t i = r.begin; i < s.n; i += r.stride) {
    adam_update<T, kDecay, kAmsgrad>(s.param[i], s.grad[i], s.m[i], s.v[i],
                                     kAmsgrad ? s.vmax + i : nullptr, c);
  }
}

template <class T, WeightDecay kDecay>
__device__ void adam_amsgrad_dispatch(const typename AdamLaunch<T>::Step& s, const BlockRange& r,
                                      const AdamCoeffs<T>& c) {
  if (s.hp.amsgrad) return adam_elements<T, kDecay, true>(s, r, c);
  adam_elements<T, kDecay, false>(s, r, c);
}

template <class T>
__global__ void adam_kernel(AdamLaunch<T> launch) {
  const int t = step_of_block(launch.first_block, launch.count);
  const auto& s = launch.steps[t];
  const BlockRange r = block_range(launch.first_block, t);
  if (gate_skips(s.hp.gate, r.first)) return;
  const AdamCoeffs<T> c =
      s.hp.gate.skip != nullptr ? adam_coeffs<T>(s.hp, s.hp.gate.taken_step()) : s.coeffs;
  if (s.hp.weight_decay == 0) return adam_amsgrad_dispatch<T, WeightDecay::kNone>(s, r, c);
  if (s.hp.decoupled) return adam_amsgrad_dispatch<T, WeightDecay::kDecoupled>(s, r, c);
  adam_amsgrad_dispatch<T, WeightDecay::kL2>(s, r, c);
}

template <class T>
int64_t make_launch(AdamLaunch<T>& launch, const AdamStepCall* steps, int count) {
  launch.count = count;
  for (int t = 0; t < count; ++t) {
    const AdamStepCall& call = steps[t];
    launch.steps[t] = {typed<T>(call.param),
                       typed<T>(call.exp_avg),
                       typed<T>(call.exp_avg_sq),
                       typed<T>(call.max_exp_avg_sq),
                       typed<T>(call.grad),
                       call.n,
                       adam_coeffs<T>(call.hp, call.hp.step),
                       call.hp};
  }
  return fill_first_blocks(launch);
}

}  // namespace

}  // namespace toadstool::kernels::cuda
