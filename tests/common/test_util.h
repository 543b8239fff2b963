#pragma once
// Helpers shared by the unit tests.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "toadstool/toadstool.h"

namespace toadstool::testing {

inline constexpr double kInf = std::numeric_limits<double>::infinity();

// The elements of t in row-major order, as doubles (copied to the CPU
// first: a GPU tensor's memory cannot be read on the host).
inline std::vector<double> values(const Tensor& t) {
  const Tensor c = t.to(kCPU).to(kFloat64).contiguous();
  const double* p = c.data_ptr<double>();
  return std::vector<double>(p, p + c.numel());
}

// Float tensor of `shape` from values (float32 unless dtype says otherwise).
inline Tensor make(const std::vector<double>& v, const Shape& shape, DType dtype = kFloat32) {
  return from_vector(v, shape).to(dtype);
}

// Shape, then every element within atol + rtol * |expected| (NaNs must match).
inline void expect_close(const Tensor& actual, const Tensor& expected, double rtol = 1e-6,
                         double atol = 1e-7) {
  ASSERT_EQ(actual.shape(), expected.shape());
  const auto a = values(actual), e = values(expected);
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(e[i])) {
      EXPECT_TRUE(std::isnan(a[i])) << "element " << i;
    } else if (std::isinf(e[i])) {
      EXPECT_EQ(a[i], e[i]) << "element " << i;
    } else {
      EXPECT_NEAR(a[i], e[i], atol + rtol * std::fabs(e[i])) << "element " << i;
    }
  }
}

inline void expect_values(const Tensor& actual, const std::vector<double>& expected,
                          const Shape& shape, double rtol = 1e-6, double atol = 1e-7) {
  expect_close(actual, from_vector(expected, shape), rtol, atol);
}

// A non-contiguous tensor with the same values as t (t's transpose, made
// contiguous, then transposed back).
inline Tensor non_contiguous(const Tensor& t) {
  if (t.dim() < 2) {
    // Every other element of a twice-as-long buffer.
    Tensor wide = zeros({t.numel() * 2}, t.dtype());
    Tensor strided =
        wide.slice(0, 0, std::nullopt, 2).view(t.shape().empty() ? Shape{1} : t.shape());
    strided.copy_(t.reshape(strided.shape()));
    return t.dim() == 0 ? strided.squeeze() : strided;
  }
  return t.transpose(-1, -2).contiguous().transpose(-1, -2);
}

// Runs fn, expects a toadstool::Error, and checks that every fragment is in
// its message.
inline void expect_error(const std::function<void()>& fn,
                         const std::vector<std::string>& fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected toadstool::Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const std::string& f : fragments) {
      EXPECT_NE(message.find(f), std::string::npos) << "'" << f << "' not in: " << message;
    }
  }
}
inline void expect_error(const std::function<void()>& fn, const char* fragment) {
  expect_error(fn, std::vector<std::string>{fragment});
}

// Sets the compute threads for a scope. Tests that train tiny models use
// one: their ops are too small to share, and ctest runs two tests at once
// on CI's two cores, where two threads per test would wait on each other.
class ScopedNumThreads {
 public:
  explicit ScopedNumThreads(int threads) : saved_(get_num_threads()) { set_num_threads(threads); }
  ~ScopedNumThreads() { set_num_threads(saved_); }
  ScopedNumThreads(const ScopedNumThreads&) = delete;
  ScopedNumThreads& operator=(const ScopedNumThreads&) = delete;

 private:
  int saved_;
};

// The CPU's bfloat16 GEMM paths (kernels/cpu/gemm_bf16.h; attention's
// bfloat16 tiles follow them).
inline const std::vector<std::string> kBf16GemmPaths = {"fp32", "avx512bf16", "amx"};

// Forces bfloat16 GEMM path `path` for the calls that follow
// (set_cpu_bf16_gemm; "" returns to the automatic choice), or prints why
// this CPU or build cannot run it and returns false: a test loops over
// kBf16GemmPaths and runs the ones this machine has.
inline bool force_bf16_gemm_path(const std::string& path) {
  try {
    set_cpu_bf16_gemm(path);
    return true;
  } catch (const Error& e) {
    std::cout << "bf16 GEMM path " << path << " not available here: " << e.what() << "\n";
    return false;
  }
}

// A key padding mask, [batch, len] bool: sequence b has its last b
// positions padded (true).
inline Tensor padding_mask(int64_t batch, int64_t len) {
  Tensor mask = zeros({batch, len}, kBool);
  for (int64_t b = 1; b < batch; ++b) mask.select(0, b).narrow(0, len - b, b).fill_(true);
  return mask;
}

}  // namespace toadstool::testing

// EXPECT_ERROR(statement, "fragment"): the statement throws a
// toadstool::Error whose message holds the fragment.
#define EXPECT_ERROR(stmt, text) ::toadstool::testing::expect_error([&] { stmt; }, text)
