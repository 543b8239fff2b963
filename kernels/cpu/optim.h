#pragma once
// Fused optimizer steps over contiguous buffers of n elements, float and
// double: one pass that reads and writes each element of the parameter and
// its state once, split across the OpenMP team. The per-element math is in
// kernels/optim_math.h.
#include <cstdint>

namespace toadstool::kernels::cpu {

// SGD hyper-parameters for one step, as the optimizer holds them (double).
struct SgdStep {
  double lr = 0;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
  bool maximize = false;
  bool first_step = false;  // the momentum buffer is created (set to d) this step
};

// param [n] and grad [n]; momentum_buffer [n], read and written, may be null
// only when momentum is 0.
void sgd_step(float* param, const float* grad, float* momentum_buffer, int64_t n,
              const SgdStep& hp);
void sgd_step(double* param, const double* grad, double* momentum_buffer, int64_t n,
              const SgdStep& hp);

// Adam / AdamW hyper-parameters for one step.
struct AdamStep {
  double lr = 0;
  double beta1 = 0;
  double beta2 = 0;
  double eps = 0;
  double weight_decay = 0;
  bool decoupled = false;  // AdamW: p *= 1 - lr * wd, instead of g += wd * p
  bool amsgrad = false;
  bool maximize = false;
  int64_t step = 1;  // this step's number, counted from 1 (bias correction)
};

// param, grad, exp_avg, exp_avg_sq [n]; max_exp_avg_sq [n] only with amsgrad
// (else may be null).
void adam_step(float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
               float* max_exp_avg_sq, int64_t n, const AdamStep& hp);
void adam_step(double* param, const double* grad, double* exp_avg, double* exp_avg_sq,
               double* max_exp_avg_sq, int64_t n, const AdamStep& hp);

}  // namespace toadstool::kernels::cpu
