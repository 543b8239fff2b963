// The CUDA random fills and dropout (kernels/cuda/random.cu, the whole
// file) run on the CPU by the warp emulator (emulated_backend.h), against
// the CPU backend's entries with the same seed and offset: bit for bit,
// every fill, since here both use the host's libm (on a GPU the normals
// may differ in the last bit, tests/cuda/test_cuda_random.cpp), and dropout
// (with a residual: to an ulp, expect_same_to_an_ulp says why). Sizes
// around the 2, 4 and 8 values of a counter block, and one of several
// blocks a thread.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "element_bytes.h"
#include "emulated_backend.h"
#include "toadstool/kernels/dtype.h"
#include "toadstool/kernels/kernel_args.h"

namespace toadstool::kernels::cuda {
namespace {

constexpr int64_t kFillSizes[] = {1, 3, 5, 9, 1001, 70001};
constexpr uint64_t kSeed = 1234, kOffset = 3;

// n elements of dtype, poisoned (0xff bytes), so an element never written shows.
Bytes buffer(DType dtype, int64_t n) {
  return Bytes(static_cast<size_t>(n) * element_size(dtype), 0xff);
}

// n probabilities in [0, 1) of dtype.
Bytes probabilities(DType dtype, int64_t n) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  return make_elements(dtype, n, [&](int64_t) { return uniform(rng); });
}

// fill(backend, out) on both backends into poisoned buffers; the same bytes.
template <class Fill>
void expect_same_bits(DType dtype, int64_t n, const std::string& what, const Fill& fill) {
  Bytes cpu = buffer(dtype, n), gpu = buffer(dtype, n);
  fill(cpu_backend(), cpu.data());
  fill(emulated_backend(), gpu.data());
  EXPECT_EQ(gpu, cpu) << what << ", " << n << " " << dtype_name(dtype);
}

TEST(RandomEmulated, FillsAreBitIdenticalToTheCpu) {
  for (const int64_t n : kFillSizes) {
    for (const DType dtype : {DType::Float32, DType::Float64}) {
      expect_same_bits(dtype, n, "uniform", [&](const Backend& b, void* out) {
        b.fill_uniform(dtype, out, n, kSeed, kOffset, -2.0, 3.0);
      });
      expect_same_bits(dtype, n, "normal", [&](const Backend& b, void* out) {
        b.fill_normal(dtype, out, n, kSeed, kOffset, 1.0, 2.0);
      });
    }
    expect_same_bits(DType::Int64, n, "randint", [&](const Backend& b, void* out) {
      b.fill_randint(static_cast<int64_t*>(out), n, kSeed, kOffset, -5, 1000);
    });
    expect_same_bits(DType::Int64, n, "randperm", [&](const Backend& b, void* out) {
      b.fill_randperm(static_cast<int64_t*>(out), n, kSeed, kOffset);
    });
    for (const DType dtype : {DType::Bool, DType::Int64, DType::BFloat16, DType::Float32}) {
      expect_same_bits(dtype, n, "bernoulli", [&](const Backend& b, void* out) {
        b.fill_bernoulli(dtype, out, n, kSeed, kOffset, 0.3);
      });
    }
    for (const DType dtype : {DType::Float16, DType::Float32, DType::Float64}) {
      const Bytes probs = probabilities(dtype, n);
      expect_same_bits(dtype, n, "bernoulli of a tensor", [&](const Backend& b, void* out) {
        b.fill_bernoulli_tensor(dtype, out, probs.data(), n, kSeed, kOffset);
      });
    }
  }
}

// dropout with a residual: residual + x * scale, which the CPU's vectorized
// loop computes with one FMA where the FMA unit exists (as nvcc does by
// default on a GPU) and the emulator, built for plain x86-64, with a
// multiply and an add: the same to one unit in the last place of the dtype.
void expect_same_to_an_ulp(DType dtype, int64_t n, const Bytes& gpu, const Bytes& cpu) {
  const double ulp = dtype == DType::Float64 ? 0x1p-52 : dtype == DType::Float32 ? 0x1p-23 : 0x1p-7;
  for (int64_t i = 0; i < n; ++i) {
    const double g = element_at(dtype, gpu, i), c = element_at(dtype, cpu, i);
    ASSERT_LE(std::abs(g - c), ulp * std::abs(c))
        << "dropout with a residual, element " << i << " of " << n << " " << dtype_name(dtype);
  }
}

TEST(RandomEmulated, DropoutMatchesTheCpu) {
  const DropoutMask mask{.p = 0.3, .seed = kSeed, .offset = kOffset};
  for (const int64_t n : kFillSizes) {
    for (const DType dtype : {DType::BFloat16, DType::Float32, DType::Float64}) {
      // Values in [0, 1): any float data will do for the mask and the scale.
      const Bytes in = probabilities(dtype, n);
      const Bytes residual = probabilities(dtype, n);
      expect_same_bits(dtype, n, "dropout", [&](const Backend& b, void* out) {
        b.dropout(dtype, out, in.data(), nullptr, n, mask);
      });
      Bytes cpu = buffer(dtype, n), gpu = buffer(dtype, n);
      cpu_backend().dropout(dtype, cpu.data(), in.data(), residual.data(), n, mask);
      emulated_backend().dropout(dtype, gpu.data(), in.data(), residual.data(), n, mask);
      expect_same_to_an_ulp(dtype, n, gpu, cpu);
    }
  }
}

}  // namespace
}  // namespace toadstool::kernels::cuda
