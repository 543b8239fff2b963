// CUDA GEMM (cuBLAS, kernels/cuda/gemm.cu) against the CPU's: matmul of
// plain, transposed and sliced operands (trans flags and leading dims),
// batched with broadcast batch dims (batch stride 0), 1-D operands, K = 0,
// linear with its gradients through autograd, and float16 / bfloat16
// operands with float32 accumulation.
#include <functional>
#include <string>

#include "cuda_test_util.h"

namespace toadstool {
namespace {

using testing::kCuda;

Generator& gemm_gen() {
  static Generator g(12);
  return g;
}

// float32 GEMMs run in full float32 (TF32 is off unless allowed), so the
// results differ from the CPU's by summation order only.
double rtol_of(DType dtype) { return dtype == kFloat32 ? 1e-5 : 1e-12; }

using View = std::function<Tensor(const Tensor&)>;
Tensor viewed(const View& view, const Tensor& t) { return view ? view(t) : t; }
const View kT = [](const Tensor& t) { return t.t(); };
const View kTransposeLastTwo = [](const Tensor& t) { return t.transpose(-2, -1); };

// matmul(view_a(a), view_b(b)) on both devices; the views are made after
// the copy to the GPU (which is contiguous), so the GPU sees them strided.
void expect_matmul_parity(const Tensor& a, const Tensor& b, const std::string& what,
                          const View& view_a = {}, const View& view_b = {}) {
  SCOPED_TRACE(what + " on " + dtype_name(a.dtype()));
  const Tensor expected = matmul(viewed(view_a, a), viewed(view_b, b));
  const Tensor actual = matmul(viewed(view_a, a.to(kCuda)), viewed(view_b, b.to(kCuda)));
  ASSERT_EQ(actual.device(), kCuda);
  const double rtol = rtol_of(a.dtype());
  testing::expect_close(actual.to(kCPU), expected, rtol, rtol);
}

TEST(CudaGemm, MatmulMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : {kFloat32, kFloat64}) {
    auto r = [&](const Shape& s) { return randn(s, dtype, &gemm_gen()); };
    expect_matmul_parity(r({37, 53}), r({53, 29}), "2-D");
    expect_matmul_parity(r({53, 37}), r({53, 29}), "A transposed", kT);
    expect_matmul_parity(r({37, 53}), r({29, 53}), "B transposed", {}, kT);
    expect_matmul_parity(r({53, 37}), r({29, 53}), "both transposed", kT, kT);
    // Sliced columns: leading dims larger than the matrices' widths.
    expect_matmul_parity(
        r({37, 80}), r({53, 64}), "sliced", [](const Tensor& t) { return t.slice(1, 5, 58); },
        [](const Tensor& t) { return t.slice(1, 0, 29); });
    expect_matmul_parity(r({1, 53}), r({53, 1}), "1 x 1 result");
    expect_matmul_parity(r({53}), r({53, 29}), "vector @ matrix");
    expect_matmul_parity(r({37, 53}), r({53}), "matrix @ vector");
    expect_matmul_parity(r({4, 37, 53}), r({4, 53, 29}), "batched");
    expect_matmul_parity(r({4, 53, 37}), r({4, 29, 53}), "batched, transposed", kTransposeLastTwo,
                         kTransposeLastTwo);
    // Broadcast batch dims: one operand's matrices reused (batch stride 0).
    expect_matmul_parity(r({3, 1, 6, 5}), r({2, 5, 7}), "broadcast batch");
    expect_matmul_parity(r({6, 5}), r({3, 5, 7}), "expanded A", [](const Tensor& t) {
      return t.expand({3, 6, 5});
    });
    expect_matmul_parity(r({4, 6, 5}), r({5, 7}), "batch folded into M");
  }
}

TEST(CudaGemm, AnEmptyInnerDimGivesZeros) {
  SKIP_WITHOUT_GPU();
  const Tensor a = zeros({3, 0}).to(kCuda), b = zeros({0, 4}).to(kCuda);
  testing::expect_close(matmul(a, b).to(kCPU), zeros({3, 4}));
  testing::expect_close(matmul(zeros({2, 3, 0}).to(kCuda), zeros({2, 0, 4}).to(kCuda)).to(kCPU),
                        zeros({2, 3, 4}));
}

TEST(CudaGemm, LinearAndItsGradientsMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : {kFloat32, kFloat64}) {
    SCOPED_TRACE(dtype_name(dtype));
    const Tensor x = randn({2, 9, 24}, dtype, &gemm_gen()), w = randn({17, 24}, dtype, &gemm_gen());
    const Tensor bias = randn({17}, dtype, &gemm_gen()),
                 seed = randn({2, 9, 17}, dtype, &gemm_gen());
    auto run = [&](const Device& device) {
      // Fresh leaves on each device (detach: x itself never requires grad).
      Tensor xd = x.detach().to(device).requires_grad_();
      Tensor wd = w.detach().to(device).requires_grad_();
      Tensor bd = bias.detach().to(device).requires_grad_();
      const Tensor y = linear(xd, wd, bd);
      (y * seed.to(device)).sum().backward();
      return std::vector<Tensor>{y.detach().to(kCPU), xd.grad().to(kCPU), wd.grad().to(kCPU),
                                 bd.grad().to(kCPU)};
    };
    const auto expected = run(kCPU), actual = run(kCuda);
    for (size_t i = 0; i < expected.size(); ++i) {
      SCOPED_TRACE("output " + std::to_string(i));
      testing::expect_close(actual[i], expected[i], rtol_of(dtype), rtol_of(dtype));
    }
  }
}

// 16-bit operands and result, float32 accumulation: the exact product of
// the rounded operands (a float64 matmul of them) rounded once to the
// 16-bit type, within an ulp of that type.
TEST(CudaGemm, HalfAndBFloat16AccumulateInFloat32) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : {kFloat16, kBFloat16}) {
    SCOPED_TRACE(dtype_name(dtype));
    const double ulp = dtype == kFloat16 ? 1.0 / 1024 : 1.0 / 128;
    const Tensor a = randn({4, 33, 70}, kFloat32, &gemm_gen()).to(dtype);
    const Tensor b = randn({70, 21}, kFloat32, &gemm_gen()).to(dtype);
    const Tensor exact = matmul(a.to(kFloat64), b.to(kFloat64));
    const Tensor actual = matmul(a.to(kCuda), b.to(kCuda));
    EXPECT_EQ(actual.dtype(), dtype);
    testing::expect_close(actual.to(kCPU), exact, ulp, 1e-3);
    // A transposed 16-bit operand.
    const Tensor bt = randn({21, 70}, kFloat32, &gemm_gen()).to(dtype);
    testing::expect_close(matmul(a.to(kCuda), bt.to(kCuda).t()).to(kCPU),
                          matmul(a.to(kFloat64), bt.to(kFloat64).t()), ulp, 1e-3);
  }
}

}  // namespace
}  // namespace toadstool
