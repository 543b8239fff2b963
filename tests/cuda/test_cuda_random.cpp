// CUDA random fills against the CPU's: the same generator seed gives the
// same numbers on both backends (kernels/philox.h's block map), bit for bit
// for uniform, randint, Bernoulli and randperm. The normals go through
// log, sin and cos, whose last bit may differ between libm and the CUDA
// math library, so they match to an ulp or two.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "cuda_test_util.h"
#include "toadstool/kernels/backend.h"

namespace toadstool {
namespace {

using testing::expect_identical;
using testing::expect_matches_cpu;
using testing::kCuda;
using testing::Tolerance;

// Sizes around the 2 and 4 values a counter block gives, and several grids.
const std::vector<Shape> kShapes = {{1}, {3}, {5}, {7, 9}, {1001}, {2, 3, 333}, {0}};

TEST(CudaRandom, UniformIsBitIdenticalToTheCpu) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    Generator cpu_gen(123), cuda_gen(123);
    for (const Shape& shape : kShapes) {
      // Consecutive draws: each one starts at the offset the last left.
      const Tensor expected = rand(shape, dtype, &cpu_gen);
      const Tensor actual = rand(shape, TensorOptions(dtype).device(kCuda), &cuda_gen);
      expect_identical(actual, expected, std::string("rand ") + dtype_name(dtype));
    }
  }
}

TEST(CudaRandom, NormalMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : {kFloat32, kFloat64}) {
    Generator cpu_gen(7), cuda_gen(7);
    const Tolerance tol = dtype == kFloat32 ? Tolerance{1e-6, 1e-6} : Tolerance{1e-14, 1e-14};
    for (const Shape& shape : kShapes) {
      const Tensor expected = randn(shape, dtype, &cpu_gen);
      const Tensor actual = randn(shape, TensorOptions(dtype).device(kCuda), &cuda_gen);
      expect_matches_cpu(actual, expected, std::string("randn ") + dtype_name(dtype), tol);
    }
  }
}

TEST(CudaRandom, RandintIsBitIdenticalToTheCpu) {
  SKIP_WITHOUT_GPU();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  // A span past INT64_MAX wraps through unsigned arithmetic.
  const std::vector<std::pair<int64_t, int64_t>> ranges = {
      {0, 2}, {-5, 6}, {0, 1000003}, {kMin / 2, kMax / 2}, {kMin, kMax}};
  for (const auto& [low, high] : ranges) {
    Generator cpu_gen(99), cuda_gen(99);
    for (const Shape& shape : kShapes) {
      const Tensor expected = randint(low, high, shape, kInt64, &cpu_gen);
      const Tensor actual =
          randint(low, high, shape, TensorOptions(kInt64).device(kCuda), &cuda_gen);
      ASSERT_EQ(actual.device(), kCuda);
      // Compared as int64: doubles would round the large values.
      const Tensor back = actual.to(kCPU);
      ASSERT_EQ(back.shape(), expected.shape());
      const int64_t* a = back.data_ptr<int64_t>();
      const int64_t* e = expected.data_ptr<int64_t>();
      for (int64_t i = 0; i < expected.numel(); ++i) {
        ASSERT_EQ(a[i], e[i]) << "randint [" << low << ", " << high << ") element " << i;
      }
    }
  }
}

TEST(CudaRandom, BernoulliIsBitIdenticalToTheCpuForEveryDtype) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : {kBool, kInt64, kFloat16, kBFloat16, kFloat32, kFloat64}) {
    for (double p : {0.0, 0.1, 0.5, 0.97, 1.0}) {
      Generator cpu_gen(5), cuda_gen(5);
      for (const Shape& shape : kShapes) {
        const Tensor expected = bernoulli(shape, p, dtype, &cpu_gen);
        const Tensor actual = bernoulli(shape, p, TensorOptions(dtype).device(kCuda), &cuda_gen);
        expect_identical(actual, expected,
                         std::string("bernoulli ") + dtype_name(dtype) + " p " + std::to_string(p));
      }
    }
  }
}

TEST(CudaRandom, BernoulliOfATensorIsBitIdenticalToTheCpu) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    Generator probs_gen(8);
    Generator cpu_gen(9), cuda_gen(9);
    for (const Shape& shape : kShapes) {
      const Tensor probs = rand(shape, dtype, &probs_gen);
      const Tensor expected = bernoulli(probs, &cpu_gen);
      const Tensor actual = bernoulli(probs.to(kCuda), &cuda_gen);
      expect_identical(actual, expected, std::string("bernoulli(probs) ") + dtype_name(dtype));
    }
  }
}

// The dropout entry regenerates the Bernoulli mask from the generator state
// in the forward and the backward: the same kept elements as the CPU, with
// and without the fused residual, in every floating dtype.
TEST(CudaRandom, DropoutMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    Generator data(11);
    const Tensor x = rand({37, 29}, dtype, &data), r = rand({37, 29}, dtype, &data);
    const Tensor xc = x.to(kCuda).requires_grad_(), rc = r.to(kCuda).requires_grad_();
    const Tensor xh = x.clone().requires_grad_(), rh = r.clone().requires_grad_();
    Generator cpu_gen(12), cuda_gen(12);
    const std::string what = std::string("dropout ") + dtype_name(dtype);
    const Tensor expected = dropout(xh, 0.3, true, &cpu_gen);
    const Tensor actual = dropout(xc, 0.3, true, &cuda_gen);
    expect_matches_cpu(actual, expected, what);
    const Tensor expected_sum = dropout_add(xh, rh, 0.3, true, &cpu_gen);
    const Tensor actual_sum = dropout_add(xc, rc, 0.3, true, &cuda_gen);
    expect_matches_cpu(actual_sum, expected_sum, what + " + residual");
    (expected.sum() + expected_sum.sum()).backward();
    (actual.sum() + actual_sum.sum()).backward();
    expect_matches_cpu(xc.grad(), xh.grad(), what + " backward");
    expect_matches_cpu(rc.grad(), rh.grad(), what + " residual backward");
  }
}

// dropout_add_layer_norm's CUDA kernels (each element makes its own Philox
// block) drop the elements the CPU's do, forward and backward.
TEST(CudaRandom, DropoutAddLayerNormMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : {kFloat32, kFloat64}) {
    Generator data(13);
    const Tensor x = rand({37, 29}, dtype, &data), r = rand({37, 29}, dtype, &data);
    const Tensor w = rand({29}, dtype, &data), b = rand({29}, dtype, &data);
    std::vector<Tensor> host, device;
    for (const Tensor& t : {x, r, w, b}) {
      host.push_back(t.clone().requires_grad_());
      device.push_back(t.to(kCuda).requires_grad_());
    }
    Generator cpu_gen(14), cuda_gen(14);
    const std::string what = std::string("dropout_add_layer_norm ") + dtype_name(dtype);
    const Tensor expected =
        dropout_add_layer_norm(host[0], host[1], 0.3, true, &cpu_gen, {29}, host[2], host[3]);
    const Tensor actual = dropout_add_layer_norm(device[0], device[1], 0.3, true, &cuda_gen, {29},
                                                 device[2], device[3]);
    expect_matches_cpu(actual, expected, what);
    const Tensor weights = rand({37, 29}, dtype, &data);
    (expected * weights).sum().backward();
    (actual * weights.to(kCuda)).sum().backward();
    for (size_t i = 0; i < host.size(); ++i) {
      expect_matches_cpu(device[i].grad(), host[i].grad(), what + " grad " + std::to_string(i));
    }
  }
}

// randperm is drawn on the CPU by the front-end; the table's CUDA entry is
// checked directly against the CPU's entry for the same (seed, offset).
TEST(CudaRandom, RandpermEntryIsBitIdenticalToTheCpu) {
  SKIP_WITHOUT_GPU();
  const kernels::Backend& cuda = kernels::cuda_backend();
  ASSERT_NE(cuda.fill_randperm, nullptr);
  kernels::cuda_use_device(0);
  for (int64_t n : {0, 1, 2, 3, 10, 1000, 100001}) {
    const Tensor expected = empty({n}, kInt64);
    kernels::cpu_backend().fill_randperm(expected.data_ptr<int64_t>(), n, 77, 5);
    const Tensor actual = empty({n}, TensorOptions(kInt64).device(kCuda));
    cuda.fill_randperm(actual.data_ptr<int64_t>(), n, 77, 5);
    expect_identical(actual, expected, "randperm " + std::to_string(n));
  }
}

}  // namespace
}  // namespace toadstool
