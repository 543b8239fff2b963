// The GPU benchmarks of issue 15 in one report, each rate beside a peak
// measured in the same process:
//   element-wise add / scale   GB/s   vs the device-to-device cudaMemcpy rate
//   matmul fp32 / bf16 4096^3  time   vs cuBLAS called directly, same shapes
//   attention fp32 / bf16      TFLOPs, fwd and fwd+bwd, vs a bf16 cuBLAS GEMM (the tensor-core
//   peak) IMDB training step         ms     fp32 and bf16-mixed (batch 32 x 256, d128, AdamW)
//
//   toadstool_cuda_bench [report.json]
//
// Each figure is the best of five timed repetitions after a warm-up, the
// device synchronised around each (cuda_synchronize).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "toadstool/toadstool.h"

namespace {

using namespace toadstool;

const Device kGpu("cuda:0");

// Best-of-five milliseconds per call of fn, `iterations` calls per repetition.
double time_ms(const std::function<void()>& fn, int iterations) {
  fn();
  cuda_synchronize();
  double best = 1e300;
  for (int rep = 0; rep < 5; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iterations; ++i) fn();
    cuda_synchronize();
    const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
    best = std::min(best, took.count() / iterations);
  }
  return best;
}

void check_cuda(cudaError_t status, const char* call) {
  if (status != cudaSuccess)
    throw std::runtime_error(std::string(call) + ": " + cudaGetErrorString(status));
}
void check_cublas(cublasStatus_t status, const char* call) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw std::runtime_error(std::string(call) + ": " + cublasGetStatusString(status));
  }
}

struct Row {
  std::string name, value, reference, ratio;
};
std::vector<Row> rows;

void add_row(const std::string& name, const std::string& value, const std::string& reference,
             double ratio) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", ratio);
  rows.push_back({name, value, reference, text});
  std::cout << name << ": " << value << " (" << reference << ", ratio " << text << ")\n";
}

std::string fixed(double v, const char* unit) {
  char text[64];
  std::snprintf(text, sizeof text, "%.3g %s", v, unit);
  return text;
}

// ---- bandwidth -------------------------------------------------------------------

double copy_peak_gbs(int64_t n) {
  void *a = nullptr, *b = nullptr;
  const size_t bytes = static_cast<size_t>(n) * 4;
  check_cuda(cudaMalloc(&a, bytes), "cudaMalloc");
  check_cuda(cudaMalloc(&b, bytes), "cudaMalloc");
  const double ms = time_ms(
      [&] { check_cuda(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, nullptr), "copy"); },
      20);
  check_cuda(cudaFree(a), "cudaFree");
  check_cuda(cudaFree(b), "cudaFree");
  return 2.0 * static_cast<double>(bytes) / ms * 1e-6;
}

void bench_elementwise() {
  const int64_t n = int64_t{1} << 26;  // 64 Mi floats, 256 MiB per tensor
  const double peak = copy_peak_gbs(n);
  const Tensor a = randn({n}, kGpu), b = randn({n}, kGpu);
  const double add_ms = time_ms([&] { (void)(a + b); }, 20);
  const double add_gbs = 3.0 * 4 * static_cast<double>(n) / add_ms * 1e-6;
  add_row("elementwise add fp32 64Mi", fixed(add_gbs, "GB/s"), fixed(peak, "GB/s D2D copy"),
          add_gbs / peak);
  const double scale_ms = time_ms([&] { (void)(a * 2.0); }, 20);
  const double scale_gbs = 2.0 * 4 * static_cast<double>(n) / scale_ms * 1e-6;
  add_row("elementwise scale fp32 64Mi", fixed(scale_gbs, "GB/s"), fixed(peak, "GB/s D2D copy"),
          scale_gbs / peak);
}

// ---- GEMM -----------------------------------------------------------------------

// Row-major C[M, N] = A[M, K] B[K, N] through cublasGemmEx (C^T = B^T A^T).
double cublas_gemm_ms(cublasHandle_t handle, const Tensor& a, const Tensor& b, Tensor& c,
                      cudaDataType type, cublasComputeType_t compute) {
  const int m = static_cast<int>(a.size(0)), k = static_cast<int>(a.size(1));
  const int n = static_cast<int>(b.size(1));
  const float one = 1, zero = 0;
  return time_ms(
      [&] {
        check_cublas(cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, &one, b.data_ptr(),
                                  type, n, a.data_ptr(), type, k, &zero, c.data_ptr(), type, n,
                                  compute, CUBLAS_GEMM_DEFAULT),
                     "cublasGemmEx");
      },
      10);
}

double bf16_peak_tflops(cublasHandle_t handle) {
  const int64_t s = 8192;
  const Tensor a = randn({s, s}, kGpu).to(kBFloat16), b = randn({s, s}, kGpu).to(kBFloat16);
  Tensor c = empty({s, s}, TensorOptions(kBFloat16).device(kGpu));
  const double ms = cublas_gemm_ms(handle, a, b, c, CUDA_R_16BF, CUBLAS_COMPUTE_32F);
  return 2.0 * s * s * s / ms * 1e-9;
}

void bench_gemm(cublasHandle_t handle) {
  const int64_t s = 4096;
  const double flops = 2.0 * s * s * s;
  for (DType dtype : {kFloat32, kBFloat16}) {
    const Tensor a = randn({s, s}, kGpu).to(dtype), b = randn({s, s}, kGpu).to(dtype);
    Tensor c = empty({s, s}, TensorOptions(dtype).device(kGpu));
    const double ours = time_ms([&] { (void)matmul(a, b); }, 10);
    const double theirs = cublas_gemm_ms(
        handle, a, b, c, dtype == kFloat32 ? CUDA_R_32F : CUDA_R_16BF, CUBLAS_COMPUTE_32F);
    add_row(std::string("matmul 4096^3 ") + dtype_name(dtype), fixed(flops / ours * 1e-9, "TFLOPs"),
            fixed(flops / theirs * 1e-9, "TFLOPs cuBLAS"), theirs / ours);
  }
}

// ---- attention --------------------------------------------------------------------

void bench_attention(double peak_tflops) {
  // [batch 4, heads 8, L = S = 1024, E = 64]. FLOPs as FlashAttention
  // counts them: forward 4 B H L S E (two products), backward 2.5 times
  // that (five; ours computes S and dP twice, so it does seven).
  const Shape shape = {4, 8, 1024, 64};
  const double forward_flops = 4.0 * 4 * 8 * 1024 * 1024 * 64;
  for (DType dtype : {kFloat32, kBFloat16}) {
    // float32 runs the fixed-order kernel (not built for speed), bfloat16
    // the tensor-core one (docs/cuda.md).
    const std::string kernel = dtype == kFloat32 ? " (fixed-order kernel)" : " (tensor cores)";
    Tensor q = randn(shape, kGpu).to(dtype).requires_grad_(),
           k = randn(shape, kGpu).to(dtype).requires_grad_(),
           v = randn(shape, kGpu).to(dtype).requires_grad_();
    const Tensor grad_out = randn(shape, kGpu).to(dtype);
    const double forward_ms = time_ms(
        [&] {
          NoGradGuard no_grad;
          (void)scaled_dot_product_attention(q, k, v);
        },
        5);
    const double both_ms = time_ms(
        [&] {
          const Tensor out = scaled_dot_product_attention(q, k, v);
          out.backward(grad_out);
          q.zero_grad();
          k.zero_grad();
          v.zero_grad();
        },
        3);
    const double forward_tflops = forward_flops / forward_ms * 1e-9;
    const double both_tflops = 3.5 * forward_flops / both_ms * 1e-9;
    const std::string peak = fixed(peak_tflops, "TFLOPs bf16 cuBLAS peak");
    add_row("attention fwd seq 1024 " + std::string(dtype_name(dtype)) + kernel,
            fixed(forward_tflops, "TFLOPs"), peak, forward_tflops / peak_tflops);
    add_row("attention fwd+bwd seq 1024 " + std::string(dtype_name(dtype)) + kernel,
            fixed(both_tflops, "TFLOPs"), peak, both_tflops / peak_tflops);
  }
}

// ---- the IMDB step ------------------------------------------------------------------

void bench_imdb_step() {
  nn::TransformerClassifierOptions o;  // the example's defaults
  o.vocab_size = 20000;
  o.max_len = 256;
  o.bigram_buckets = 1 << 20;
  o.bigram_dim = 16;
  o.dropout = 0.1;
  Generator gen(1);
  const Tensor ids = randint(2, o.vocab_size, {32, 256}, kInt64, &gen).to(kGpu);
  const Tensor labels = randint(0, 2, {32}, kInt64, &gen).to(kGpu);
  for (const char* precision : {"32", "bf16-mixed"}) {
    manual_seed(0);
    nn::TransformerClassifier model(o);
    model.to(kGpu);
    optim::AdamW optimizer(model.parameters(), optim::AdamWOptions{});
    const bool mixed = std::string(precision) != "32";
    const double ms = time_ms(
        [&] {
          optimizer.zero_grad();
          Tensor loss;
          {
            const Autocast autocast(DeviceType::CUDA, kBFloat16, mixed);
            loss = cross_entropy(model(ids), labels);
          }
          loss.backward();
          optimizer.step();
        },
        10);
    add_row(std::string("IMDB step 32x256 d128 ") + precision, fixed(ms, "ms"),
            mixed ? "target <= 2 ms" : "target <= 3 ms", (mixed ? 2.0 : 3.0) / ms);
  }
}

// s with JSON's special characters escaped (an error's message may hold them).
std::string json_escaped(const std::string& s) {
  std::string out;
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += (c == '\n' || c == '\t') ? ' ' : c;
  }
  return out;
}

void write_json(const std::string& path) {
  std::ofstream out(path);
  out << "[\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    out << "  {\"name\": \"" << json_escaped(rows[i].name) << "\", \"value\": \""
        << json_escaped(rows[i].value) << "\", \"reference\": \"" << json_escaped(rows[i].reference)
        << "\", \"ratio\": " << rows[i].ratio << "}" << (i + 1 < rows.size() ? "," : "") << "\n";
  }
  out << "]\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (!cuda_is_available()) {
    std::cerr << "toadstool_cuda_bench: no CUDA device available\n";
    return 77;
  }
  // Each benchmark on its own: one that fails is a row saying why, and the
  // others' figures are still measured and written (device time is scarce).
  int status = 0;
  const auto guarded = [&](const char* name, const std::function<void()>& run) {
    try {
      run();
    } catch (const std::exception& e) {
      std::cerr << "toadstool_cuda_bench: " << name << ": " << e.what() << "\n";
      rows.push_back({name, "error", e.what(), "null"});
      status = 1;
    }
  };
  cublasHandle_t handle = nullptr;
  guarded("set-up", [&] {
    cudaDeviceProp prop{};
    check_cuda(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
    std::cout << "device: " << prop.name << "\n";
    check_cublas(cublasCreate(&handle), "cublasCreate");
    // The math mode our GEMMs use (kernels/cuda/gemm.cu), for a like-for-like ratio.
    check_cublas(cublasSetMathMode(handle, static_cast<cublasMath_t>(
                                               CUBLAS_DEFAULT_MATH |
                                               CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)),
                 "cublasSetMathMode");
  });
  if (handle != nullptr) {
    guarded("element-wise", bench_elementwise);
    guarded("GEMM", [&] { bench_gemm(handle); });
    guarded("attention", [&] { bench_attention(bf16_peak_tflops(handle)); });
    guarded("IMDB step", bench_imdb_step);
    cublasDestroy(handle);
  }
  if (argc > 1) write_json(argv[1]);
  return status;
}
