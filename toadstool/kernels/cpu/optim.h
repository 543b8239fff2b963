#pragma once
// Fused optimizer steps over contiguous buffers of n elements, float and
// double: one pass that reads and writes each element of the parameter and
// its state once, split across the OpenMP team. The per-element math is in
// kernels/optim_math.h.
#include <cstdint>

#include "toadstool/kernels/kernel_args.h"

namespace toadstool::kernels::cpu {

// param [n] and grad [n]; momentum_buffer [n], read and written, may be null
// only when momentum is 0.
void sgd_step(float* param, const float* grad, float* momentum_buffer, int64_t n,
              const SgdStep& hp);
void sgd_step(double* param, const double* grad, double* momentum_buffer, int64_t n,
              const SgdStep& hp);

// param, grad, exp_avg, exp_avg_sq [n]; max_exp_avg_sq [n] only with amsgrad
// (else may be null).
void adam_step(float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
               float* max_exp_avg_sq, int64_t n, const AdamStep& hp);
void adam_step(double* param, const double* grad, double* exp_avg, double* exp_avg_sq,
               double* max_exp_avg_sq, int64_t n, const AdamStep& hp);

}  // namespace toadstool::kernels::cpu
