#include "toadstool/kernels/cpu/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "toadstool/kernels/cpu/parallel.h"
#include "toadstool/kernels/fast_math.h"

namespace toadstool::kernels::cpu {

namespace {

// `omp simd reduction` lets the compiler vectorize a float sum or max
// (reassociating it) without -ffast-math; vexp_nonpositive is the
// branch-free exp of kernels/fast_math.h for float (libm for double; every
// argument here is x - max or a log-probability, never positive), so every
// loop below runs 16 floats per AVX-512 instruction.

// ---------------------------------------------------------------------------
// inner == 1: each softmax line is a contiguous row of `n` elements.
// ---------------------------------------------------------------------------

// Row maximum. A NaN input still turns the whole row to NaN (as in PyTorch)
// because exp(NaN - max) poisons the sum.
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
    y[i] = vexp_nonpositive(x[i] - shift);
    sum += y[i];
  }
  return sum;
}

// sum(exp(x[i] - shift)) without storing the terms.
template <class T>
T sum_exp(const T* x, int64_t n, T shift) {
  T sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) sum += vexp_nonpositive(x[i] - shift);
  return sum;
}

// One row; y may alias x. Subtracting the max keeps exp from overflowing; an
// all -inf row gives -inf - -inf = NaN everywhere, as PyTorch does, and a -inf
// entry in any other row gives exp(-inf) = 0.
template <class T>
void softmax_row(const T* x, T* y, int64_t n, bool log) {
  const T max = row_max(x, n);
  if (log) {
    // (x - max) - log(sum), in that order: x - max is exact near the max,
    // where log_softmax is near 0 and x - (max + log(sum)) would lose digits.
    const T log_sum = std::log(sum_exp(x, n, max));
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - max) - log_sum;
  } else {
    const T scale = T(1) / store_exp(x, y, n, max);
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] *= scale;
  }
}

// softmax: gx = y * (gy - sum(gy * y)); log_softmax: gx = gy - exp(y) * sum(gy).
// gx may alias gy.
template <class T>
void softmax_backward_row(const T* gy, const T* y, T* gx, int64_t n, bool log) {
  T sum = 0;
  if (log) {
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < n; ++i) sum += gy[i];
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) gx[i] = gy[i] - vexp_nonpositive(y[i]) * sum;
  } else {
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < n; ++i) sum += gy[i] * y[i];
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) gx[i] = y[i] * (gy[i] - sum);
  }
}

// ---------------------------------------------------------------------------
// inner > 1: a [dim, inner] slab is reduced along dim for a block of up to
// kColumns adjacent columns at once. Their running max / sum live on the
// stack, and every pass over dim is a contiguous vector loop over the block.
// ---------------------------------------------------------------------------

constexpr int64_t kColumns = 256;

// x and y point at the first of `width` columns; element (d, k) is at
// d * inner + k. y may alias x.
template <class T>
void softmax_columns(const T* x, T* y, int64_t dim, int64_t inner, int64_t width, bool log) {
  T max[kColumns], sum[kColumns];
  std::fill_n(max, width, -std::numeric_limits<T>::infinity());
  std::fill_n(sum, width, T(0));
  for (int64_t d = 0; d < dim; ++d) {
    const T* xd = x + d * inner;
#pragma omp simd
    for (int64_t k = 0; k < width; ++k) max[k] = xd[k] > max[k] ? xd[k] : max[k];
  }
  // softmax keeps exp(x - max) in y for the last pass; log_softmax still needs x.
  for (int64_t d = 0; d < dim; ++d) {
    const T* xd = x + d * inner;
    T* yd = y + d * inner;
    if (log) {
#pragma omp simd
      for (int64_t k = 0; k < width; ++k) sum[k] += vexp_nonpositive(xd[k] - max[k]);
    } else {
#pragma omp simd
      for (int64_t k = 0; k < width; ++k) {
        yd[k] = vexp_nonpositive(xd[k] - max[k]);
        sum[k] += yd[k];
      }
    }
  }
  // Per column: log_softmax subtracts max, then log(sum) (see softmax_row);
  // softmax scales by 1 / sum.
  for (int64_t k = 0; k < width; ++k) sum[k] = log ? std::log(sum[k]) : T(1) / sum[k];
  for (int64_t d = 0; d < dim; ++d) {
    const T* xd = x + d * inner;
    T* yd = y + d * inner;
    if (log) {
#pragma omp simd
      for (int64_t k = 0; k < width; ++k) yd[k] = (xd[k] - max[k]) - sum[k];
    } else {
#pragma omp simd
      for (int64_t k = 0; k < width; ++k) yd[k] *= sum[k];
    }
  }
}

// Backward over `width` columns laid out as in softmax_columns.
template <class T>
void softmax_backward_columns(const T* gy, const T* y, T* gx, int64_t dim, int64_t inner,
                              int64_t width, bool log) {
  T sum[kColumns];  // softmax: sum(gy * y); log_softmax: sum(gy)
  std::fill_n(sum, width, T(0));
  for (int64_t d = 0; d < dim; ++d) {
    const T* gyd = gy + d * inner;
    const T* yd = y + d * inner;
    if (log) {
#pragma omp simd
      for (int64_t k = 0; k < width; ++k) sum[k] += gyd[k];
    } else {
#pragma omp simd
      for (int64_t k = 0; k < width; ++k) sum[k] += gyd[k] * yd[k];
    }
  }
  for (int64_t d = 0; d < dim; ++d) {
    const T* gyd = gy + d * inner;
    const T* yd = y + d * inner;
    T* gxd = gx + d * inner;
    if (log) {
#pragma omp simd
      for (int64_t k = 0; k < width; ++k) gxd[k] = gyd[k] - vexp_nonpositive(yd[k]) * sum[k];
    } else {
#pragma omp simd
      for (int64_t k = 0; k < width; ++k) gxd[k] = yd[k] * (gyd[k] - sum[k]);
    }
  }
}

// Runs row_fn(offset) for each of the `outer` contiguous rows (inner == 1), or
// columns_fn(offset, width) for each block of columns of each [dim, inner]
// slab, spread over the team. Offsets are element offsets into the tensors.
template <class RowFn, class ColumnsFn>
void for_each_line(int64_t outer, int64_t dim, int64_t inner, const RowFn& row_fn,
                   const ColumnsFn& columns_fn) {
  if (inner == 1) {
    const int64_t grain = std::max<int64_t>(1, kDefaultGrain / dim);
    parallel_for(0, outer, grain, [&](int64_t begin, int64_t end) {
      for (int64_t o = begin; o < end; ++o) row_fn(o * dim);
    });
    return;
  }
  const int64_t blocks = (inner + kColumns - 1) / kColumns;
  const int64_t grain = std::max<int64_t>(1, kDefaultGrain / (dim * std::min(inner, kColumns)));
  parallel_for(0, outer * blocks, grain, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t o = item / blocks, k0 = (item % blocks) * kColumns;
      columns_fn(o * dim * inner + k0, std::min(kColumns, inner - k0));
    }
  });
}

template <class T>
void forward(const T* x, T* y, int64_t outer, int64_t dim, int64_t inner, bool log) {
  if (outer <= 0 || dim <= 0 || inner <= 0) return;
  for_each_line(
      outer, dim, inner, [&](int64_t at) { softmax_row(x + at, y + at, dim, log); },
      [&](int64_t at, int64_t width) { softmax_columns(x + at, y + at, dim, inner, width, log); });
}

template <class T>
void backward(const T* gy, const T* y, T* gx, int64_t outer, int64_t dim, int64_t inner, bool log) {
  if (outer <= 0 || dim <= 0 || inner <= 0) return;
  for_each_line(
      outer, dim, inner,
      [&](int64_t at) { softmax_backward_row(gy + at, y + at, gx + at, dim, log); },
      [&](int64_t at, int64_t width) {
        softmax_backward_columns(gy + at, y + at, gx + at, dim, inner, width, log);
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
