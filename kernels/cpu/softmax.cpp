#include "kernels/cpu/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/fast_math.h"

namespace toadstool::kernels::cpu {

namespace {

// The row reductions use `omp simd reduction`, which lets the compiler
// vectorize a float sum or max (reassociating it) without -ffast-math.

// Row maximum, ignoring NaN: a NaN input still turns the whole row to NaN
// (as in PyTorch) because exp(NaN - max) poisons the sum.
template <class T>
T row_max(const T* x, int64_t n) {
  T m = -std::numeric_limits<T>::infinity();
#pragma omp simd reduction(max : m)
  for (int64_t i = 0; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

// y[i] = exp(x[i] - shift); returns the sum of the y[i].
template <class T>
T store_exp(const T* x, T* y, int64_t n, T shift) {
  T sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) {
    y[i] = vexp(x[i] - shift);
    sum += y[i];
  }
  return sum;
}

// sum(exp(x[i] - shift)) without storing the terms.
template <class T>
T sum_exp(const T* x, int64_t n, T shift) {
  T sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) sum += vexp(x[i] - shift);
  return sum;
}

// One contiguous row; y may alias x.
template <class T>
void softmax_row(const T* x, T* y, int64_t n, bool log) {
  const T max = row_max(x, n);
  // An all -inf row gives -inf - -inf = NaN everywhere, as PyTorch does.
  if (log) {
    const T shift = max + std::log(sum_exp(x, n, max));
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] - shift;
  } else {
    const T scale = T(1) / store_exp(x, y, n, max);
    for (int64_t i = 0; i < n; ++i) y[i] *= scale;
  }
}

// One [dim, inner] slab, reduced along dim for every inner column at once:
// the inner index is contiguous, so each pass is a vector loop over it.
template <class T>
void softmax_slab(const T* x, T* y, int64_t dim, int64_t inner, bool log, std::vector<T>& max,
                  std::vector<T>& sum) {
  max.assign(inner, -std::numeric_limits<T>::infinity());
  sum.assign(inner, T(0));
  for (int64_t d = 0; d < dim; ++d) {
    const T* row = x + d * inner;
    for (int64_t k = 0; k < inner; ++k) max[k] = row[k] > max[k] ? row[k] : max[k];
  }
  for (int64_t d = 0; d < dim; ++d) {
    const T* row = x + d * inner;
    T* out = y + d * inner;
    for (int64_t k = 0; k < inner; ++k) {
      const T e = vexp(row[k] - max[k]);
      if (!log) out[k] = e;  // log_softmax still needs x in the last pass
      sum[k] += e;
    }
  }
  for (int64_t d = 0; d < dim; ++d) {
    const T* row = x + d * inner;
    T* out = y + d * inner;
    for (int64_t k = 0; k < inner; ++k) {
      out[k] = log ? row[k] - (max[k] + std::log(sum[k])) : out[k] / sum[k];
    }
  }
}

template <class T>
void forward(const T* x, T* y, int64_t outer, int64_t dim, int64_t inner, bool log) {
  if (dim == 0 || outer == 0 || inner == 0) return;
  const int64_t slab = dim * inner;
  const int64_t grain = std::max<int64_t>(1, kDefaultGrain / slab);
  if (inner == 1) {
    parallel_for(0, outer, grain, [&](int64_t begin, int64_t end) {
      for (int64_t o = begin; o < end; ++o) softmax_row(x + o * dim, y + o * dim, dim, log);
    });
    return;
  }
  parallel_for(0, outer, grain, [&](int64_t begin, int64_t end) {
    std::vector<T> max, sum;
    for (int64_t o = begin; o < end; ++o) {
      softmax_slab(x + o * slab, y + o * slab, dim, inner, log, max, sum);
    }
  });
}

// gx along one [dim] line with element stride `inner`.
template <class T>
void backward_line(const T* gy, const T* y, T* gx, int64_t dim, int64_t inner, bool log) {
  T dot = 0;  // softmax: sum(gy * y); log_softmax: sum(gy)
  for (int64_t d = 0; d < dim; ++d) dot += log ? gy[d * inner] : gy[d * inner] * y[d * inner];
  for (int64_t d = 0; d < dim; ++d) {
    const int64_t i = d * inner;
    gx[i] = log ? gy[i] - std::exp(y[i]) * dot : y[i] * (gy[i] - dot);
  }
}

template <class T>
void backward(const T* gy, const T* y, T* gx, int64_t outer, int64_t dim, int64_t inner, bool log) {
  const int64_t lines = outer * inner;
  const int64_t grain = std::max<int64_t>(1, kDefaultGrain / std::max<int64_t>(dim, 1));
  parallel_for(0, lines, grain, [&](int64_t begin, int64_t end) {
    for (int64_t l = begin; l < end; ++l) {
      const int64_t offset = (l / inner) * dim * inner + l % inner;
      backward_line(gy + offset, y + offset, gx + offset, dim, inner, log);
    }
  });
}

}  // namespace

void softmax_forward(const float* x, float* y, int64_t outer, int64_t dim, int64_t inner,
                     bool log) {
  forward(x, y, outer, dim, inner, log);
}
void softmax_forward(const double* x, double* y, int64_t outer, int64_t dim, int64_t inner,
                     bool log) {
  forward(x, y, outer, dim, inner, log);
}
void softmax_backward(const float* grad_y, const float* y, float* grad_x, int64_t outer,
                      int64_t dim, int64_t inner, bool log) {
  backward(grad_y, y, grad_x, outer, dim, inner, log);
}
void softmax_backward(const double* grad_y, const double* y, double* grad_x, int64_t outer,
                      int64_t dim, int64_t inner, bool log) {
  backward(grad_y, y, grad_x, outer, dim, inner, log);
}

}  // namespace toadstool::kernels::cpu
