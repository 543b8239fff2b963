// layer_norm_forward / layer_norm_backward on CUDA over contiguous
// [rows, cols], float and double, with the CPU's numerics
// (kernels/cpu/layer_norm.cpp): row statistics in double by two passes (the
// mean, then the deviations, whose sum refines the mean), the output in T
// with the mean split hi + lo.
//
// Forward: one block per row.
// Backward:
//   1. one block per row: the row's sums (double) give grad_x, and the
//      row's mean refinement `delta`, kept for step 2;
//   2. grad_gamma / grad_beta partials: the rows are cut into `chunks`
//      fixed by the shape; thread (c, chunk) adds up column c over its
//      chunk's rows in order, in double;
//   3. one thread per column adds the chunks' partials in chunk order.
// Every order is fixed by the shape, no atomics: the same bits every run.
//
// dropout_add_layer_norm (FusedDropout) adds to the forward's row kernel a
// first loop that writes x = residual + dropout(block), and to step 1 of the
// backward grad_block = dropout(grad_x). Each element makes its own Philox
// block (four times the counter work of dropout's kernel, which is cheap next
// to the memory traffic saved) so the rows keep their layout.
#include <cmath>

#include "toadstool/kernels/cuda/block_reduce.cuh"
#include "toadstool/kernels/cuda/common.cuh"
#include "toadstool/kernels/cuda/rows.h"
#include "toadstool/kernels/cuda/scratch.cuh"
#include "toadstool/kernels/philox.h"
#include "toadstool/kernels/random_values.h"

namespace toadstool::kernels::cuda {

namespace {

struct DoublePair {
  double a, b;
};
struct DoubleTriple {
  double a, b, c;
};

// dropout_add_layer_norm's part; `block` null for a plain layer norm.
template <class T>
struct FusedDropout {
  const T* block = nullptr;     // forward: x = residual + dropout(block), [rows, cols]
  const T* residual = nullptr;  // forward
  T* x = nullptr;               // forward: where x goes (the buffer the kernel normalises)
  T* grad_block = nullptr;      // backward: dropout(grad_x)
  DropoutMask mask;
  uint32_t threshold = 0;  // dropout_threshold(1 - p)
  T keep_scale = T(1);     // 1 / (1 - p)

  FusedDropout() = default;
  explicit FusedDropout(const DropoutMask& m)
      : mask(m),
        threshold(dropout_threshold(1.0 - m.p)),
        keep_scale(static_cast<T>(1.0 / (1.0 - m.p))) {}

  // Element g of the whole tensor, dropped: draw g % 8 of block offset + g / 8
  // (RandomKind::DropoutKeep).
  __device__ T drop(T in, int64_t g) const {
    const Philox4x32 bits = philox4x32_10(mask.offset + static_cast<uint64_t>(g / 8), 0, mask.seed);
    return dropout_value(in, dropout_draw(bits, static_cast<int>(g % 8)), threshold, keep_scale);
  }
};

// ---------------------------------------------------------------------------
// Forward
// ---------------------------------------------------------------------------

template <class T>
__global__ void layer_norm_forward_rows(const T* x, const T* gamma, const T* beta, T* y,
                                        T* mean_out, T* rstd_out, int64_t rows, int64_t cols,
                                        double eps, FusedDropout<T> fused) {
  __shared__ BlockScratch<DoublePair> scratch;
  const auto add = [](DoublePair p, DoublePair q) { return DoublePair{p.a + q.a, p.b + q.b}; };
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* xr = x + row * cols;
    if (fused.block) {
      // Each thread reads back only the elements it wrote.
      for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
        const int64_t g = row * cols + i;
        fused.x[g] = static_cast<T>(fused.residual[g] + fused.drop(fused.block[g], g));
      }
    }
    T* yr = y + row * cols;
    DoublePair sum{0, 0};
    for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) sum.a += static_cast<double>(xr[i]);
    sum = block_reduce(sum, scratch.get(), add);
    const double mean = sum.a / cols;
    // a: sum of deviations (the mean's rounding error), b: sum of their squares.
    DoublePair dev{0, 0};
    for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
      const double d = static_cast<double>(xr[i]) - mean;
      dev.a += d;
      dev.b += d * d;
    }
    dev = block_reduce(dev, scratch.get(), add);
    const double residual = dev.a / cols;
    const double variance = dev.b / cols - residual * residual;
    const double rstd = 1.0 / std::sqrt(variance + eps);
    if (threadIdx.x == 0) {
      if (mean_out) mean_out[row] = static_cast<T>(mean + residual);
      if (rstd_out) rstd_out[row] = static_cast<T>(rstd);
    }
    // x - hi is exact near the mean (Sterbenz), so a large mean costs the
    // small deviations nothing.
    const T hi = static_cast<T>(mean);
    const T lo = static_cast<T>((mean - hi) + residual);
    const T s = static_cast<T>(rstd);
    for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
      T v = ((xr[i] - hi) - lo) * s;
      if (gamma) v = v * gamma[i];
      if (beta) v = v + beta[i];
      yr[i] = v;
    }
  }
}

// ---------------------------------------------------------------------------
// Backward. With xhat = (x - mean) * rstd and dxhat = gy * gamma:
//   gx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
//   grad_gamma = sum over rows of gy * xhat, grad_beta = sum over rows of gy.
// ---------------------------------------------------------------------------

// Step 1. delta = mean(x - saved mean) refines the T-rounded saved mean.
template <class T>
__global__ void layer_norm_backward_rows(const T* gy, const T* x, const T* mean, const T* rstd,
                                         const T* gamma, T* gx, double* delta_out, int64_t rows,
                                         int64_t cols, FusedDropout<T> fused) {
  __shared__ BlockScratch<DoubleTriple> scratch;
  const auto add = [](DoubleTriple p, DoubleTriple q) {
    return DoubleTriple{p.a + q.a, p.b + q.b, p.c + q.c};
  };
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t at = row * cols;
    const T m = mean[row];
    const double r = static_cast<double>(rstd[row]);
    // a: sum(d), b: sum(dxhat), c: sum(dxhat * d), with d = x - m.
    DoubleTriple sums{0, 0, 0};
    for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
      const T d = x[at + i] - m;
      const T dxhat = gamma ? gy[at + i] * gamma[i] : gy[at + i];
      sums.a += static_cast<double>(d);
      sums.b += static_cast<double>(dxhat);
      sums.c += static_cast<double>(dxhat * d);
    }
    sums = block_reduce(sums, scratch.get(), add);
    const double delta = sums.a / cols;
    if (threadIdx.x == 0 && delta_out) delta_out[row] = delta;
    if (!gx) continue;
    // mean(dxhat * xhat) = sum(dxhat * (d - delta)) * rstd / n
    const T mean_dxhat = static_cast<T>(sums.b / cols);
    const T mean_dxhat_xhat = static_cast<T>((sums.c - sums.b * delta) * r / cols);
    const T shift = static_cast<T>(delta), s = static_cast<T>(r);
    for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
      const T xhat = ((x[at + i] - m) - shift) * s;
      const T dxhat = gamma ? gy[at + i] * gamma[i] : gy[at + i];
      const T g = s * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat);
      gx[at + i] = g;
      if (fused.grad_block) fused.grad_block[at + i] = fused.drop(g, at + i);
    }
  }
}

// Step 2. Thread (c, chunk): partial_gamma / partial_beta [chunks, cols].
template <class T>
__global__ void layer_norm_column_partials(const T* gy, const T* x, const T* mean, const T* rstd,
                                           const double* delta, double* partial_gamma,
                                           double* partial_beta, int64_t rows, int64_t cols,
                                           int64_t chunks) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t chunk = blockIdx.y;
  if (c >= cols) return;
  const int64_t r0 = rows * chunk / chunks, r1 = rows * (chunk + 1) / chunks;
  double sum_gamma = 0, sum_beta = 0;
  for (int64_t r = r0; r < r1; ++r) {
    const T g = gy[r * cols + c];
    const T xhat = ((x[r * cols + c] - mean[r]) - static_cast<T>(delta[r])) * rstd[r];
    sum_gamma += static_cast<double>(g * xhat);
    sum_beta += static_cast<double>(g);
  }
  partial_gamma[chunk * cols + c] = sum_gamma;
  partial_beta[chunk * cols + c] = sum_beta;
}

// Step 3. One thread per column, chunks in order.
template <class T>
__global__ void layer_norm_column_sums(const double* partial_gamma, const double* partial_beta,
                                       T* grad_gamma, T* grad_beta, int64_t cols, int64_t chunks) {
  for (int64_t c = first_index(); c < cols; c += index_step()) {
    double sum_gamma = 0, sum_beta = 0;
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      sum_gamma += partial_gamma[chunk * cols + c];
      sum_beta += partial_beta[chunk * cols + c];
    }
    if (grad_gamma) grad_gamma[c] = static_cast<T>(sum_gamma);
    if (grad_beta) grad_beta[c] = static_cast<T>(sum_beta);
  }
}

// Row chunks of step 2: at least kMinChunkRows rows each, at most
// kMaxChunks (the partials take 2 * chunks * cols doubles).
constexpr int64_t kMinChunkRows = 16;
constexpr int64_t kMaxChunks = 128;

// With fused.grad_block, gx must not be null.
template <class T>
void backward(const T* gy, const T* x, const T* mean, const T* rstd, const T* gamma, T* gx,
              T* grad_gamma, T* grad_beta, int64_t rows, int64_t cols,
              const FusedDropout<T>& fused = {}) {
  if (cols <= 0) return;
  rows = std::max<int64_t>(rows, 0);
  const bool column_sums = grad_gamma || grad_beta;
  Scratch<double> delta(column_sums ? static_cast<size_t>(rows) : 0);
  if (rows > 0 && (gx || column_sums)) {
    launch_kernel("layer_norm_backward_rows", layer_norm_backward_rows<T>, grid_for(rows),
                  block_size_for(cols), 0, gy, x, mean, rstd, gamma, gx, delta.get(), rows, cols,
                  fused);
  }
  if (!column_sums) return;
  const int64_t chunks = std::clamp<int64_t>(rows / kMinChunkRows, 1, kMaxChunks);
  Scratch<double> partials(static_cast<size_t>(2 * chunks * cols));
  double* partial_gamma = partials.get();
  double* partial_beta = partials.get() + chunks * cols;
  const dim3 grid(static_cast<unsigned>((cols + kThreads - 1) / kThreads),
                  static_cast<unsigned>(chunks));
  launch_kernel("layer_norm_column_partials", layer_norm_column_partials<T>, grid, kThreads, 0, gy,
                x, mean, rstd, delta.get(), partial_gamma, partial_beta, rows, cols, chunks);
  launch_kernel("layer_norm_column_sums", layer_norm_column_sums<T>, blocks_for(cols), kThreads, 0,
                partial_gamma, partial_beta, grad_gamma, grad_beta, cols, chunks);
}

template <class T>
void forward(const T* x, const T* gamma, const T* beta, T* y, T* mean, T* rstd, int64_t rows,
             int64_t cols, double eps, const FusedDropout<T>& fused = {}) {
  if (rows <= 0 || cols <= 0) return;
  launch_kernel("layer_norm_forward_rows", layer_norm_forward_rows<T>, grid_for(rows),
                block_size_for(cols), 0, x, gamma, beta, y, mean, rstd, rows, cols, eps, fused);
}

void layer_norm_forward_entry(DType dtype, const void* x, const void* gamma, const void* beta,
                              void* y, void* mean, void* rstd, int64_t rows, int64_t cols,
                              double eps) {
  for_dtype<TypeSet::Float>(dtype, "layer_norm_forward", [&](auto zero) {
    using T = decltype(zero);
    forward(typed<T>(x), typed<T>(gamma), typed<T>(beta), typed<T>(y), typed<T>(mean),
            typed<T>(rstd), rows, cols, eps);
  });
}

void layer_norm_backward_entry(DType dtype, const void* grad_y, const void* x, const void* mean,
                               const void* rstd, const void* gamma, void* grad_x, void* grad_gamma,
                               void* grad_beta, int64_t rows, int64_t cols) {
  for_dtype<TypeSet::Float>(dtype, "layer_norm_backward", [&](auto zero) {
    using T = decltype(zero);
    backward(typed<T>(grad_y), typed<T>(x), typed<T>(mean), typed<T>(rstd), typed<T>(gamma),
             typed<T>(grad_x), typed<T>(grad_gamma), typed<T>(grad_beta), rows, cols);
  });
}

// The block in the norm's dtype only (the front-end widens a 16-bit one).
void check_block_dtype(DType dtype, DType block_dtype) {
  if (block_dtype != dtype) {
    throw std::invalid_argument(std::string("the block must be ") + dtype_name(dtype) + ", got " +
                                dtype_name(block_dtype));
  }
}

void dropout_add_layer_norm_forward_entry(DType dtype, DType block_dtype, const void* block,
                                          const void* residual, const DropoutMask& mask, void* x,
                                          const void* gamma, const void* beta, void* y, void* mean,
                                          void* rstd, int64_t rows, int64_t cols, double eps) {
  check_block_dtype(dtype, block_dtype);
  for_dtype<TypeSet::Float>(dtype, "dropout_add_layer_norm_forward", [&](auto zero) {
    using T = decltype(zero);
    FusedDropout<T> fused(mask);
    fused.block = typed<T>(block);
    fused.residual = typed<T>(residual);
    fused.x = typed<T>(x);
    forward(typed<T>(x), typed<T>(gamma), typed<T>(beta), typed<T>(y), typed<T>(mean),
            typed<T>(rstd), rows, cols, eps, fused);
  });
}

void dropout_add_layer_norm_backward_entry(DType dtype, DType block_dtype, const void* grad_y,
                                           const void* x, const void* mean, const void* rstd,
                                           const void* gamma, const DropoutMask& mask, void* grad_x,
                                           void* grad_block, void* grad_gamma, void* grad_beta,
                                           int64_t rows, int64_t cols) {
  check_block_dtype(dtype, block_dtype);
  for_dtype<TypeSet::Float>(dtype, "dropout_add_layer_norm_backward", [&](auto zero) {
    using T = decltype(zero);
    FusedDropout<T> fused(mask);
    fused.grad_block = typed<T>(grad_block);
    backward(typed<T>(grad_y), typed<T>(x), typed<T>(mean), typed<T>(rstd), typed<T>(gamma),
             typed<T>(grad_x), typed<T>(grad_gamma), typed<T>(grad_beta), rows, cols, fused);
  });
}

}  // namespace

void register_layer_norm(Backend& b) {
  b.layer_norm_forward = layer_norm_forward_entry;
  b.layer_norm_backward = layer_norm_backward_entry;
  b.dropout_add_layer_norm_forward = dropout_add_layer_norm_forward_entry;
  b.dropout_add_layer_norm_backward = dropout_add_layer_norm_backward_entry;
}

}  // namespace toadstool::kernels::cuda
