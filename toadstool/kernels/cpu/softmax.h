#pragma once
// Fused, numerically stable softmax / log_softmax over one dim of a
// contiguous tensor viewed as [outer, dim, inner] (inner == 1: contiguous
// rows, the common case). float and double. The row max is subtracted
// before exp; float uses kernels/fast_math.h's vectorizable exp (<= 2 ulp).
// -inf entries get probability 0; a line of all -inf gives NaN, as PyTorch.
#include <cstdint>

namespace toadstool::kernels::cpu {

// y = softmax(x) (or log_softmax when `log`) along the middle dim. y may be x.
void softmax_forward(const float* x, float* y, int64_t outer, int64_t dim, int64_t inner, bool log);
void softmax_forward(const double* x, double* y, int64_t outer, int64_t dim, int64_t inner,
                     bool log);

// From the forward output y and its gradient gy:
//   softmax:     gx = y * (gy - sum(gy * y))
//   log_softmax: gx = gy - exp(y) * sum(gy)
void softmax_backward(const float* grad_y, const float* y, float* grad_x, int64_t outer,
                      int64_t dim, int64_t inner, bool log);
void softmax_backward(const double* grad_y, const double* y, double* grad_x, int64_t outer,
                      int64_t dim, int64_t inner, bool log);

}  // namespace toadstool::kernels::cpu
