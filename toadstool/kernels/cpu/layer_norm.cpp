#include "toadstool/kernels/cpu/layer_norm.h"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "toadstool/kernels/cpu/dropout.h"
#include "toadstool/kernels/cpu/parallel.h"

namespace toadstool::kernels::cpu {

namespace {

// dropout_add_layer_norm's dropout and residual add, fused into layer norm's
// row loops: the forward's rows x = residual + dropout(block) are made just
// before they are normalised, the backward's grad_block = dropout(grad_x)
// just after grad_x. Null for a plain layer norm.
// block and grad_block are in block_dtype: T's, or (T float) a 16-bit one.
template <class T>
struct FusedDropout {
  DType block_dtype;
  const void* block = nullptr;  // forward, [rows, cols]
  const T* residual = nullptr;  // forward, [rows, cols]
  T* x = nullptr;               // forward: where the rows of x go (the `x` it normalises)
  void* grad_block = nullptr;   // backward, [rows, cols]
  DropoutMask mask;

  // x[at, at + cols) = residual + dropout(block) there.
  void make_x(int64_t at, int64_t cols) const {
    with_block_type([&](auto zero) {
      using B = decltype(zero);
      dropout_span(x + at, static_cast<const B*>(block) + at, residual + at, at, cols, mask);
    });
  }
  // grad_block[at, at + cols) = dropout(gx) there.
  void make_grad_block(const T* gx, int64_t at, int64_t cols) const {
    with_block_type([&](auto zero) {
      using B = decltype(zero);
      dropout_span(static_cast<B*>(grad_block) + at, gx + at, static_cast<const B*>(nullptr), at,
                   cols, mask);
    });
  }

 private:
  // fn(a zero of the block's element type).
  template <class Fn>
  void with_block_type(Fn fn) const {
    if constexpr (std::is_same_v<T, float>) {
      if (block_dtype == DType::BFloat16) return fn(BFloat16{});
      if (block_dtype == DType::Float16) return fn(Half{});
    }
    fn(T{});
  }
};

// ---------------------------------------------------------------------------
// Forward
// ---------------------------------------------------------------------------

struct RowStats {
  double mean;      // the row mean, rounded to double
  double residual;  // mean(x - mean): what that rounding lost
  double rstd;
};

// Corrected two-pass statistics in double (the row sits in L1 after the
// first pass): the mean, then the deviations from it. Their squares give the
// variance without the cancellation of sum / sum-of-squares, and their sum
// gives the mean's rounding error, which matters when the mean is far larger
// than the spread (mean 1e4, std 1e-2).
template <class T>
RowStats row_stats(const T* x, int64_t n, double eps) {
  double sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]);
  const double mean = sum / n;
  double deviations = 0, squares = 0;
#pragma omp simd reduction(+ : deviations, squares)
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - mean;
    deviations += d;
    squares += d * d;
  }
  const double residual = deviations / n;
  const double variance = squares / n - residual * residual;
  return {mean, residual, 1.0 / std::sqrt(variance + eps)};
}

// y = (x - mean) * rstd [* gamma] [+ beta], computed in T so that float rows
// run 16 lanes wide. The mean is split into hi + lo, both in T: x - hi is
// exact when x is within a factor 2 of hi (Sterbenz), so a large mean does
// not cost the small deviations their precision, as x * rstd - mean * rstd
// would.
template <class T>
void normalize_row(const T* x, const T* gamma, const T* beta, T* y, int64_t n, RowStats stats) {
  const T hi = static_cast<T>(stats.mean);
  const T lo = static_cast<T>((stats.mean - hi) + stats.residual);
  const T rstd = static_cast<T>(stats.rstd);
  // Separate loops keep the optional affine terms out of the vector body.
  if (gamma && beta) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = ((x[i] - hi) - lo) * rstd * gamma[i] + beta[i];
  } else if (gamma) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = ((x[i] - hi) - lo) * rstd * gamma[i];
  } else if (beta) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = ((x[i] - hi) - lo) * rstd + beta[i];
  } else {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = ((x[i] - hi) - lo) * rstd;
  }
}

template <class T>
void forward(const T* x, const T* gamma, const T* beta, T* y, T* mean_out, T* rstd_out,
             int64_t rows, int64_t cols, double eps, const FusedDropout<T>* fused = nullptr) {
  if (rows <= 0 || cols <= 0) return;
  const int64_t grain = std::max<int64_t>(1, kDefaultGrain / cols);
  parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      if (fused) {
        const int64_t at = r * cols;
        fused->make_x(at, cols);
      }
      const RowStats stats = row_stats(x + r * cols, cols, eps);
      if (mean_out) mean_out[r] = static_cast<T>(stats.mean + stats.residual);
      if (rstd_out) rstd_out[r] = static_cast<T>(stats.rstd);
      normalize_row(x + r * cols, gamma, beta, y + r * cols, cols, stats);
    }
  });
}

// ---------------------------------------------------------------------------
// Backward. With xhat = (x - mean) * rstd and dxhat = gy * gamma:
//   gx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
//   grad_gamma = sum over rows of gy * xhat, grad_beta = sum over rows of gy.
// ---------------------------------------------------------------------------

// What one row of gx needs, from the saved (T-rounded) mean and rstd.
struct RowGrad {
  double delta;            // mean(x - saved mean): the saved mean's rounding error
  double mean_dxhat;       // mean(dxhat)
  double mean_dxhat_xhat;  // mean(dxhat * xhat), xhat from the refined mean
};

// Row sums of the backward are taken in T over blocks of kSumBlock elements
// (for float, 16 lanes of 16 terms: a few roundings, no conversions in the
// hot loop) and across blocks in double, so long rows lose nothing more.
constexpr int64_t kSumBlock = 256;

// One pass over the row. With d = x - saved mean (exact in T near the mean),
// delta refines the mean so that a float-rounded mean of 1e4 does not shift
// every xhat of a narrow row.
template <class T>
RowGrad row_grad(const T* gy, const T* x, const T* gamma, T mean, double rstd, int64_t n) {
  double sum_d = 0, sum_dxhat = 0, sum_dxhat_d = 0;
  for (int64_t begin = 0; begin < n; begin += kSumBlock) {
    const int64_t end = std::min(n, begin + kSumBlock);
    T block_d = 0, block_dxhat = 0, block_dxhat_d = 0;
#pragma omp simd reduction(+ : block_d, block_dxhat, block_dxhat_d)
    for (int64_t i = begin; i < end; ++i) {
      const T d = x[i] - mean;
      const T dxhat = gamma ? gy[i] * gamma[i] : gy[i];
      block_d += d;
      block_dxhat += dxhat;
      block_dxhat_d += dxhat * d;
    }
    sum_d += block_d;
    sum_dxhat += block_dxhat;
    sum_dxhat_d += block_dxhat_d;
  }
  const double delta = sum_d / n;
  // sum(dxhat * (d - delta)) * rstd / n
  return {delta, sum_dxhat / n, (sum_dxhat_d - sum_dxhat * delta) * rstd / n};
}

// gx for one row, in T (16 float lanes).
template <class T>
void grad_x_row(const T* gy, const T* x, const T* gamma, T mean, double rstd, RowGrad g, T* gx,
                int64_t n) {
  const T delta = static_cast<T>(g.delta), s = static_cast<T>(rstd);
  const T mean_dxhat = static_cast<T>(g.mean_dxhat);
  const T mean_dxhat_xhat = static_cast<T>(g.mean_dxhat_xhat);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const T xhat = ((x[i] - mean) - delta) * s;
    const T dxhat = gamma ? gy[i] * gamma[i] : gy[i];
    gx[i] = s * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat);
  }
}

// Column sums (grad_gamma, grad_beta) of one chunk of rows. Rows are added
// up in T over blocks of kRowBlock rows (a few roundings), and each block then
// into double, so the double conversions and updates run once per block.
constexpr int64_t kRowBlock = 8;

template <class T>
struct ColumnPartials {
  T* block_gamma;  // [cols] sums of the current block of rows
  T* block_beta;
  double* gamma;  // [cols] sums of the chunk's finished blocks
  double* beta;
};

// block_gamma += gy * xhat, block_beta += gy for one row.
template <class T>
void add_row(const T* gy, const T* x, T mean, double rstd, double delta, ColumnPartials<T> p,
             int64_t n) {
  const T shift = static_cast<T>(delta), s = static_cast<T>(rstd);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    p.block_gamma[i] += gy[i] * (((x[i] - mean) - shift) * s);
    p.block_beta[i] += gy[i];
  }
}

// Moves the block sums into the double sums and clears them.
template <class T>
void flush_block(ColumnPartials<T> p, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    p.gamma[i] += static_cast<double>(p.block_gamma[i]);
    p.beta[i] += static_cast<double>(p.block_beta[i]);
    p.block_gamma[i] = T(0);
    p.block_beta[i] = T(0);
  }
}

// gx and (when `sums` is given) the column sums of rows [r0, r1).
template <class T>
void backward_rows(const T* gy, const T* x, const T* mean, const T* rstd, const T* gamma, T* gx,
                   const ColumnPartials<T>* sums, const FusedDropout<T>* fused, int64_t r0,
                   int64_t r1, int64_t cols) {
  for (int64_t r = r0; r < r1; ++r) {
    const T* gyr = gy + r * cols;
    const T* xr = x + r * cols;
    const RowGrad g = row_grad(gyr, xr, gamma, mean[r], rstd[r], cols);
    if (gx) grad_x_row(gyr, xr, gamma, mean[r], rstd[r], g, gx + r * cols, cols);
    if (fused) {
      const int64_t at = r * cols;
      fused->make_grad_block(gx, at, cols);
    }
    if (!sums) continue;
    add_row(gyr, xr, mean[r], rstd[r], g.delta, *sums, cols);
    if ((r - r0) % kRowBlock == kRowBlock - 1 || r == r1 - 1) flush_block(*sums, cols);
  }
}

// Enough chunks to spread the column sums over a large team.
constexpr int64_t kMaxChunks = 64;
constexpr int64_t kMinChunkRows = 16;

// With `fused`, gx must not be null (grad_block is made from it).
template <class T>
void backward(const T* gy, const T* x, const T* mean, const T* rstd, const T* gamma, T* gx,
              T* ggamma, T* gbeta, int64_t rows, int64_t cols,
              const FusedDropout<T>* fused = nullptr) {
  if (cols <= 0) return;
  rows = std::max<int64_t>(rows, 0);
  const bool column_sums = ggamma || gbeta;
  // Rows split into chunks that depend on the shape only, never on the thread
  // count; each chunk sums its own [cols] partials, added up afterwards in
  // chunk order. So grad_gamma / grad_beta have the same bits on any team.
  // At least kMinChunkRows rows a chunk bounds the partials' memory to a
  // fraction of the input's.
  const int64_t chunks = std::clamp<int64_t>(
      std::min(rows * cols / kDefaultGrain, rows / kMinChunkRows), 1, kMaxChunks);
  const int64_t partial_size = column_sums ? chunks * cols : 0;
  std::vector<T> block_gamma(partial_size, T(0)), block_beta(partial_size, T(0));
  std::vector<double> partial_gamma(partial_size, 0.0), partial_beta(partial_size, 0.0);
  parallel_for(0, chunks, 1, [&](int64_t chunk_begin, int64_t chunk_end) {
    for (int64_t chunk = chunk_begin; chunk < chunk_end; ++chunk) {
      const int64_t at = chunk * cols;
      const ColumnPartials<T> sums{block_gamma.data() + at, block_beta.data() + at,
                                   partial_gamma.data() + at, partial_beta.data() + at};
      backward_rows(gy, x, mean, rstd, gamma, gx, column_sums ? &sums : nullptr, fused,
                    rows * chunk / chunks, rows * (chunk + 1) / chunks, cols);
    }
  });
  if (!column_sums) return;
  for (int64_t c = 0; c < cols; ++c) {
    double sum_gamma = 0, sum_beta = 0;
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      sum_gamma += partial_gamma[chunk * cols + c];
      sum_beta += partial_beta[chunk * cols + c];
    }
    if (ggamma) ggamma[c] = static_cast<T>(sum_gamma);
    if (gbeta) gbeta[c] = static_cast<T>(sum_beta);
  }
}

}  // namespace

void layer_norm_forward(const float* x, const float* gamma, const float* beta, float* y,
                        float* mean, float* rstd, int64_t rows, int64_t cols, double eps) {
  forward(x, gamma, beta, y, mean, rstd, rows, cols, eps);
}
void layer_norm_forward(const double* x, const double* gamma, const double* beta, double* y,
                        double* mean, double* rstd, int64_t rows, int64_t cols, double eps) {
  forward(x, gamma, beta, y, mean, rstd, rows, cols, eps);
}
void layer_norm_backward(const float* grad_y, const float* x, const float* mean, const float* rstd,
                         const float* gamma, float* grad_x, float* grad_gamma, float* grad_beta,
                         int64_t rows, int64_t cols) {
  backward(grad_y, x, mean, rstd, gamma, grad_x, grad_gamma, grad_beta, rows, cols);
}
void layer_norm_backward(const double* grad_y, const double* x, const double* mean,
                         const double* rstd, const double* gamma, double* grad_x,
                         double* grad_gamma, double* grad_beta, int64_t rows, int64_t cols) {
  backward(grad_y, x, mean, rstd, gamma, grad_x, grad_gamma, grad_beta, rows, cols);
}

void dropout_add_layer_norm_forward(DType block_dtype, const void* block, const float* residual,
                                    const DropoutMask& mask, float* x, const float* gamma,
                                    const float* beta, float* y, float* mean, float* rstd,
                                    int64_t rows, int64_t cols, double eps) {
  const FusedDropout<float> fused{block_dtype, block, residual, x, nullptr, mask};
  forward<float>(x, gamma, beta, y, mean, rstd, rows, cols, eps, &fused);
}
void dropout_add_layer_norm_forward(DType block_dtype, const void* block, const double* residual,
                                    const DropoutMask& mask, double* x, const double* gamma,
                                    const double* beta, double* y, double* mean, double* rstd,
                                    int64_t rows, int64_t cols, double eps) {
  const FusedDropout<double> fused{block_dtype, block, residual, x, nullptr, mask};
  forward<double>(x, gamma, beta, y, mean, rstd, rows, cols, eps, &fused);
}
void dropout_add_layer_norm_backward(const float* grad_y, const float* x, const float* mean,
                                     const float* rstd, const float* gamma, const DropoutMask& mask,
                                     float* grad_x, DType block_dtype, void* grad_block,
                                     float* grad_gamma, float* grad_beta, int64_t rows,
                                     int64_t cols) {
  const FusedDropout<float> fused{block_dtype, nullptr, nullptr, nullptr, grad_block, mask};
  backward(grad_y, x, mean, rstd, gamma, grad_x, grad_gamma, grad_beta, rows, cols, &fused);
}
void dropout_add_layer_norm_backward(const double* grad_y, const double* x, const double* mean,
                                     const double* rstd, const double* gamma,
                                     const DropoutMask& mask, double* grad_x, DType block_dtype,
                                     void* grad_block, double* grad_gamma, double* grad_beta,
                                     int64_t rows, int64_t cols) {
  const FusedDropout<double> fused{block_dtype, nullptr, nullptr, nullptr, grad_block, mask};
  backward(grad_y, x, mean, rstd, gamma, grad_x, grad_gamma, grad_beta, rows, cols, &fused);
}

}  // namespace toadstool::kernels::cpu
