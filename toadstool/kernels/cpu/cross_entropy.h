#pragma once
// Fused, numerically stable cross-entropy over logits x viewed as
// [outer, classes, inner] (contiguous; inner == 1 is the [N, C] case, inner
// > 1 the [N, C, d1, ...] case). A "line" is one (o, k): the `classes` logits
// x[o, :, k]; lines are numbered i = o * inner + k, as are target, lse, nll,
// smooth and grad. float and double.
//
// Weights: `weight` [classes] or null (all ones). Lines whose target equals
// ignore_index get nll = smooth = 0 and a zero gradient. The front-end has
// checked every other target to be in [0, classes).
#include <cstdint>

namespace toadstool::kernels::cpu {

// Per line: lse = log sum_c exp(x_c), nll = w_t (lse - x_t) and, when smooth
// is not null, smooth = sum_c w_c (lse - x_c). One pass over the logits.
void cross_entropy_forward(const float* x, const int64_t* target, const float* weight,
                           int64_t outer, int64_t classes, int64_t inner, int64_t ignore_index,
                           float* lse, float* nll, float* smooth);
void cross_entropy_forward(const double* x, const int64_t* target, const double* weight,
                           int64_t outer, int64_t classes, int64_t inner, int64_t ignore_index,
                           double* lse, double* nll, double* smooth);

// grad_x of loss = a * nll + b * smooth, line i's scaled by grad[i * grad_stride]
// (grad_stride 0: one gradient for all lines, a reduced loss):
//   grad_x_c = g_i * (exp(x_c - lse_i) (a w_t + b W) - b w_c - a w_t [c == t])
// with W = sum_c w_c. One pass reading x, writing grad_x.
void cross_entropy_backward(const float* x, const int64_t* target, const float* weight,
                            const float* lse, const float* grad, int64_t grad_stride, float a,
                            float b, int64_t outer, int64_t classes, int64_t inner,
                            int64_t ignore_index, float* grad_x);
void cross_entropy_backward(const double* x, const int64_t* target, const double* weight,
                            const double* lse, const double* grad, int64_t grad_stride, double a,
                            double b, int64_t outer, int64_t classes, int64_t inner,
                            int64_t ignore_index, double* grad_x);

}  // namespace toadstool::kernels::cpu
