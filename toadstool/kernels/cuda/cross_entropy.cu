// cross_entropy_forward / cross_entropy_backward on CUDA over logits x
// [outer, classes, inner], float and double, with the CPU's formulas
// (kernels/cpu/cross_entropy.h, kernels/loss_math.h). A line i = o * inner + k
// is x[o, :, k].
// - inner == 1: one block per contiguous row, sums by block_reduce (a fixed
//   tree: the same bits every run);
// - inner > 1: one thread per line, classes folded serially (adjacent
//   threads read adjacent columns).
// The weight sum W = sum_c w_c is taken in double by each line's block or
// thread (a pass over [classes] weights, cached), so no extra launch.
#include <limits>

#include "toadstool/kernels/cuda/block_reduce.cuh"
#include "toadstool/kernels/cuda/common.cuh"
#include "toadstool/kernels/cuda/rows.h"
#include "toadstool/kernels/loss_math.h"

namespace toadstool::kernels::cuda {

namespace {

// The shift for exp(x - shift): the max, or 0 while it is -inf, so that an
// all -inf line gives lse = -inf and NaN logits still poison the sum (as
// the CPU's shift_of).
template <class T>
__device__ T shift_of(T max) {
  return max == -std::numeric_limits<T>::infinity() ? T(0) : max;
}

// Per-thread sums of a row: sum exp(x - shift), sum w x, and W (double).
template <class T>
struct RowSums {
  T exp_sum;
  T weighted_x;
  double weight_sum;
};

// Writes line i's lse, nll and smooth from its sums (as the CPU's finish).
template <class T>
__device__ void finish_line(int64_t i, const T* x_line, int64_t step, const int64_t* target,
                            const T* w, int64_t ignore_index, T lse_value_, T weight_sum, T wx,
                            T* lse, T* nll, T* smooth) {
  lse[i] = lse_value_;
  const int64_t t = target[i];
  if (t == ignore_index) {
    nll[i] = T(0);
    if (smooth) smooth[i] = T(0);
    return;
  }
  nll[i] = cross_entropy_nll(lse_value_, x_line[t * step], w != nullptr ? w[t] : T(1));
  if (smooth) smooth[i] = cross_entropy_smooth(lse_value_, weight_sum, wx);
}

template <class T>
__global__ void cross_entropy_forward_rows(const T* x, const int64_t* target, const T* w,
                                           int64_t outer, int64_t classes, int64_t ignore_index,
                                           T* lse, T* nll, T* smooth) {
  __shared__ BlockScratch<RowSums<T>> sums_scratch;
  __shared__ BlockScratch<T> max_scratch;
  for (int64_t o = blockIdx.x; o < outer; o += gridDim.x) {
    const T* row = x + o * classes;
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) m = max_ignoring_nan(m, row[c]);
    m = block_reduce(m, max_scratch.get(), [](T a, T b) { return max_ignoring_nan(a, b); });
    const T shift = shift_of(m);
    RowSums<T> s{T(0), T(0), 0.0};
    for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) {
      s.exp_sum += vexp_nonpositive(row[c] - shift);
      if (smooth) {
        const T wc = w != nullptr ? w[c] : T(1);
        s.weighted_x += wc * row[c];
        s.weight_sum += static_cast<double>(wc);
      }
    }
    s = block_reduce(s, sums_scratch.get(), [](const RowSums<T>& a, const RowSums<T>& b) {
      return RowSums<T>{a.exp_sum + b.exp_sum, a.weighted_x + b.weighted_x,
                        a.weight_sum + b.weight_sum};
    });
    if (threadIdx.x == 0) {
      finish_line(o, row, 1, target, w, ignore_index, shift + std::log(s.exp_sum),
                  static_cast<T>(s.weight_sum), s.weighted_x, lse, nll, smooth);
    }
  }
}

template <class T>
__global__ void cross_entropy_forward_columns(const T* x, const int64_t* target, const T* w,
                                              int64_t outer, int64_t classes, int64_t inner,
                                              int64_t ignore_index, T* lse, T* nll, T* smooth) {
  for (int64_t i = first_index(); i < outer * inner; i += index_step()) {
    const T* line = x + (i / inner) * classes * inner + i % inner;  // element (o, 0, k)
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t c = 0; c < classes; ++c) m = max_ignoring_nan(m, line[c * inner]);
    const T shift = shift_of(m);
    T exp_sum = 0, wx = 0;
    double weight_sum = 0;
    for (int64_t c = 0; c < classes; ++c) {
      const T xc = line[c * inner];
      exp_sum += vexp_nonpositive(xc - shift);
      if (smooth) {
        const T wc = w != nullptr ? w[c] : T(1);
        wx += wc * xc;
        weight_sum += static_cast<double>(wc);
      }
    }
    finish_line(i, line, inner, target, w, ignore_index, shift + std::log(exp_sum),
                static_cast<T>(weight_sum), wx, lse, nll, smooth);
  }
}

// grad_x_c = g (exp(x_c - lse) (a w_t + b W) - b w_c) - [c == t] g a w_t,
// zero on an ignored line. The target's term is subtracted after the
// shared part, as on the CPU.
template <class T>
__device__ T cross_entropy_grad_at(int64_t c, int64_t t, T xc, T l, T coef, T boff, const T* w,
                                   T target_term) {
  T v = cross_entropy_grad(xc, l, coef, w != nullptr ? boff * w[c] : boff);
  if (c == t) v -= target_term;
  return v;
}

template <class T>
__global__ void cross_entropy_backward_rows(const T* x, const int64_t* target, const T* w,
                                            const T* lse, const T* grad, int64_t grad_stride, T a,
                                            T b, int64_t outer, int64_t classes,
                                            int64_t ignore_index, T* gx) {
  __shared__ BlockScratch<double> scratch;
  for (int64_t o = blockIdx.x; o < outer; o += gridDim.x) {
    const T* row = x + o * classes;
    T* grow = gx + o * classes;
    const int64_t t = target[o];
    if (t == ignore_index) {  // the same for the whole block: no block_reduce skipped unevenly
      for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) grow[c] = T(0);
      continue;
    }
    T weight_sum = static_cast<T>(classes);
    if (w != nullptr) {
      double s = 0;
      for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) s += static_cast<double>(w[c]);
      weight_sum =
          static_cast<T>(block_reduce(s, scratch.get(), [](double p, double q) { return p + q; }));
    }
    const T g = grad[o * grad_stride];
    const T wt = w != nullptr ? w[t] : T(1);
    const T coef = g * (a * wt + b * weight_sum), boff = g * b, l = lse[o];
    const T target_term = g * a * wt;
    for (int64_t c = threadIdx.x; c < classes; c += blockDim.x)
      grow[c] = cross_entropy_grad_at(c, t, row[c], l, coef, boff, w, target_term);
  }
}

template <class T>
__global__ void cross_entropy_backward_columns(const T* x, const int64_t* target, const T* w,
                                               const T* lse, const T* grad, int64_t grad_stride,
                                               T a, T b, int64_t outer, int64_t classes,
                                               int64_t inner, int64_t ignore_index, T* gx) {
  for (int64_t i = first_index(); i < outer * inner; i += index_step()) {
    const int64_t at = (i / inner) * classes * inner + i % inner;
    const int64_t t = target[i];
    if (t == ignore_index) {
      for (int64_t c = 0; c < classes; ++c) gx[at + c * inner] = T(0);
      continue;
    }
    T weight_sum = static_cast<T>(classes);
    if (w != nullptr) {
      double s = 0;
      for (int64_t c = 0; c < classes; ++c) s += static_cast<double>(w[c]);
      weight_sum = static_cast<T>(s);
    }
    const T g = grad[i * grad_stride];
    const T wt = w != nullptr ? w[t] : T(1);
    const T coef = g * (a * wt + b * weight_sum), boff = g * b, l = lse[i];
    const T target_term = g * a * wt;
    for (int64_t c = 0; c < classes; ++c) {
      gx[at + c * inner] =
          cross_entropy_grad_at(c, t, x[at + c * inner], l, coef, boff, w, target_term);
    }
  }
}

void cross_entropy_forward_entry(DType dtype, const void* x, const int64_t* target,
                                 const void* weight, int64_t outer, int64_t classes, int64_t inner,
                                 int64_t ignore_index, void* lse, void* nll, void* smooth) {
  if (outer <= 0 || inner <= 0) return;
  for_dtype<TypeSet::Float>(dtype, "cross_entropy_forward", [&](auto zero) {
    using T = decltype(zero);
    if (inner == 1) {
      launch_kernel("cross_entropy_forward_rows", cross_entropy_forward_rows<T>, grid_for(outer),
                    block_size_for(classes), 0, typed<T>(x), target, typed<T>(weight), outer,
                    classes, ignore_index, typed<T>(lse), typed<T>(nll), typed<T>(smooth));
    } else {
      launch_kernel("cross_entropy_forward_columns", cross_entropy_forward_columns<T>,
                    blocks_for(outer * inner), kThreads, 0, typed<T>(x), target, typed<T>(weight),
                    outer, classes, inner, ignore_index, typed<T>(lse), typed<T>(nll),
                    typed<T>(smooth));
    }
  });
}

void cross_entropy_backward_entry(DType dtype, const void* x, const int64_t* target,
                                  const void* weight, const void* lse, const void* grad,
                                  int64_t grad_stride, double a, double b, int64_t outer,
                                  int64_t classes, int64_t inner, int64_t ignore_index,
                                  void* grad_x) {
  if (outer <= 0 || inner <= 0) return;
  for_dtype<TypeSet::Float>(dtype, "cross_entropy_backward", [&](auto zero) {
    using T = decltype(zero);
    if (inner == 1) {
      launch_kernel("cross_entropy_backward_rows", cross_entropy_backward_rows<T>, grid_for(outer),
                    block_size_for(classes), 0, typed<T>(x), target, typed<T>(weight),
                    typed<T>(lse), typed<T>(grad), grad_stride, T(a), T(b), outer, classes,
                    ignore_index, typed<T>(grad_x));
    } else {
      launch_kernel("cross_entropy_backward_columns", cross_entropy_backward_columns<T>,
                    blocks_for(outer * inner), kThreads, 0, typed<T>(x), target, typed<T>(weight),
                    typed<T>(lse), typed<T>(grad), grad_stride, T(a), T(b), outer, classes, inner,
                    ignore_index, typed<T>(grad_x));
    }
  });
}

}  // namespace

void register_cross_entropy(Backend& b) {
  b.cross_entropy_forward = cross_entropy_forward_entry;
  b.cross_entropy_backward = cross_entropy_backward_entry;
}

}  // namespace toadstool::kernels::cuda
