#pragma once
// What the CUDA tests share: the skip without a GPU, the device, and the
// comparison of a CUDA result with the CPU's (tolerances by dtype).
#include <functional>
#include <string>
#include <vector>

#include "test_util.h"

// Every test that needs a GPU starts with this: it skips without one
// (cuda_is_available() is false without the backend, a driver or a device).
#define SKIP_WITHOUT_GPU() \
  if (!::toadstool::cuda_is_available()) GTEST_SKIP() << "no CUDA device available"

namespace toadstool::testing {

inline constexpr Device kCuda{DeviceType::CUDA, 0};

// Every dtype, and those the element-wise and index kernels compute in.
inline const std::vector<DType> kAllDtypes = {kBool,     kInt64,   kFloat16,
                                              kBFloat16, kFloat32, kFloat64};
inline const std::vector<DType> kCompute = {kBool, kInt64, kFloat32, kFloat64};

// The largest difference allowed between a CUDA result and the CPU's:
// atol + rtol * |cpu|. Integers and bools match exactly. Floats allow a few
// units in the last place: the CUDA math library's sin, log, pow... differ
// from libm's by an ulp or two, and nvcc contracts a * b + c into an fma
// where the portable CPU build rounds twice.
struct Tolerance {
  double rtol = 0, atol = 0;
};
inline Tolerance tolerance_for(DType dtype) {
  switch (dtype) {
    case DType::Float32: return {1e-5, 1e-6};
    case DType::Float64: return {1e-12, 1e-13};
    case DType::Float16: return {2e-3, 1e-4};
    case DType::BFloat16: return {1.6e-2, 1e-3};
    case DType::Int64:
    case DType::Bool: return {0, 0};
  }
  return {};
}

// cuda_result lives on the GPU and matches cpu_result: dtype, shape, and
// every element within tolerance_for(dtype) (or `tolerance`), NaN for NaN.
inline void expect_matches_cpu(const Tensor& cuda_result, const Tensor& cpu_result,
                               const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_EQ(cuda_result.device(), kCuda);
  ASSERT_EQ(cuda_result.dtype(), cpu_result.dtype());
  const Tolerance tol = tolerance_for(cpu_result.dtype());
  expect_close(cuda_result.to(kCPU), cpu_result, tol.rtol, tol.atol);
}
inline void expect_matches_cpu(const Tensor& cuda_result, const Tensor& cpu_result,
                               const std::string& what, Tolerance tol) {
  SCOPED_TRACE(what);
  ASSERT_EQ(cuda_result.device(), kCuda);
  ASSERT_EQ(cuda_result.dtype(), cpu_result.dtype());
  expect_close(cuda_result.to(kCPU), cpu_result, tol.rtol, tol.atol);
}

// Bit-for-bit equality (the same values, NaN for NaN), as doubles.
inline void expect_identical(const Tensor& cuda_result, const Tensor& cpu_result,
                             const std::string& what) {
  expect_matches_cpu(cuda_result, cpu_result, what, Tolerance{0, 0});
}

// Runs op on CPU tensors and on their copies on the GPU and compares. The
// inputs are moved contiguous: op makes any views (transposes, slices,
// expands) itself, on whichever device it is given, so that the GPU kernels
// see the same strides as the CPU's.
using TensorOp = std::function<Tensor(const std::vector<Tensor>&)>;
inline void expect_parity(const std::vector<Tensor>& inputs, const TensorOp& op,
                          const std::string& what) {
  std::vector<Tensor> on_gpu;
  for (const Tensor& t : inputs) on_gpu.push_back(t.to(kCuda));
  expect_matches_cpu(op(on_gpu), op(inputs), what);
}

}  // namespace toadstool::testing
