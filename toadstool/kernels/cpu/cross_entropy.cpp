#include "toadstool/kernels/cpu/cross_entropy.h"

#include <algorithm>
#include <limits>

#include "toadstool/kernels/cpu/parallel.h"
#include "toadstool/kernels/fast_math.h"
#include "toadstool/kernels/loss_math.h"

namespace toadstool::kernels::cpu {

namespace {

// inner == 1: each line is a contiguous row, read in blocks of kBlock logits
// (2 KiB of floats): the block's max, then the sum of its exps while it is in
// L1, so the row is read from memory once (the "online" log-sum-exp).
constexpr int64_t kBlock = 512;
// inner > 1: lines are columns of a [classes, inner] slab, handled kColumns
// adjacent columns at a time so that every inner loop is contiguous.
constexpr int64_t kColumns = 256;

template <class T>
constexpr T kNegInf = -std::numeric_limits<T>::infinity();

// The shift for exp(x - shift) while a line's max is still -inf: 0, so that
// -inf logits give exp(-inf) = 0 and NaN logits still poison the sum (x - -inf
// would turn the -inf logits into NaN).
template <class T>
T shift_of(T max) {
  return max == kNegInf<T> ? T(0) : max;
}

template <class T>
T weight_sum(const T* weight, int64_t classes) {
  if (weight == nullptr) return static_cast<T>(classes);
  double s = 0;  // a fixed, serial order: the same W for any thread count
  for (int64_t c = 0; c < classes; ++c) s += weight[c];
  return static_cast<T>(s);
}

// lse and sum_c w_c x_c of one contiguous row.
template <class T>
void row_stats(const T* x, const T* w, int64_t n, bool smooth, T& lse, T& wx) {
  LogSumExp<T> s{kNegInf<T>, T(0)};
  T weighted = 0;
  for (int64_t b0 = 0; b0 < n; b0 += kBlock) {
    const int64_t len = std::min(kBlock, n - b0);
    const T* xb = x + b0;
    T m = kNegInf<T>;
#pragma omp simd reduction(max : m)
    for (int64_t i = 0; i < len; ++i) m = xb[i] > m ? xb[i] : m;
    lse_rebase(s, m);
    const T shift = shift_of(s.max);
    T sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < len; ++i) sum += vexp_nonpositive(xb[i] - shift);
    s.sum += sum;
    if (smooth && w != nullptr) {
#pragma omp simd reduction(+ : weighted)
      for (int64_t i = 0; i < len; ++i) weighted += w[b0 + i] * xb[i];
    } else if (smooth) {
#pragma omp simd reduction(+ : weighted)
      for (int64_t i = 0; i < len; ++i) weighted += xb[i];
    }
  }
  lse = lse_value(s);
  wx = weighted;
}

// lse and sum_c w_c x_c of `width` adjacent columns of a [classes, inner] slab
// starting at x (element (c, k) at c * inner + k).
template <class T>
void column_stats(const T* x, const T* w, int64_t classes, int64_t inner, int64_t width,
                  bool smooth, T* lse, T* wx) {
  T max[kColumns], sum[kColumns];
  std::fill_n(max, width, kNegInf<T>);
  std::fill_n(sum, width, T(0));
  std::fill_n(wx, width, T(0));
  for (int64_t c = 0; c < classes; ++c) {
    const T* xc = x + c * inner;
#pragma omp simd
    for (int64_t k = 0; k < width; ++k) max[k] = xc[k] > max[k] ? xc[k] : max[k];
  }
  for (int64_t k = 0; k < width; ++k) max[k] = shift_of(max[k]);
  for (int64_t c = 0; c < classes; ++c) {
    const T* xc = x + c * inner;
    const T wc = w != nullptr ? w[c] : T(1);
#pragma omp simd
    for (int64_t k = 0; k < width; ++k) {
      sum[k] += vexp_nonpositive(xc[k] - max[k]);
      wx[k] += wc * xc[k];
    }
  }
  for (int64_t k = 0; k < width; ++k) lse[k] = max[k] + std::log(sum[k]);
  if (!smooth) std::fill_n(wx, width, T(0));
}

// Runs row_fn(line) for each contiguous row (inner == 1), or
// columns_fn(o, k0, width) for each block of columns, spread over the team.
template <class RowFn, class ColumnsFn>
void for_each_line(int64_t outer, int64_t classes, int64_t inner, const RowFn& row_fn,
                   const ColumnsFn& columns_fn) {
  if (inner == 1) {
    const int64_t grain = std::max<int64_t>(1, kDefaultGrain / std::max<int64_t>(classes, 1));
    parallel_for(0, outer, grain, [&](int64_t begin, int64_t end) {
      for (int64_t o = begin; o < end; ++o) row_fn(o);
    });
    return;
  }
  const int64_t blocks = (inner + kColumns - 1) / kColumns;
  const int64_t grain = std::max<int64_t>(
      1, kDefaultGrain / std::max<int64_t>(classes * std::min(inner, kColumns), 1));
  parallel_for(0, outer * blocks, grain, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t o = item / blocks, k0 = (item % blocks) * kColumns;
      columns_fn(o, k0, std::min(kColumns, inner - k0));
    }
  });
}

template <class T>
void forward(const T* x, const int64_t* target, const T* w, int64_t outer, int64_t classes,
             int64_t inner, int64_t ignore_index, T* lse, T* nll, T* smooth) {
  if (outer <= 0 || inner <= 0) return;
  const T wsum = weight_sum(w, classes);
  const bool want_smooth = smooth != nullptr;
  // The loss terms of line i, once its lse and sum w x are known; x_line
  // points at its first logit, consecutive classes `step` apart.
  auto finish = [&](int64_t i, const T* x_line, int64_t step, T line_lse, T wx) {
    lse[i] = line_lse;
    const int64_t t = target[i];
    if (t == ignore_index) {
      nll[i] = T(0);
      if (want_smooth) smooth[i] = T(0);
      return;
    }
    nll[i] = cross_entropy_nll(line_lse, x_line[t * step], w != nullptr ? w[t] : T(1));
    if (want_smooth) smooth[i] = cross_entropy_smooth(line_lse, wsum, wx);
  };
  for_each_line(
      outer, classes, inner,
      [&](int64_t o) {
        const T* row = x + o * classes;
        T line_lse, wx;
        row_stats(row, w, classes, want_smooth, line_lse, wx);
        finish(o, row, 1, line_lse, wx);
      },
      [&](int64_t o, int64_t k0, int64_t width) {
        const T* slab = x + o * classes * inner + k0;
        T block_lse[kColumns], wx[kColumns];
        column_stats(slab, w, classes, inner, width, want_smooth, block_lse, wx);
        for (int64_t k = 0; k < width; ++k)
          finish(o * inner + k0 + k, slab + k, inner, block_lse[k], wx[k]);
      });
}

template <class T>
void backward(const T* x, const int64_t* target, const T* w, const T* lse, const T* grad,
              int64_t grad_stride, T a, T b, int64_t outer, int64_t classes, int64_t inner,
              int64_t ignore_index, T* gx) {
  if (outer <= 0 || inner <= 0) return;
  const T wsum = weight_sum(w, classes);
  for_each_line(
      outer, classes, inner,
      [&](int64_t o) {
        const T* row = x + o * classes;
        T* grow = gx + o * classes;
        const int64_t t = target[o];
        if (t == ignore_index) {
          std::fill_n(grow, classes, T(0));
          return;
        }
        const T g = grad[o * grad_stride];
        const T wt = w != nullptr ? w[t] : T(1);
        const T coef = g * (a * wt + b * wsum), boff = g * b, l = lse[o];
        if (w != nullptr) {
#pragma omp simd
          for (int64_t c = 0; c < classes; ++c)
            grow[c] = cross_entropy_grad(row[c], l, coef, boff * w[c]);
        } else {
#pragma omp simd
          for (int64_t c = 0; c < classes; ++c) grow[c] = cross_entropy_grad(row[c], l, coef, boff);
        }
        grow[t] -= g * a * wt;
      },
      [&](int64_t o, int64_t k0, int64_t width) {
        const int64_t at = o * classes * inner + k0, line0 = o * inner + k0;
        T coef[kColumns], boff[kColumns];
        for (int64_t k = 0; k < width; ++k) {
          const int64_t t = target[line0 + k];
          const T g = t == ignore_index ? T(0) : grad[(line0 + k) * grad_stride];
          const T wt = t == ignore_index ? T(0) : (w != nullptr ? w[t] : T(1));
          coef[k] = g * (a * wt + b * wsum);
          boff[k] = g * b;
        }
        const T* l = lse + line0;
        for (int64_t c = 0; c < classes; ++c) {
          const T* xc = x + at + c * inner;
          T* gc = gx + at + c * inner;
          const T wc = w != nullptr ? w[c] : T(1);
#pragma omp simd
          for (int64_t k = 0; k < width; ++k)
            gc[k] = cross_entropy_grad(xc[k], l[k], coef[k], boff[k] * wc);
        }
        for (int64_t k = 0; k < width; ++k) {
          const int64_t t = target[line0 + k];
          if (t == ignore_index) {
            for (int64_t c = 0; c < classes; ++c) gx[at + c * inner + k] = T(0);
            continue;
          }
          const T g = grad[(line0 + k) * grad_stride];
          gx[at + t * inner + k] -= g * a * (w != nullptr ? w[t] : T(1));
        }
      });
}

}  // namespace

void cross_entropy_forward(const float* x, const int64_t* target, const float* weight,
                           int64_t outer, int64_t classes, int64_t inner, int64_t ignore_index,
                           float* lse, float* nll, float* smooth) {
  forward(x, target, weight, outer, classes, inner, ignore_index, lse, nll, smooth);
}
void cross_entropy_forward(const double* x, const int64_t* target, const double* weight,
                           int64_t outer, int64_t classes, int64_t inner, int64_t ignore_index,
                           double* lse, double* nll, double* smooth) {
  forward(x, target, weight, outer, classes, inner, ignore_index, lse, nll, smooth);
}
void cross_entropy_backward(const float* x, const int64_t* target, const float* weight,
                            const float* lse, const float* grad, int64_t grad_stride, float a,
                            float b, int64_t outer, int64_t classes, int64_t inner,
                            int64_t ignore_index, float* grad_x) {
  backward(x, target, weight, lse, grad, grad_stride, a, b, outer, classes, inner, ignore_index,
           grad_x);
}
void cross_entropy_backward(const double* x, const int64_t* target, const double* weight,
                            const double* lse, const double* grad, int64_t grad_stride, double a,
                            double b, int64_t outer, int64_t classes, int64_t inner,
                            int64_t ignore_index, double* grad_x) {
  backward(x, target, weight, lse, grad, grad_stride, a, b, outer, classes, inner, ignore_index,
           grad_x);
}

}  // namespace toadstool::kernels::cpu
