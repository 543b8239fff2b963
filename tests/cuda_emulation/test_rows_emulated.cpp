// The CUDA row kernels (kernels/cuda/softmax.cu, layer_norm.cu,
// cross_entropy.cu, whole files: dtype dispatch, launch geometry, scratch)
// run on the CPU by the warp emulator (emulated_backend.h), against the CPU
// backend's entries on the same inputs, with tests/cuda/test_cuda_rows.cpp's
// tolerances: the two share their formulas but add up in other orders
// (float32 2e-5; float64 1e-11). Shapes cover one block per row with fewer
// elements than threads, a block looping over a row (dim > 256), the
// one-thread-per-line kernels (inner > 1), layer norm's column partials cut
// into several chunks (rows >= 32), rows of -inf and a large mean.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "compare.h"
#include "emulated_backend.h"
#include "toadstool/kernels/dtype.h"
#include "toadstool/kernels/kernel_args.h"

namespace toadstool::kernels::cuda {
namespace {

template <class T>
constexpr DType kDType = std::is_same_v<T, float> ? DType::Float32 : DType::Float64;

template <class T>
std::vector<T> normal_values(int64_t n, uint32_t seed, double scale = 1, double mean = 0) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(mean, scale);
  std::vector<T> values(static_cast<size_t>(n));
  for (T& v : values) v = static_cast<T>(normal(rng));
  return values;
}

// float32 to 2e-5, float64 to 1e-11, relative and absolute.
template <class T>
void expect_close(const std::vector<T>& got, const std::vector<T>& want, const std::string& what) {
  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-11;
  expect_close_values(got, want, tol, tol, what);
}

// [outer, dim, inner]
struct Lines {
  int64_t outer, dim, inner;
  int64_t numel() const { return outer * dim * inner; }
  std::string name() const {
    return "[" + std::to_string(outer) + ", " + std::to_string(dim) + ", " + std::to_string(inner) +
           "]";
  }
};

constexpr Lines kLineShapes[] = {{5, 1, 1},    {3, 7, 1}, {4, 33, 1}, {2, 300, 1},
                                 {2, 1000, 1}, {3, 5, 7}, {2, 40, 3}};

template <class T>
void check_softmax(const Lines& s, bool log) {
  const std::string what = std::string(log ? "log_softmax " : "softmax ") + s.name();
  const Backend& cpu = cpu_backend();
  const Backend& gpu = emulated_backend();
  const T inf = std::numeric_limits<T>::infinity();
  std::vector<T> x = normal_values<T>(s.numel(), 1, 3);
  if (s.inner == 1 && s.outer > 2) {
    for (int64_t i = 0; i < s.dim; ++i) x[i] = -inf;  // row 0 all -inf: NaN
    x[s.dim] = -inf;                                  // row 1 partly: probability 0
  }
  std::vector<T> y_cpu(x.size()), y_gpu(x.size());
  cpu.softmax_forward(kDType<T>, x.data(), y_cpu.data(), s.outer, s.dim, s.inner, log);
  gpu.softmax_forward(kDType<T>, x.data(), y_gpu.data(), s.outer, s.dim, s.inner, log);
  expect_close(y_gpu, y_cpu, what + " forward");
  // In place (y = x), as the entries allow.
  std::vector<T> in_place = x;
  gpu.softmax_forward(kDType<T>, in_place.data(), in_place.data(), s.outer, s.dim, s.inner, log);
  expect_close(in_place, y_cpu, what + " forward in place");

  const std::vector<T> gy = normal_values<T>(s.numel(), 2);
  std::vector<T> gx_cpu(x.size()), gx_gpu(x.size());
  cpu.softmax_backward(kDType<T>, gy.data(), y_cpu.data(), gx_cpu.data(), s.outer, s.dim, s.inner,
                       log);
  gpu.softmax_backward(kDType<T>, gy.data(), y_cpu.data(), gx_gpu.data(), s.outer, s.dim, s.inner,
                       log);
  expect_close(gx_gpu, gx_cpu, what + " backward");
}

TEST(RowsEmulated, SoftmaxAndLogSoftmaxMatchTheCpu) {
  for (const Lines& s : kLineShapes) {
    for (bool log : {false, true}) {
      check_softmax<float>(s, log);
      check_softmax<double>(s, log);
    }
  }
}

// [rows, cols]
struct Matrix {
  int64_t rows, cols;
  std::string name() const {
    return "[" + std::to_string(rows) + ", " + std::to_string(cols) + "]";
  }
};

constexpr Matrix kNormShapes[] = {{6, 1}, {5, 5}, {7, 300}, {70, 33}, {3, 1000}};

// Buffers of one layer norm call; gamma and beta empty for none.
template <class T>
struct NormCall {
  std::vector<T> gamma, beta, y, mean, rstd, gx, ggamma, gbeta;
  explicit NormCall(const Matrix& s, bool affine) {
    if (affine) {
      gamma = normal_values<T>(s.cols, 3, 1, 1);
      beta = normal_values<T>(s.cols, 4);
    }
    y.resize(s.rows * s.cols);
    mean.resize(s.rows);
    rstd.resize(s.rows);
    gx.resize(s.rows * s.cols);
    ggamma.resize(s.cols);
    gbeta.resize(s.cols);
  }
  const T* gamma_or_null() const { return gamma.empty() ? nullptr : gamma.data(); }
  const T* beta_or_null() const { return beta.empty() ? nullptr : beta.data(); }
};

template <class T>
void expect_same_norm(const NormCall<T>& gpu, const NormCall<T>& cpu, const std::string& what) {
  expect_close(gpu.y, cpu.y, what + " y");
  expect_close(gpu.mean, cpu.mean, what + " mean");
  expect_close(gpu.rstd, cpu.rstd, what + " rstd");
  expect_close(gpu.gx, cpu.gx, what + " grad_x");
  expect_close(gpu.ggamma, cpu.ggamma, what + " grad_gamma");
  expect_close(gpu.gbeta, cpu.gbeta, what + " grad_beta");
}

template <class T>
void check_layer_norm(const Matrix& s, bool affine, double mean) {
  const std::string what = "layer_norm " + s.name() + (affine ? " affine" : "") + " mean " +
                           std::to_string(mean) + " " + dtype_name(kDType<T>);
  const std::vector<T> x = normal_values<T>(s.rows * s.cols, 5, 2, mean);
  const std::vector<T> gy = normal_values<T>(s.rows * s.cols, 6);
  NormCall<T> cpu(s, affine), gpu(s, affine);
  for (auto [backend, call] : {std::pair{&cpu_backend(), &cpu}, {&emulated_backend(), &gpu}}) {
    backend->layer_norm_forward(kDType<T>, x.data(), call->gamma_or_null(), call->beta_or_null(),
                                call->y.data(), call->mean.data(), call->rstd.data(), s.rows,
                                s.cols, 1e-5);
    // From the CPU's saved statistics, so that only the backward differs.
    backend->layer_norm_backward(kDType<T>, gy.data(), x.data(), cpu.mean.data(), cpu.rstd.data(),
                                 call->gamma_or_null(), call->gx.data(), call->ggamma.data(),
                                 call->gbeta.data(), s.rows, s.cols);
  }
  expect_same_norm(gpu, cpu, what);
  // Only the column sums (no grad_x), then only grad_x.
  std::vector<T> ggamma(s.cols), gbeta(s.cols);
  emulated_backend().layer_norm_backward(kDType<T>, gy.data(), x.data(), cpu.mean.data(),
                                         cpu.rstd.data(), cpu.gamma_or_null(), nullptr,
                                         ggamma.data(), gbeta.data(), s.rows, s.cols);
  expect_close(ggamma, cpu.ggamma, what + " grad_gamma alone");
  expect_close(gbeta, cpu.gbeta, what + " grad_beta alone");
  std::vector<T> gx(s.rows * s.cols);
  emulated_backend().layer_norm_backward(kDType<T>, gy.data(), x.data(), cpu.mean.data(),
                                         cpu.rstd.data(), cpu.gamma_or_null(), gx.data(), nullptr,
                                         nullptr, s.rows, s.cols);
  expect_close(gx, cpu.gx, what + " grad_x alone");
}

TEST(RowsEmulated, LayerNormMatchesTheCpu) {
  for (const Matrix& s : kNormShapes) {
    for (bool affine : {false, true}) {
      check_layer_norm<float>(s, affine, 0);
      check_layer_norm<double>(s, affine, 0);
    }
  }
  check_layer_norm<float>({7, 300}, true, 1e4);  // the mean split hi + lo
}

template <class T>
void check_dropout_add_layer_norm(const Matrix& s, bool affine) {
  const std::string what =
      "dropout_add_layer_norm " + s.name() + (affine ? " affine " : " ") + dtype_name(kDType<T>);
  const DropoutMask mask{.p = 0.25, .seed = 42, .offset = 5};
  const std::vector<T> block = normal_values<T>(s.rows * s.cols, 7);
  const std::vector<T> residual = normal_values<T>(s.rows * s.cols, 8);
  const std::vector<T> gy = normal_values<T>(s.rows * s.cols, 9);
  NormCall<T> cpu(s, affine), gpu(s, affine);
  std::vector<T> x_cpu(block.size()), x_gpu(block.size());
  std::vector<T> gblock_cpu(block.size()), gblock_gpu(block.size());
  for (auto [backend, call, x, gblock] : {std::tuple{&cpu_backend(), &cpu, &x_cpu, &gblock_cpu},
                                          {&emulated_backend(), &gpu, &x_gpu, &gblock_gpu}}) {
    backend->dropout_add_layer_norm_forward(kDType<T>, kDType<T>, block.data(), residual.data(),
                                            mask, x->data(), call->gamma_or_null(),
                                            call->beta_or_null(), call->y.data(), call->mean.data(),
                                            call->rstd.data(), s.rows, s.cols, 1e-5);
    backend->dropout_add_layer_norm_backward(
        kDType<T>, kDType<T>, gy.data(), x_cpu.data(), cpu.mean.data(), cpu.rstd.data(),
        call->gamma_or_null(), mask, call->gx.data(), gblock->data(), call->ggamma.data(),
        call->gbeta.data(), s.rows, s.cols);
  }
  expect_close(x_gpu, x_cpu, what + " x");
  expect_close(gblock_gpu, gblock_cpu, what + " grad_block");
  expect_same_norm(gpu, cpu, what);
}

TEST(RowsEmulated, DropoutAddLayerNormMatchesTheCpu) {
  for (const Matrix& s : kNormShapes) {
    for (bool affine : {false, true}) {
      check_dropout_add_layer_norm<float>(s, affine);
      check_dropout_add_layer_norm<double>(s, affine);
    }
  }
}

constexpr Lines kLogitShapes[] = {{6, 10, 1}, {4, 300, 1}, {3, 5, 4}, {2, 1, 3}};
constexpr int64_t kIgnore = -100;

template <class T>
void check_cross_entropy(const Lines& s, bool weighted, bool smoothing) {
  const std::string what = "cross_entropy " + s.name() + (weighted ? " weighted" : "") +
                           (smoothing ? " smoothing " : " ") + dtype_name(kDType<T>);
  const int64_t lines = s.outer * s.inner;
  std::vector<T> x = normal_values<T>(s.numel(), 10, 3);
  x[1 % s.numel()] = -std::numeric_limits<T>::infinity();  // a logit of -inf
  std::vector<int64_t> target(static_cast<size_t>(lines));
  std::mt19937 rng(11);
  for (int64_t& t : target) t = static_cast<int64_t>(rng() % static_cast<uint32_t>(s.dim));
  target[lines - 1] = kIgnore;
  const std::vector<T> weight = weighted ? normal_values<T>(s.dim, 12, 0.2, 1) : std::vector<T>();
  const T* w = weighted ? weight.data() : nullptr;
  const std::vector<T> grad = normal_values<T>(lines, 13);
  struct Results {
    std::vector<T> lse, nll, smooth, gx, gx_reduced;
  };
  Results cpu, gpu;
  for (auto [backend, r] : {std::pair{&cpu_backend(), &cpu}, {&emulated_backend(), &gpu}}) {
    r->lse.resize(lines);
    r->nll.resize(lines);
    r->smooth.resize(smoothing ? lines : 0);
    r->gx.resize(s.numel());
    r->gx_reduced.resize(s.numel());
    backend->cross_entropy_forward(kDType<T>, x.data(), target.data(), w, s.outer, s.dim, s.inner,
                                   kIgnore, r->lse.data(), r->nll.data(),
                                   smoothing ? r->smooth.data() : nullptr);
    const double b = smoothing ? 0.1 / static_cast<double>(s.dim) : 0.0;
    // Per line (grad_stride 1), then one gradient for every line (stride 0).
    backend->cross_entropy_backward(kDType<T>, x.data(), target.data(), w, cpu.lse.data(),
                                    grad.data(), 1, 0.9, b, s.outer, s.dim, s.inner, kIgnore,
                                    r->gx.data());
    backend->cross_entropy_backward(kDType<T>, x.data(), target.data(), w, cpu.lse.data(),
                                    grad.data(), 0, 0.9, b, s.outer, s.dim, s.inner, kIgnore,
                                    r->gx_reduced.data());
  }
  expect_close(gpu.lse, cpu.lse, what + " lse");
  expect_close(gpu.nll, cpu.nll, what + " nll");
  expect_close(gpu.smooth, cpu.smooth, what + " smooth");
  expect_close(gpu.gx, cpu.gx, what + " grad_x");
  expect_close(gpu.gx_reduced, cpu.gx_reduced, what + " grad_x of a reduced loss");
}

TEST(RowsEmulated, CrossEntropyMatchesTheCpu) {
  for (const Lines& s : kLogitShapes) {
    for (bool weighted : {false, true}) {
      for (bool smoothing : {false, true}) {
        check_cross_entropy<float>(s, weighted, smoothing);
        check_cross_entropy<double>(s, weighted, smoothing);
      }
    }
  }
}

}  // namespace
}  // namespace toadstool::kernels::cuda
