// softmax_forward / softmax_backward on CUDA over x viewed as
// [outer, dim, inner], float and double, with the CPU's formulas
// (kernels/cpu/softmax.h): the line max is subtracted before exp (float:
// fast_math.h's vexp_nonpositive, as on the CPU), log_softmax is
// (x - max) - log(sum); an all -inf line gives NaN.
// - inner == 1: one block per contiguous row; max and sum by block_reduce
//   (a fixed tree, so the same bits every run).
// - inner > 1: one thread per line (o, k), folding its `dim` elements
//   serially; adjacent threads read adjacent columns, so loads coalesce.
// y may be x, grad_x may be grad_y: every element is read, then written, by
// the one thread that owns it, after the line's reductions.
#include <limits>

#include "toadstool/kernels/cuda/block_reduce.cuh"
#include "toadstool/kernels/cuda/common.cuh"
#include "toadstool/kernels/cuda/rows.h"
#include "toadstool/kernels/fast_math.h"

namespace toadstool::kernels::cuda {

namespace {

template <class T>
__global__ void softmax_rows(const T* x, T* y, int64_t rows, int64_t dim, bool log) {
  __shared__ BlockScratch<T> scratch;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* xr = x + row * dim;
    T* yr = y + row * dim;
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) m = max_ignoring_nan(m, xr[i]);
    m = block_reduce(m, scratch.get(), [](T a, T b) { return max_ignoring_nan(a, b); });
    T sum = 0;
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) sum += vexp_nonpositive(xr[i] - m);
    sum = block_reduce(sum, scratch.get(), [](T a, T b) { return a + b; });
    if (log) {
      const T log_sum = std::log(sum);
      for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = (xr[i] - m) - log_sum;
    } else {
      const T scale = T(1) / sum;
      for (int64_t i = threadIdx.x; i < dim; i += blockDim.x)
        yr[i] = vexp_nonpositive(xr[i] - m) * scale;
    }
  }
}

template <class T>
__global__ void softmax_columns(const T* x, T* y, int64_t outer, int64_t dim, int64_t inner,
                                bool log) {
  for (int64_t line = first_index(); line < outer * inner; line += index_step()) {
    const int64_t at = (line / inner) * dim * inner + line % inner;  // element (o, 0, k)
    const T* xl = x + at;
    T* yl = y + at;
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t d = 0; d < dim; ++d) m = max_ignoring_nan(m, xl[d * inner]);
    T sum = 0;
    for (int64_t d = 0; d < dim; ++d) sum += vexp_nonpositive(xl[d * inner] - m);
    if (log) {
      const T log_sum = std::log(sum);
      for (int64_t d = 0; d < dim; ++d) yl[d * inner] = (xl[d * inner] - m) - log_sum;
    } else {
      const T scale = T(1) / sum;
      for (int64_t d = 0; d < dim; ++d) yl[d * inner] = vexp_nonpositive(xl[d * inner] - m) * scale;
    }
  }
}

// softmax: gx = y * (gy - sum(gy * y)); log_softmax: gx = gy - exp(y) * sum(gy).
template <class T>
__device__ T softmax_grad(T gy, T y, T sum, bool log) {
  return log ? gy - vexp_nonpositive(y) * sum : y * (gy - sum);
}

template <class T>
__global__ void softmax_backward_rows(const T* gy, const T* y, T* gx, int64_t rows, int64_t dim,
                                      bool log) {
  __shared__ BlockScratch<T> scratch;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t at = row * dim;
    T sum = 0;
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x)
      sum += log ? gy[at + i] : gy[at + i] * y[at + i];
    sum = block_reduce(sum, scratch.get(), [](T a, T b) { return a + b; });
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x)
      gx[at + i] = softmax_grad(gy[at + i], y[at + i], sum, log);
  }
}

template <class T>
__global__ void softmax_backward_columns(const T* gy, const T* y, T* gx, int64_t outer, int64_t dim,
                                         int64_t inner, bool log) {
  for (int64_t line = first_index(); line < outer * inner; line += index_step()) {
    const int64_t at = (line / inner) * dim * inner + line % inner;
    T sum = 0;
    for (int64_t d = 0; d < dim; ++d) {
      const int64_t i = at + d * inner;
      sum += log ? gy[i] : gy[i] * y[i];
    }
    for (int64_t d = 0; d < dim; ++d) {
      const int64_t i = at + d * inner;
      gx[i] = softmax_grad(gy[i], y[i], sum, log);
    }
  }
}

void softmax_forward_entry(DType dtype, const void* x, void* y, int64_t outer, int64_t dim,
                           int64_t inner, bool log) {
  if (outer <= 0 || dim <= 0 || inner <= 0) return;
  for_dtype<TypeSet::Float>(dtype, "softmax_forward", [&](auto zero) {
    using T = decltype(zero);
    if (inner == 1) {
      launch_kernel("softmax_rows", softmax_rows<T>, grid_for(outer), block_size_for(dim), 0,
                    typed<T>(x), typed<T>(y), outer, dim, log);
    } else {
      launch_kernel("softmax_columns", softmax_columns<T>, blocks_for(outer * inner), kThreads, 0,
                    typed<T>(x), typed<T>(y), outer, dim, inner, log);
    }
  });
}

void softmax_backward_entry(DType dtype, const void* grad_y, const void* y, void* grad_x,
                            int64_t outer, int64_t dim, int64_t inner, bool log) {
  if (outer <= 0 || dim <= 0 || inner <= 0) return;
  for_dtype<TypeSet::Float>(dtype, "softmax_backward", [&](auto zero) {
    using T = decltype(zero);
    if (inner == 1) {
      launch_kernel("softmax_backward_rows", softmax_backward_rows<T>, grid_for(outer),
                    block_size_for(dim), 0, typed<T>(grad_y), typed<T>(y), typed<T>(grad_x), outer,
                    dim, log);
    } else {
      launch_kernel("softmax_backward_columns", softmax_backward_columns<T>,
                    blocks_for(outer * inner), kThreads, 0, typed<T>(grad_y), typed<T>(y),
                    typed<T>(grad_x), outer, dim, inner, log);
    }
  });
}

}  // namespace

void register_softmax(Backend& b) {
  b.softmax_forward = softmax_forward_entry;
  b.softmax_backward = softmax_backward_entry;
}

}  // namespace toadstool::kernels::cuda
