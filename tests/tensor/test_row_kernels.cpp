// The fused row kernels (softmax / log_softmax, layer_norm; forward and
// backward) against plain double-precision references, finite differences of
// the forward, and each other across thread counts. Calls the raw-pointer
// kernels directly, without the tensor front-end.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include "toadstool/kernels/cpu/layer_norm.h"
#include "toadstool/kernels/cpu/softmax.h"
#include "toadstool/kernels/fast_math.h"

namespace toadstool::kernels::cpu {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

template <class T>
std::vector<T> random_values(int64_t n, double mean, double stddev, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> dist(mean, stddev);
  std::vector<T> v(n);
  for (auto& e : v) e = static_cast<T>(dist(gen));
  return v;
}

template <class T>
std::vector<double> to_double(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

// Every element within atol + rtol * |expected|; NaN and infinities must match.
template <class T>
void expect_near_all(const std::vector<T>& actual, const std::vector<double>& expected, double rtol,
                     double atol) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    const double a = actual[i], e = expected[i];
    if (std::isnan(e)) {
      EXPECT_TRUE(std::isnan(a)) << "element " << i;
    } else if (std::isinf(e)) {
      EXPECT_EQ(a, e) << "element " << i;
    } else {
      EXPECT_NEAR(a, e, atol + rtol * std::fabs(e)) << "element " << i;
    }
  }
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double e : v) m = std::isfinite(e) ? std::max(m, std::fabs(e)) : m;
  return m;
}

// Runs fn with the OpenMP team limited to `threads`, then restores it.
void with_threads(int threads, const std::function<void()>& fn) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  fn();
  omp_set_num_threads(saved);
}

// ---------------------------------------------------------------------------
// Softmax references, [outer, dim, inner] in double.
// ---------------------------------------------------------------------------

struct SoftmaxShape {
  int64_t outer, dim, inner;
  int64_t numel() const { return outer * dim * inner; }
  int64_t at(int64_t o, int64_t d, int64_t k) const { return (o * dim + d) * inner + k; }
};

std::vector<double> softmax_reference(const std::vector<double>& x, SoftmaxShape s, bool log) {
  std::vector<double> y(x.size());
  for (int64_t o = 0; o < s.outer; ++o) {
    for (int64_t k = 0; k < s.inner; ++k) {
      double max = -kInf, sum = 0;
      for (int64_t d = 0; d < s.dim; ++d) max = std::max(max, x[s.at(o, d, k)]);
      for (int64_t d = 0; d < s.dim; ++d) sum += std::exp(x[s.at(o, d, k)] - max);
      for (int64_t d = 0; d < s.dim; ++d) {
        const double shifted = x[s.at(o, d, k)] - max;
        y[s.at(o, d, k)] = log ? shifted - std::log(sum) : std::exp(shifted) / sum;
      }
    }
  }
  return y;
}

std::vector<double> softmax_backward_reference(const std::vector<double>& gy,
                                               const std::vector<double>& y, SoftmaxShape s,
                                               bool log) {
  std::vector<double> gx(y.size());
  for (int64_t o = 0; o < s.outer; ++o) {
    for (int64_t k = 0; k < s.inner; ++k) {
      double sum = 0;
      for (int64_t d = 0; d < s.dim; ++d) {
        const int64_t i = s.at(o, d, k);
        sum += log ? gy[i] : gy[i] * y[i];
      }
      for (int64_t d = 0; d < s.dim; ++d) {
        const int64_t i = s.at(o, d, k);
        gx[i] = log ? gy[i] - std::exp(y[i]) * sum : y[i] * (gy[i] - sum);
      }
    }
  }
  return gx;
}

// Forward and backward of one shape in T against the references, the
// backward fed the reference forward output (rounded to T).
template <class T>
void check_softmax(SoftmaxShape s, bool log, double offset, double rtol, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << "outer " << s.outer << " dim " << s.dim << " inner "
                                    << s.inner << (log ? " log_softmax" : " softmax"));
  const auto x = random_values<T>(s.numel(), offset, 3.0, seed);
  const auto want = softmax_reference(to_double(x), s, log);
  std::vector<T> y(x.size());
  softmax_forward(x.data(), y.data(), s.outer, s.dim, s.inner, log);
  // log_softmax is x - shift: its error scales with |x|, not with the result.
  const double atol = log ? rtol * (std::fabs(offset) + 10) : rtol * 1e-2;
  expect_near_all(y, want, rtol, atol);

  const auto gy = random_values<T>(s.numel(), 0.0, 1.0, seed + 1);
  std::vector<T> y_in(want.begin(), want.end());
  const auto gx_want = softmax_backward_reference(to_double(gy), to_double(y_in), s, log);
  std::vector<T> gx(x.size());
  softmax_backward(gy.data(), y_in.data(), gx.data(), s.outer, s.dim, s.inner, log);
  expect_near_all(gx, gx_want, rtol, rtol * std::max(1.0, max_abs(gx_want)));
}

const SoftmaxShape kSoftmaxShapes[] = {{7, 256, 1}, {3, 1000, 1}, {5, 33, 1},
                                       {4, 17, 5},  {2, 64, 300}, {3, 9, 513}};

TEST(RowKernels, SoftmaxMatchesReferenceFloat) {
  for (const auto& s : kSoftmaxShapes) {
    for (bool log : {false, true}) check_softmax<float>(s, log, 0.0, 2e-6, 1);
  }
}

TEST(RowKernels, SoftmaxMatchesReferenceDouble) {
  for (const auto& s : kSoftmaxShapes) {
    for (bool log : {false, true}) check_softmax<double>(s, log, 0.0, 1e-13, 2);
  }
}

TEST(RowKernels, SoftmaxLargeValuesStayFinite) {
  for (const auto& s : {SoftmaxShape{6, 200, 1}, SoftmaxShape{3, 50, 7}}) {
    for (bool log : {false, true}) {
      check_softmax<float>(s, log, 1e4, 2e-6, 3);
      check_softmax<float>(s, log, -1e4, 2e-6, 4);
      check_softmax<double>(s, log, 1e4, 1e-13, 5);
    }
  }
}

// -inf entries get probability 0 (log: -inf); an all -inf line is NaN, as in
// PyTorch. Lines along dim 1 of [2, 4, inner], for inner 1 and 3.
TEST(RowKernels, SoftmaxNegativeInfinity) {
  for (int64_t inner : {1, 3}) {
    const SoftmaxShape s{2, 4, inner};
    std::vector<float> x(s.numel());
    for (int64_t k = 0; k < inner; ++k) {
      const float line0[] = {1.0f, -INFINITY, 2.0f, -INFINITY};
      for (int64_t d = 0; d < 4; ++d) {
        x[s.at(0, d, k)] = line0[d];
        x[s.at(1, d, k)] = -INFINITY;
      }
    }
    for (bool log : {false, true}) {
      std::vector<float> y(x.size());
      softmax_forward(x.data(), y.data(), s.outer, s.dim, s.inner, log);
      expect_near_all(y, softmax_reference(to_double(x), s, log), 1e-6, 1e-7);
      for (int64_t k = 0; k < inner; ++k) {
        EXPECT_EQ(y[s.at(0, 1, k)], log ? -INFINITY : 0.0f);
        for (int64_t d = 0; d < 4; ++d) EXPECT_TRUE(std::isnan(y[s.at(1, d, k)]));
      }
      // Backward through the finite line: the -inf entries get gx = 0
      // (softmax) or gx = gy (log_softmax, exp(-inf) = 0).
      std::vector<float> gy(x.size(), 0.5f), gx(x.size());
      softmax_backward(gy.data(), y.data(), gx.data(), s.outer, s.dim, s.inner, log);
      for (int64_t k = 0; k < inner; ++k) EXPECT_EQ(gx[s.at(0, 1, k)], log ? 0.5f : 0.0f);
    }
  }
}

TEST(RowKernels, SoftmaxDimOneAndEmpty) {
  const std::vector<float> x = {3.0f, -1e4f, 7.0f};
  std::vector<float> y(3, -5.0f);
  softmax_forward(x.data(), y.data(), 3, 1, 1, false);
  EXPECT_EQ(y, std::vector<float>(3, 1.0f));
  softmax_forward(x.data(), y.data(), 1, 1, 3, true);
  EXPECT_EQ(y, std::vector<float>(3, 0.0f));
  // Nothing to do: the output keeps its sentinel values.
  std::vector<float> untouched(3, -5.0f);
  softmax_forward(x.data(), untouched.data(), 0, 3, 1, false);
  softmax_forward(x.data(), untouched.data(), 3, 0, 1, false);
  softmax_backward(x.data(), x.data(), untouched.data(), 0, 3, 1, true);
  softmax_backward(x.data(), x.data(), untouched.data(), 1, 0, 3, false);
  EXPECT_EQ(untouched, std::vector<float>(3, -5.0f));
}

TEST(RowKernels, SoftmaxInPlace) {
  for (const auto& s : {SoftmaxShape{5, 40, 1}, SoftmaxShape{2, 40, 6}}) {
    for (bool log : {false, true}) {
      auto x = random_values<float>(s.numel(), 0.0, 2.0, 6);
      std::vector<float> y(x.size());
      softmax_forward(x.data(), y.data(), s.outer, s.dim, s.inner, log);
      softmax_forward(x.data(), x.data(), s.outer, s.dim, s.inner, log);
      EXPECT_EQ(x, y);
    }
  }
}

// Backward (double) against central differences of the double forward:
// d/dx_i sum(gy * f(x)).
TEST(RowKernels, SoftmaxBackwardMatchesFiniteDifferences) {
  for (const auto& s : {SoftmaxShape{2, 6, 1}, SoftmaxShape{2, 5, 3}}) {
    for (bool log : {false, true}) {
      auto x = random_values<double>(s.numel(), 0.0, 1.5, 7);
      const auto gy = random_values<double>(s.numel(), 0.0, 1.0, 8);
      std::vector<double> y(x.size()), gx(x.size());
      softmax_forward(x.data(), y.data(), s.outer, s.dim, s.inner, log);
      softmax_backward(gy.data(), y.data(), gx.data(), s.outer, s.dim, s.inner, log);
      const auto loss = [&] {
        std::vector<double> out(x.size());
        softmax_forward(x.data(), out.data(), s.outer, s.dim, s.inner, log);
        double l = 0;
        for (size_t i = 0; i < out.size(); ++i) l += gy[i] * out[i];
        return l;
      };
      constexpr double h = 1e-6;
      for (size_t i = 0; i < x.size(); ++i) {
        const double saved = x[i];
        x[i] = saved + h;
        const double up = loss();
        x[i] = saved - h;
        const double down = loss();
        x[i] = saved;
        EXPECT_NEAR(gx[i], (up - down) / (2 * h), 1e-8) << "element " << i;
      }
    }
  }
}

// ---------------------------------------------------------------------------
// LayerNorm references, [rows, cols] in double.
// ---------------------------------------------------------------------------

struct LayerNormReference {
  std::vector<double> y, mean, rstd;
};

LayerNormReference layer_norm_reference(const std::vector<double>& x, const double* gamma,
                                        const double* beta, int64_t rows, int64_t cols,
                                        double eps) {
  LayerNormReference ref{std::vector<double>(x.size()), std::vector<double>(rows),
                         std::vector<double>(rows)};
  // long double (64-bit mantissa) so that the reference stays exact enough
  // for double inputs with a mean far larger than their spread.
  for (int64_t r = 0; r < rows; ++r) {
    const double* xr = &x[r * cols];
    long double mean = 0, var = 0;
    for (int64_t c = 0; c < cols; ++c) mean += xr[c];
    mean /= cols;
    for (int64_t c = 0; c < cols; ++c) var += (xr[c] - mean) * (xr[c] - mean);
    const long double rstd = 1 / std::sqrt(var / cols + eps);
    ref.mean[r] = static_cast<double>(mean);
    ref.rstd[r] = static_cast<double>(rstd);
    for (int64_t c = 0; c < cols; ++c) {
      ref.y[r * cols + c] = static_cast<double>((xr[c] - mean) * rstd * (gamma ? gamma[c] : 1.0) +
                                                (beta ? beta[c] : 0.0));
    }
  }
  return ref;
}

struct LayerNormGrads {
  std::vector<double> gx, ggamma, gbeta;
};

LayerNormGrads layer_norm_backward_reference(const std::vector<double>& gy,
                                             const std::vector<double>& x, const double* gamma,
                                             int64_t rows, int64_t cols, double eps) {
  const auto ref = layer_norm_reference(x, nullptr, nullptr, rows, cols, eps);
  LayerNormGrads g{std::vector<double>(x.size()), std::vector<double>(cols),
                   std::vector<double>(cols)};
  for (int64_t r = 0; r < rows; ++r) {
    double mean_dxhat = 0, mean_dxhat_xhat = 0;
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t i = r * cols + c;
      const double dxhat = gy[i] * (gamma ? gamma[c] : 1.0);
      mean_dxhat += dxhat / cols;
      mean_dxhat_xhat += dxhat * ref.y[i] / cols;  // ref.y is xhat (no affine)
      g.ggamma[c] += gy[i] * ref.y[i];
      g.gbeta[c] += gy[i];
    }
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t i = r * cols + c;
      const double dxhat = gy[i] * (gamma ? gamma[c] : 1.0);
      g.gx[i] = ref.rstd[r] * (dxhat - mean_dxhat - ref.y[i] * mean_dxhat_xhat);
    }
  }
  return g;
}

constexpr double kEps = 1e-5;

// Forward then backward of [rows, cols] in T against the references.
// `offset` / `spread` set the mean and standard deviation of x.
template <class T>
void check_layer_norm(int64_t rows, int64_t cols, bool affine, double offset, double spread,
                      double rtol, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << "rows " << rows << " cols " << cols << " affine " << affine
                                    << " offset " << offset << " spread " << spread);
  const auto x = random_values<T>(rows * cols, offset, spread, seed);
  const auto gamma = random_values<T>(cols, 1.0, 0.5, seed + 1);
  const auto beta = random_values<T>(cols, 0.0, 0.5, seed + 2);
  const T* g = affine ? gamma.data() : nullptr;
  const T* b = affine ? beta.data() : nullptr;
  const auto gamma_d = to_double(gamma), beta_d = to_double(beta);
  const double* gd = affine ? gamma_d.data() : nullptr;
  const double* bd = affine ? beta_d.data() : nullptr;

  const auto want = layer_norm_reference(to_double(x), gd, bd, rows, cols, kEps);
  std::vector<T> y(x.size()), mean(rows), rstd(rows);
  layer_norm_forward(x.data(), g, b, y.data(), mean.data(), rstd.data(), rows, cols, kEps);
  expect_near_all(y, want.y, rtol, rtol);
  expect_near_all(mean, want.mean, rtol, 0.0);
  expect_near_all(rstd, want.rstd, rtol, 0.0);

  const auto gy = random_values<T>(rows * cols, 0.0, 1.0, seed + 3);
  const auto grads =
      layer_norm_backward_reference(to_double(gy), to_double(x), gd, rows, cols, kEps);
  std::vector<T> gx(x.size()), ggamma(cols, T(-7)), gbeta(cols, T(-7));
  layer_norm_backward(gy.data(), x.data(), mean.data(), rstd.data(), g, gx.data(), ggamma.data(),
                      gbeta.data(), rows, cols);
  // gx is a difference of terms of size rstd * |gy|: compare on that scale.
  const double gx_scale = want.rstd.empty() ? 1.0 : max_abs(want.rstd) * 4;
  expect_near_all(gx, grads.gx, rtol, rtol * gx_scale);
  expect_near_all(ggamma, grads.ggamma, rtol, rtol * std::sqrt(rows + 1.0) * 4);
  expect_near_all(gbeta, grads.gbeta, rtol, rtol * std::sqrt(rows + 1.0) * 4);
}

TEST(RowKernels, LayerNormMatchesReference) {
  for (bool affine : {false, true}) {
    for (int64_t cols : {1, 7, 256, 1000}) {
      check_layer_norm<float>(33, cols, affine, 0.5, 2.0, 2e-6, 10);
      check_layer_norm<double>(33, cols, affine, 0.5, 2.0, 1e-13, 11);
    }
  }
}

// Mean 1e4 with a spread of 1e-2 (about 10 float ulps of the mean): the
// statistics and the normalized values must not lose their relative precision
// to the offset, in the forward or (from the float-rounded saved mean) the
// backward.
TEST(RowKernels, LayerNormLargeOffsetKeepsPrecision) {
  for (bool affine : {false, true}) {
    check_layer_norm<float>(40, 256, affine, 1e4, 1e-2, 4e-6, 12);
    check_layer_norm<float>(40, 256, affine, -3e4, 1.0, 2e-6, 13);
    check_layer_norm<double>(40, 256, affine, 1e4, 1e-2, 1e-11, 14);
  }
}

TEST(RowKernels, LayerNormOnlyGamma) {
  const int64_t rows = 9, cols = 20;
  const auto x = random_values<float>(rows * cols, 0.0, 1.0, 15);
  const auto gamma = random_values<float>(cols, 1.0, 0.5, 16);
  const auto gamma_d = to_double(gamma);
  const auto want = layer_norm_reference(to_double(x), gamma_d.data(), nullptr, rows, cols, kEps);
  std::vector<float> y(x.size());
  layer_norm_forward(x.data(), gamma.data(), nullptr, y.data(), nullptr, nullptr, rows, cols, kEps);
  expect_near_all(y, want.y, 2e-6, 2e-6);
  // Only beta: x normalized plus beta.
  const auto plain = layer_norm_reference(to_double(x), nullptr, nullptr, rows, cols, kEps);
  std::vector<double> shifted(plain.y);
  for (int64_t i = 0; i < rows * cols; ++i) shifted[i] += gamma[i % cols];
  layer_norm_forward(x.data(), nullptr, gamma.data(), y.data(), nullptr, nullptr, rows, cols, kEps);
  expect_near_all(y, shifted, 2e-6, 2e-6);
}

// Any subset of the backward outputs may be requested; with no rows the
// parameter gradients are zero (overwritten, not accumulated).
TEST(RowKernels, LayerNormBackwardOptionalOutputsAndNoRows) {
  const int64_t rows = 5, cols = 8;
  const auto x = random_values<float>(rows * cols, 0.0, 1.0, 17);
  const auto gy = random_values<float>(rows * cols, 0.0, 1.0, 18);
  std::vector<float> y(x.size()), mean(rows), rstd(rows);
  layer_norm_forward(x.data(), nullptr, nullptr, y.data(), mean.data(), rstd.data(), rows, cols,
                     kEps);
  std::vector<float> gx_all(x.size()), gg_all(cols), gb_all(cols);
  layer_norm_backward(gy.data(), x.data(), mean.data(), rstd.data(), nullptr, gx_all.data(),
                      gg_all.data(), gb_all.data(), rows, cols);
  std::vector<float> gx(x.size()), gg(cols), gb(cols);
  layer_norm_backward(gy.data(), x.data(), mean.data(), rstd.data(), nullptr, gx.data(), nullptr,
                      nullptr, rows, cols);
  layer_norm_backward(gy.data(), x.data(), mean.data(), rstd.data(), nullptr, nullptr, gg.data(),
                      nullptr, rows, cols);
  layer_norm_backward(gy.data(), x.data(), mean.data(), rstd.data(), nullptr, nullptr, nullptr,
                      gb.data(), rows, cols);
  EXPECT_EQ(gx, gx_all);
  EXPECT_EQ(gg, gg_all);
  EXPECT_EQ(gb, gb_all);

  std::vector<float> zero_g(cols, 3.0f), zero_b(cols, 3.0f);
  const float* no_input = nullptr;
  layer_norm_backward(no_input, no_input, no_input, no_input, no_input, nullptr, zero_g.data(),
                      zero_b.data(), 0, cols);
  EXPECT_EQ(zero_g, std::vector<float>(cols, 0.0f));
  EXPECT_EQ(zero_b, std::vector<float>(cols, 0.0f));
}

// One column: xhat is 0, so y is beta and gx is 0.
TEST(RowKernels, LayerNormSingleColumn) {
  const std::vector<float> x = {3.0f, -2.0f, 1e4f}, gy = {1.0f, 2.0f, 3.0f};
  const float gamma = 2.0f, beta = 0.25f;
  std::vector<float> y(3), mean(3), rstd(3), gx(3), gg(1), gb(1);
  layer_norm_forward(x.data(), &gamma, &beta, y.data(), mean.data(), rstd.data(), 3, 1, kEps);
  EXPECT_EQ(y, std::vector<float>(3, 0.25f));
  EXPECT_EQ(mean, x);
  layer_norm_backward(gy.data(), x.data(), mean.data(), rstd.data(), &gamma, gx.data(), gg.data(),
                      gb.data(), 3, 1);
  EXPECT_EQ(gx, std::vector<float>(3, 0.0f));
  EXPECT_EQ(gg[0], 0.0f);
  EXPECT_EQ(gb[0], 6.0f);
}

// Backward (double) against central differences of the double forward, for
// x, gamma and beta: d/dp sum(gy * layer_norm(x; gamma, beta)).
TEST(RowKernels, LayerNormBackwardMatchesFiniteDifferences) {
  const int64_t rows = 3, cols = 6;
  auto x = random_values<double>(rows * cols, 0.3, 1.2, 19);
  auto gamma = random_values<double>(cols, 1.0, 0.5, 20);
  auto beta = random_values<double>(cols, 0.0, 0.5, 21);
  const auto gy = random_values<double>(rows * cols, 0.0, 1.0, 22);
  std::vector<double> y(x.size()), mean(rows), rstd(rows);
  layer_norm_forward(x.data(), gamma.data(), beta.data(), y.data(), mean.data(), rstd.data(), rows,
                     cols, kEps);
  std::vector<double> gx(x.size()), ggamma(cols), gbeta(cols);
  layer_norm_backward(gy.data(), x.data(), mean.data(), rstd.data(), gamma.data(), gx.data(),
                      ggamma.data(), gbeta.data(), rows, cols);
  const auto loss = [&] {
    std::vector<double> out(x.size());
    layer_norm_forward(x.data(), gamma.data(), beta.data(), out.data(), nullptr, nullptr, rows,
                       cols, kEps);
    double l = 0;
    for (size_t i = 0; i < out.size(); ++i) l += gy[i] * out[i];
    return l;
  };
  const auto check = [&](std::vector<double>& param, const std::vector<double>& grad,
                         const char* name) {
    constexpr double h = 1e-6;
    for (size_t i = 0; i < param.size(); ++i) {
      const double saved = param[i];
      param[i] = saved + h;
      const double up = loss();
      param[i] = saved - h;
      const double down = loss();
      param[i] = saved;
      EXPECT_NEAR(grad[i], (up - down) / (2 * h), 1e-7) << name << " element " << i;
    }
  };
  check(x, gx, "x");
  check(gamma, ggamma, "gamma");
  check(beta, gbeta, "beta");
}

// ---------------------------------------------------------------------------
// Thread counts: the same bits on one thread and on two.
// ---------------------------------------------------------------------------

TEST(RowKernels, SameResultsOnOneAndTwoThreads) {
  const int64_t rows = 1024, cols = 256;  // big enough to be split over the team
  const auto x = random_values<float>(rows * cols, 0.0, 2.0, 23);
  const auto gy = random_values<float>(rows * cols, 0.0, 1.0, 24);
  const auto gamma = random_values<float>(cols, 1.0, 0.5, 25);
  const auto beta = random_values<float>(cols, 0.0, 0.5, 26);
  struct Results {
    std::vector<float> softmax, softmax_grad, columns, y, mean, rstd, gx, ggamma, gbeta;
  };
  const auto run = [&] {
    Results r{};
    for (auto* v : {&r.softmax, &r.softmax_grad, &r.columns, &r.y, &r.gx}) v->resize(x.size());
    r.mean.resize(rows), r.rstd.resize(rows), r.ggamma.resize(cols), r.gbeta.resize(cols);
    softmax_forward(x.data(), r.softmax.data(), rows, cols, 1, false);
    softmax_backward(gy.data(), r.softmax.data(), r.softmax_grad.data(), rows, cols, 1, false);
    softmax_forward(x.data(), r.columns.data(), 4, cols, rows / 4, true);
    layer_norm_forward(x.data(), gamma.data(), beta.data(), r.y.data(), r.mean.data(),
                       r.rstd.data(), rows, cols, kEps);
    layer_norm_backward(gy.data(), x.data(), r.mean.data(), r.rstd.data(), gamma.data(),
                        r.gx.data(), r.ggamma.data(), r.gbeta.data(), rows, cols);
    return r;
  };
  Results one, two;
  with_threads(1, [&] { one = run(); });
  with_threads(2, [&] { two = run(); });
  EXPECT_EQ(one.softmax, two.softmax);
  EXPECT_EQ(one.softmax_grad, two.softmax_grad);
  EXPECT_EQ(one.columns, two.columns);
  EXPECT_EQ(one.y, two.y);
  EXPECT_EQ(one.mean, two.mean);
  EXPECT_EQ(one.rstd, two.rstd);
  EXPECT_EQ(one.gx, two.gx);
  EXPECT_EQ(one.ggamma, two.ggamma);
  EXPECT_EQ(one.gbeta, two.gbeta);
}

// ---------------------------------------------------------------------------
// The fast exp softmax relies on, over the inputs it sees (x - max <= 0)
// and a little beyond.
// ---------------------------------------------------------------------------

TEST(RowKernels, FastExpWithinTwoUlp) {
  double worst = 0;
  for (double x = -87.0; x < 20.0; x += 0.00037) {
    const float xf = static_cast<float>(x);
    const double want = std::exp(static_cast<double>(xf));
    const float wf = static_cast<float>(want);
    const double ulp = std::nextafter(wf, INFINITY) - wf;
    worst = std::max(worst, std::fabs(fast_exp(xf) - want) / ulp);
  }
  EXPECT_LE(worst, 2.0);
  EXPECT_EQ(fast_exp(-INFINITY), 0.0f);
  EXPECT_EQ(fast_exp(-1e4f), 0.0f);
  EXPECT_EQ(fast_exp(0.0f), 1.0f);
  EXPECT_EQ(fast_exp(1e4f), INFINITY);
}

}  // namespace
}  // namespace toadstool::kernels::cpu
