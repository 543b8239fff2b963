// The CUDA GEMM and convolution entries (kernels/cuda/gemm.cu, conv.cu,
// whole) run on the CPU by the warp emulator (emulated_backend.h), with
// cuBLAS replaced by shim/cublas_v2.h's model of its documented contract,
// against the CPU backend's entries on the same call. What this checks is
// ours: the row-major call's mapping onto column-major cuBLAS (operands
// swapped, transposes, leading dims, batch strides, a shared operand),
// alpha and beta (C not read when beta is 0), K = 0, the epilogue (bias,
// activations, the saved pre-activation) and the convolution's chunks,
// groups and bias kernels. Tolerances, of the largest value: float64 1e-12,
// float32 1e-5, bfloat16 1e-2 (the model sums in double and rounds once).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "compare.h"
#include "element_bytes.h"
#include "emulated_backend.h"
#include "toadstool/kernels/dtype.h"
#include "toadstool/kernels/kernel_args.h"

namespace toadstool::kernels::cuda {
namespace {

// n elements of dtype, multiples of 1/16 in [-2, 2) (exact in bfloat16),
// or all NaN.
Bytes elements(DType dtype, int64_t n, uint32_t seed, bool nan = false) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> steps(-32, 31);
  return make_elements(dtype, n, [&](int64_t) {
    return nan ? std::numeric_limits<double>::quiet_NaN() : steps(rng) / 16.0;
  });
}

double tolerance(DType dtype) {
  return dtype == DType::Float64 ? 1e-12 : dtype == DType::Float32 ? 1e-5 : 1e-2;
}

// Within tolerance(dtype) of the result's largest value.
void expect_close(DType dtype, const Bytes& got, const Bytes& want, const std::string& what) {
  const std::vector<double> w = to_doubles(dtype, want);
  expect_close_values(to_doubles(dtype, got), w, 0.0, tolerance(dtype) * largest_finite(w), what);
}

struct GemmCase {
  bool trans_a, trans_b;
  int64_t batch, M, N, K;
  double alpha, beta;
  bool shared_b = false;  // stride_b = 0
  GemmActivation activation = GemmActivation::None;
  bool bias = false, save_pre = false;
};

void check_gemm(DType dtype, const GemmCase& g) {
  const std::string what = std::string(dtype_name(dtype)) + (g.trans_a ? " A^T" : " A") +
                           (g.trans_b ? " B^T" : " B") + " batch " + std::to_string(g.batch) +
                           " M " + std::to_string(g.M) + " N " + std::to_string(g.N) + " K " +
                           std::to_string(g.K) + " beta " + std::to_string(g.beta) +
                           (g.shared_b ? " shared B" : "") + (g.bias ? " bias" : "") +
                           " activation " + std::to_string(static_cast<int>(g.activation));
  // Stored row-major with padded leading dims: A [M, K] (or [K, M]), B [K,
  // N] (or [N, K]), C [M, N].
  const int64_t a_rows = g.trans_a ? g.K : g.M, a_cols = g.trans_a ? g.M : g.K;
  const int64_t b_rows = g.trans_b ? g.N : g.K, b_cols = g.trans_b ? g.K : g.N;
  const int64_t lda = a_cols + 2, ldb = b_cols + 1, ldc = g.N + 3;
  const int64_t stride_a = a_rows * lda + 5, stride_b = g.shared_b ? 0 : b_rows * ldb + 1;
  const int64_t stride_c = g.M * ldc + 2;
  const Bytes A = elements(dtype, g.batch * stride_a, 1);
  const Bytes B = elements(dtype, g.shared_b ? b_rows * ldb : g.batch * stride_b, 2);
  const Bytes bias = elements(dtype, g.N, 3);
  // beta = 0: C holds NaN, which must not be read.
  const Bytes C = elements(dtype, g.batch * stride_c, 4, g.beta == 0);
  Bytes c_cpu = C, c_gpu = C;
  Bytes pre_cpu = elements(dtype, g.batch * stride_c, 5), pre_gpu = pre_cpu;
  for (auto [backend, c, pre] :
       {std::tuple{&cpu_backend(), &c_cpu, &pre_cpu}, {&emulated_backend(), &c_gpu, &pre_gpu}}) {
    GemmCall call{.trans_a = g.trans_a,
                  .trans_b = g.trans_b,
                  .batch = g.batch,
                  .M = g.M,
                  .N = g.N,
                  .K = g.K,
                  .alpha = g.alpha,
                  .beta = g.beta,
                  .A = A.data(),
                  .lda = lda,
                  .stride_a = stride_a,
                  .B = B.data(),
                  .ldb = ldb,
                  .stride_b = stride_b,
                  .C = c->data(),
                  .ldc = ldc,
                  .stride_c = stride_c,
                  .epilogue = {}};
    call.epilogue.activation = g.activation;
    call.epilogue.bias = g.bias ? bias.data() : nullptr;
    call.epilogue.pre_activation = g.save_pre ? pre->data() : nullptr;
    backend->gemm(dtype, call);
  }
  // The padding between rows and matrices of C was NaN or random: compare
  // only the [M, N] elements.
  const auto rows_of = [&](const Bytes& c) {
    Bytes kept;
    const size_t size = element_size(dtype);
    for (int64_t b = 0; b < g.batch; ++b) {
      for (int64_t i = 0; i < g.M; ++i) {
        const auto* row = c.data() + (b * stride_c + i * ldc) * size;
        kept.insert(kept.end(), row, row + g.N * size);
      }
    }
    return kept;
  };
  expect_close(dtype, rows_of(c_gpu), rows_of(c_cpu), what + ": C");
  if (g.save_pre) expect_close(dtype, rows_of(pre_gpu), rows_of(pre_cpu), what + ": pre");
}

TEST(GemmEmulated, EveryLayoutAndEpilogueMatchesTheCpu) {
  for (const DType dtype : {DType::Float32, DType::Float64, DType::BFloat16}) {
    for (const bool ta : {false, true}) {
      for (const bool tb : {false, true}) {
        check_gemm(dtype, {ta, tb, 3, 5, 7, 9, 0.5, 0.0});
        check_gemm(dtype, {ta, tb, 2, 6, 4, 3, 1.0, 2.0});
      }
    }
    check_gemm(dtype, {false, true, 3, 5, 7, 9, 1.0, 0.0, true});  // a shared B
    check_gemm(dtype, {false, false, 2, 5, 7, 0, 1.0, 0.0});       // K = 0
    check_gemm(dtype, {false, false, 2, 5, 7, 0, 1.0, 0.5});       // K = 0, beta
    check_gemm(dtype, {false, true, 1, 8, 6, 5, 1.0, 0.0, false, GemmActivation::Relu, true});
    check_gemm(dtype,
               {false, true, 2, 4, 6, 5, 1.0, 0.0, false, GemmActivation::GeluErf, true, true});
    check_gemm(dtype,
               {true, false, 1, 4, 6, 5, 1.0, 0.0, false, GemmActivation::GeluTanh, false, true});
  }
}

// A grouped, padded, strided, dilated convolution with bias, forward and
// backward, in chunks of 2 and 1 images (kernels/conv.cpp sets the column
// budget: 2 x 2 groups x 12 kernel taps x 42 positions = 2016 <= 2100).
void check_conv(DType dtype) {
  ConvArgs a;
  a.windows.batch = 3;
  a.windows.channels = 4;
  a.windows.in = {6, 7};
  a.windows.kernel = {3, 2};
  a.windows.stride = {1, 1};
  a.windows.pad_begin = {1, 1};
  a.windows.dilation = {1, 2};
  a.windows.out = {6, 7};  // (6 + 2 - 2 - 1) + 1, (7 + 2 - 2 - 1) + 1
  a.out_channels = 6;
  a.groups = 2;
  const ConvWindows& w = a.windows;
  const int64_t input_n = w.batch * w.channels * w.in[0] * w.in[1];
  const int64_t weight_n = a.out_channels * (w.channels / a.groups) * w.kernel[0] * w.kernel[1];
  const int64_t out_n = w.batch * a.out_channels * w.out[0] * w.out[1];
  const Bytes input = elements(dtype, input_n, 6), weight = elements(dtype, weight_n, 7);
  const Bytes bias = elements(dtype, a.out_channels, 8), grad_out = elements(dtype, out_n, 9);
  struct Results {
    Bytes out, grad_input, grad_weight, grad_bias;
  };
  Results cpu, gpu;
  for (auto [backend, r] : {std::pair{&cpu_backend(), &cpu}, {&emulated_backend(), &gpu}}) {
    r->out = elements(dtype, out_n, 0, true);
    r->grad_input = elements(dtype, input_n, 0, true);
    r->grad_weight = elements(dtype, weight_n, 0, true);
    r->grad_bias = elements(dtype, a.out_channels, 0, true);
    backend->conv_forward(dtype, a, input.data(), weight.data(), bias.data(), r->out.data());
    backend->conv_backward(dtype, a, grad_out.data(), input.data(), weight.data(),
                           r->grad_input.data(), r->grad_weight.data(), r->grad_bias.data());
  }
  const std::string what = std::string("conv ") + dtype_name(dtype);
  expect_close(dtype, gpu.out, cpu.out, what + " out");
  expect_close(dtype, gpu.grad_input, cpu.grad_input, what + " grad_input");
  expect_close(dtype, gpu.grad_weight, cpu.grad_weight, what + " grad_weight");
  expect_close(dtype, gpu.grad_bias, cpu.grad_bias, what + " grad_bias");
}

TEST(GemmEmulated, ConvolutionMatchesTheCpu) {
  check_conv(DType::Float32);
  check_conv(DType::Float64);
}

}  // namespace
}  // namespace toadstool::kernels::cuda
