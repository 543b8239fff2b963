#pragma once
// Per-line and per-element math of the loss ops, written once for both
// backends (the CPU kernels call it from OpenMP loops, CUDA will from its own).
#include <cmath>

#include "toadstool/kernels/fast_math.h"
#include "toadstool/kernels/host_device.h"

namespace toadstool::kernels {

// Running log-sum-exp state of a line, merged block by block: the line's
// maximum so far and the sum of exp(x - max) so far. A block with a larger
// maximum rescales the sum once, so each element costs one exp.
template <class T>
struct LogSumExp {
  T max;
  T sum;
};

// Moves state `s` to a new maximum `m` >= s.max (exp(-inf) = 0 covers the
// empty start, where s.max = -inf and s.sum = 0).
template <class T>
TS_HOST_DEVICE void lse_rebase(LogSumExp<T>& s, T m) {
  if (m > s.max) {
    s.sum *= vexp_nonpositive(s.max - m);
    s.max = m;
  }
}

template <class T>
TS_HOST_DEVICE T lse_value(const LogSumExp<T>& s) {
  return s.max + std::log(s.sum);
}

// Cross-entropy terms of one line (classes c, target t, weights w, W = sum w):
//   nll    = w_t * (lse - x_t)                  (= -w_t log softmax_t)
//   smooth = W * lse - sum_c w_c x_c            (= -sum_c w_c log softmax_c)
template <class T>
TS_HOST_DEVICE T cross_entropy_nll(T lse, T x_target, T w_target) {
  return w_target * (lse - x_target);
}
template <class T>
TS_HOST_DEVICE T cross_entropy_smooth(T lse, T weight_sum, T weighted_x_sum) {
  return weight_sum * lse - weighted_x_sum;
}

// d loss / d x_c of one line, for loss = a * nll + b * smooth scaled by the
// incoming gradient g:
//   g * (softmax_c * (a w_t + b W) - b w_c - a w_t [c == t])
// The caller folds, per line, coef = g (a w_t + b W) and per class
// off = g b w_c; the target's extra - g a w_t is applied separately.
template <class T>
TS_HOST_DEVICE T cross_entropy_grad(T x, T lse, T coef, T off) {
  return coef * vexp_nonpositive(x - lse) - off;
}

}  // namespace toadstool::kernels
