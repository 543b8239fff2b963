#include "kernels/cpu/layer_norm.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/parallel.h"

namespace toadstool::kernels::cpu {

namespace {

struct RowStats {
  double mean;
  double rstd;
};

// Two passes over the row (it sits in L1): the mean, then the squared
// deviations from it, which stays accurate when the mean is large.
template <class T>
RowStats row_stats(const T* x, int64_t n, double eps) {
  double sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]);
  const double mean = sum / n;
  double squares = 0;
#pragma omp simd reduction(+ : squares)
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - mean;
    squares += d * d;
  }
  return {mean, 1.0 / std::sqrt(squares / n + eps)};
}

template <class T>
void forward(const T* x, const T* gamma, const T* beta, T* y, T* mean_out, T* rstd_out,
             int64_t rows, int64_t cols, double eps) {
  if (rows == 0 || cols == 0) return;
  const int64_t grain = std::max<int64_t>(1, kDefaultGrain / cols);
  parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* xr = x + r * cols;
      T* yr = y + r * cols;
      const auto [mean, rstd] = row_stats(xr, cols, eps);
      if (mean_out) mean_out[r] = static_cast<T>(mean);
      if (rstd_out) rstd_out[r] = static_cast<T>(rstd);
      // y = x * scale + shift, per element in T.
      const T scale = static_cast<T>(rstd), shift = static_cast<T>(-mean * rstd);
      for (int64_t c = 0; c < cols; ++c) {
        T v = xr[c] * scale + shift;
        if (gamma) v *= gamma[c];
        if (beta) v += beta[c];
        yr[c] = v;
      }
    }
  });
}

template <class T>
void backward(const T* gy, const T* x, const T* mean, const T* rstd, const T* gamma, T* gx,
              T* ggamma, T* gbeta, int64_t rows, int64_t cols) {
  if (cols == 0) return;
  const bool column_sums = ggamma || gbeta;
  // Rows split into fixed chunks; each chunk sums its own column partials.
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(threads, rows));
  std::vector<double> partial_gamma(column_sums ? chunks * cols : 0, 0.0);
  std::vector<double> partial_beta(column_sums ? chunks * cols : 0, 0.0);
  parallel_for(0, chunks, 1, [&](int64_t chunk_begin, int64_t chunk_end) {
    for (int64_t chunk = chunk_begin; chunk < chunk_end; ++chunk) {
      const int64_t r0 = rows * chunk / chunks, r1 = rows * (chunk + 1) / chunks;
      double* pg = column_sums ? partial_gamma.data() + chunk * cols : nullptr;
      double* pb = column_sums ? partial_beta.data() + chunk * cols : nullptr;
      for (int64_t r = r0; r < r1; ++r) {
        const T* gyr = gy + r * cols;
        const T* xr = x + r * cols;
        const double m = mean[r], s = rstd[r];
        if (column_sums) {
          for (int64_t c = 0; c < cols; ++c) {
            pg[c] += static_cast<double>(gyr[c]) * (static_cast<double>(xr[c]) - m) * s;
            pb[c] += static_cast<double>(gyr[c]);
          }
        }
        if (!gx) continue;
        // dxhat = gy * gamma; gx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).
        double sum_dxhat = 0, sum_dxhat_xhat = 0;
#pragma omp simd reduction(+ : sum_dxhat, sum_dxhat_xhat)
        for (int64_t c = 0; c < cols; ++c) {
          const double dxhat =
              static_cast<double>(gyr[c]) * (gamma ? static_cast<double>(gamma[c]) : 1.0);
          sum_dxhat += dxhat;
          sum_dxhat_xhat += dxhat * (xr[c] - m) * s;
        }
        const double mean_dxhat = sum_dxhat / cols, mean_dxhat_xhat = sum_dxhat_xhat / cols;
        T* gxr = gx + r * cols;
        for (int64_t c = 0; c < cols; ++c) {
          const double dxhat =
              static_cast<double>(gyr[c]) * (gamma ? static_cast<double>(gamma[c]) : 1.0);
          const double xhat = (xr[c] - m) * s;
          gxr[c] = static_cast<T>(s * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat));
        }
      }
    }
  });
  if (!column_sums) return;
  for (int64_t c = 0; c < cols; ++c) {
    double g = 0, b = 0;
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      g += partial_gamma[chunk * cols + c];
      b += partial_beta[chunk * cols + c];
    }
    if (ggamma) ggamma[c] = static_cast<T>(g);
    if (gbeta) gbeta[c] = static_cast<T>(b);
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

}  // namespace toadstool::kernels::cpu
