// The fused Linear (linear with a LinearActivation): one GEMM whose epilogue
// adds the bias and applies the activation, against the composition it
// replaces, on every GEMM path of the CPU (the packed kernel's tiles, its
// split-K and column-split schedules, Eigen for thin products, the 16-bit
// GEMMs) and dtype. Its gradients are gradchecked in test_gradcheck_ops.cpp.
#include <cmath>
#include <string>
#include <vector>

#include "test_util.h"
#include "toadstool/kernels/backend.h"

namespace toadstool::testing {
namespace {

Tensor activated(const Tensor& t, LinearActivation activation) {
  switch (activation) {
    case LinearActivation::ReLU: return relu(t);
    case LinearActivation::GELU: return gelu(t);
    case LinearActivation::GELUTanh: return gelu(t, "tanh");
    case LinearActivation::None: break;
  }
  return t;
}

// The separate ops the fused Linear replaces, in the operands' dtype.
Tensor composition(const Tensor& x, const Tensor& w, const Tensor& b, LinearActivation activation) {
  Tensor out = matmul(x, w.t());
  if (b.defined()) out = out + b;
  return activated(out, activation);
}

struct Case {
  std::string name;
  int64_t rows, in, out;
};

// Rows x in -> out, chosen for the schedule each takes at 2 threads.
const std::vector<Case> kCases = {
    {"packed_rows_split", 300, 96, 80},  // tiles of 14 rows, a partial tile, a partial panel
    {"split_k", 40, 1024, 64},           // K >= 4 M: partial products added, then the epilogue
    {"column_split", 50, 64, 300},       // too few rows per thread: columns shared out
    {"thin_eigen", 7, 33, 5},            // below the packed kernel's minimum size
    {"long_k_blocks", 64, 600, 48},      // three k blocks: only the last applies it
};

const std::vector<LinearActivation> kActivations = {LinearActivation::None, LinearActivation::ReLU,
                                                    LinearActivation::GELU,
                                                    LinearActivation::GELUTanh};

TEST(FusedLinear, MatchesTheCompositionOnEveryCpuPath) {
  const int saved = get_num_threads();
  Generator gen(3);
  for (const Case& c : kCases) {
    const Tensor x = randn({c.rows, c.in}, kFloat32, &gen);
    const Tensor w = randn({c.out, c.in}, kFloat32, &gen) * 0.1;
    const Tensor b = randn({c.out}, kFloat32, &gen);
    for (LinearActivation activation : kActivations) {
      const Tensor want = composition(x, w, b, activation);
      for (int threads : {1, 2}) {
        SCOPED_TRACE(c.name + " threads " + std::to_string(threads) + " activation " +
                     std::to_string(static_cast<int>(activation)));
        set_num_threads(threads);
        expect_close(linear(x, w, b, activation), want, 1e-5, 1e-5);
        expect_close(linear(x, w, Tensor(), activation), composition(x, w, Tensor(), activation),
                     1e-5, 1e-5);
      }
    }
  }
  set_num_threads(saved);
}

// float64 through Eigen, the 16-bit types through their GEMM and the
// epilogue pass: the same roundings as the separate ops.
TEST(FusedLinear, MatchesTheCompositionInEveryDtype) {
  Generator gen(4);
  for (DType dtype : {kFloat64, kFloat16, kBFloat16}) {
    const Tensor x = randn({70, 40}, dtype, &gen);
    const Tensor w = (randn({36, 40}, kFloat32, &gen) * 0.2).to(dtype);
    const Tensor b = randn({36}, dtype, &gen);
    for (LinearActivation activation : kActivations) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + " activation " +
                   std::to_string(static_cast<int>(activation)));
      const Tensor got = linear(x, w, b, activation);
      EXPECT_EQ(got.dtype(), dtype);
      const double tol = dtype == kFloat64 ? 1e-12 : 1e-2;
      expect_close(got, composition(x, w, b, activation), tol, tol);
    }
  }
}

// bfloat16 on each GEMM path this CPU has: the AVX512-BF16 and AMX paths
// fuse a bias and ReLU into their store with the separate pass's roundings
// (the product rounded, the bias added and rounded, then ReLU), so the
// fused Linear equals the separate ops bit for bit; GELU, K over 512 (float32
// sums rounded afterwards) and the fp32 path run the pass. Partial tiles and
// panels, the columns split at 2 threads, a batch; and results that are
// bfloat16 subnormals (zero inputs, subnormal biases), which the fused
// rounding keeps as BFloat16(float) does.
TEST(FusedLinear, BFloat16EpilogueEqualsTheSeparateOpsBitForBit) {
  const int saved = get_num_threads();
  Generator gen(6);
  for (const std::string& path : kBf16GemmPaths) {
    if (!force_bf16_gemm_path(path)) continue;
    for (const Shape& x_shape : {Shape{300, 96}, Shape{50, 64}, Shape{3, 40, 72}, Shape{64, 600}}) {
      const int64_t in = x_shape.back(), out = in == 64 ? 300 : 80;
      const Tensor x = randn(x_shape, kFloat32, &gen).to(kBFloat16);
      const Tensor w = (randn({out, in}, kFloat32, &gen) * 0.1).to(kBFloat16);
      const Tensor b = randn({out}, kFloat32, &gen).to(kBFloat16);
      for (LinearActivation activation : kActivations) {
        for (int threads : {1, 2}) {
          SCOPED_TRACE(::testing::Message()
                       << path << " rows " << x_shape.front() << " in " << in << " rank "
                       << x_shape.size() << " activation " << static_cast<int>(activation)
                       << " threads " << threads);
          set_num_threads(threads);
          expect_close(linear(x, w, b, activation), composition(x, w, b, activation), 0, 0);
          expect_close(linear(x, w, Tensor(), activation), composition(x, w, Tensor(), activation),
                       0, 0);
        }
      }
    }
    const Tensor zero_x = zeros({20, 40}, kBFloat16), w = randn({48, 40}).to(kBFloat16);
    Tensor tiny_b = zeros({48}, kBFloat16);
    const uint16_t tiny[] = {0x0001, 0x8003, 0x007F, 0x0040};  // subnormal bfloat16 bits
    for (int64_t j = 0; j < 48; ++j) tiny_b.data_ptr<BFloat16>()[j].bits = tiny[j % 4];
    for (LinearActivation activation : {LinearActivation::None, LinearActivation::ReLU}) {
      SCOPED_TRACE(path + " subnormal bias");
      const Tensor got = linear(zero_x, w, tiny_b, activation);
      expect_close(got, composition(zero_x, w, tiny_b, activation), 0, 0);
      EXPECT_EQ(got.data_ptr<BFloat16>()[0].bits, 0x0001);  // kept, not flushed to zero
    }
    // A NaN input makes its row's products NaN, which ReLU keeps (x < 0 ? 0 : x).
    Tensor nan_x = zeros({20, 40}, kBFloat16);
    nan_x.data_ptr<BFloat16>()[3 * 40 + 5] = BFloat16(std::nanf(""));
    const Tensor got = linear(nan_x, w, tiny_b, LinearActivation::ReLU).to(kFloat32);
    for (int64_t j = 0; j < 48; ++j) {
      EXPECT_TRUE(std::isnan(got.data_ptr<float>()[3 * 48 + j])) << path << " column " << j;
      EXPECT_FALSE(std::isnan(got.data_ptr<float>()[4 * 48 + j])) << path << " column " << j;
    }
  }
  set_cpu_bf16_gemm("");
  set_num_threads(saved);
}

TEST(FusedLinear, GradientsMatchTheComposition) {
  Generator gen(5);
  const Tensor x0 = randn({3, 20, 48}, kFloat32, &gen);
  const Tensor w0 = randn({40, 48}, kFloat32, &gen) * 0.1;
  const Tensor b0 = randn({40}, kFloat32, &gen);
  const Tensor r = randn({3, 20, 40}, kFloat32, &gen);
  for (LinearActivation activation : kActivations) {
    SCOPED_TRACE(static_cast<int>(activation));
    std::vector<Tensor> grads[2];
    for (int fused = 0; fused < 2; ++fused) {
      const Tensor x = x0.clone().requires_grad_(), w = w0.clone().requires_grad_();
      const Tensor b = b0.clone().requires_grad_();
      const Tensor y = fused ? linear(x, w, b, activation) : composition(x, w, b, activation);
      (y * r).sum().backward();
      grads[fused] = {x.grad(), w.grad(), b.grad()};
    }
    for (int i = 0; i < 3; ++i) expect_close(grads[1][i], grads[0][i], 1e-5, 1e-5);
  }
}

// The kernel table's call directly: a batch of 3 products sharing the bias,
// each with its own pre-activation matrix at C's layout (ldc > N).
TEST(FusedLinear, BatchedEpilogueWritesEachMatrixPreActivation) {
  Generator gen(6);
  const int64_t batch = 3, M = 33, N = 20, K = 17, ldc = 24;
  const Tensor a = randn({batch, M, K}, kFloat32, &gen);
  const Tensor bt = randn({K, N}, kFloat32, &gen);
  const Tensor bias = randn({N}, kFloat32, &gen);
  Tensor c = full({batch, M, ldc}, std::nan(""), kFloat32);
  Tensor pre = full({batch, M, ldc}, 7.0, kFloat32);
  kernels::GemmCall call;
  call.batch = batch, call.M = M, call.N = N, call.K = K;
  call.A = a.data_ptr(), call.lda = K, call.stride_a = M * K;
  call.B = bt.data_ptr(), call.ldb = N, call.stride_b = 0;
  call.C = c.data_ptr(), call.ldc = ldc, call.stride_c = M * ldc;
  call.epilogue.bias = bias.data_ptr();
  call.epilogue.activation = kernels::GemmActivation::GeluErf;
  call.epilogue.pre_activation = pre.data_ptr();
  kernels::cpu_backend().gemm(DType::Float32, call);
  const Tensor want_pre = matmul(a, bt) + bias;
  expect_close(pre.narrow(2, 0, N), want_pre, 1e-5, 1e-5);
  expect_close(c.narrow(2, 0, N), gelu(want_pre), 1e-5, 1e-5);
  // The padding columns of pre are left alone.
  expect_close(pre.narrow(2, N, ldc - N), full({batch, M, ldc - N}, 7.0, kFloat32));
}

// Operands whose rows are not `in` apart: broadcast rows (stride 0, also
// with in == 1) and a transposed buffer are copied before the GEMM.
TEST(FusedLinear, BroadcastAndTransposedOperands) {
  Generator gen(7);
  const Tensor v = randn({1, 6}, kFloat32, &gen), wt = randn({6, 40}, kFloat32, &gen);
  const Tensor b = randn({40}, kFloat32, &gen);
  const Tensor x = v.expand({50, 6}), w = wt.t();  // x rows 0 apart, w stored [in, out]
  expect_close(linear(x, w, b, LinearActivation::ReLU),
               composition(x.contiguous(), w.contiguous(), b, LinearActivation::ReLU), 1e-5, 1e-5);
  const Tensor column = randn({1, 1}, kFloat32, &gen).expand({9, 1});
  const Tensor w1 = randn({1, 1}, kFloat32, &gen).expand({3, 1});
  expect_close(linear(column, w1, Tensor()), matmul(column.contiguous(), w1.contiguous().t()));
}

// No input features (out = bias) or no output features: forward and backward.
TEST(FusedLinear, EmptyFeatureDims) {
  const Tensor x = zeros({4, 0}).requires_grad_(), w = zeros({3, 0}).requires_grad_();
  const Tensor b = from_vector<float>({1, 2, 3}).requires_grad_();
  const Tensor y = linear(x, w, b, LinearActivation::GELU);
  expect_close(y, gelu(b.detach()).expand({4, 3}));
  y.sum().backward();
  EXPECT_EQ(x.grad().shape(), Shape({4, 0}));
  EXPECT_EQ(w.grad().shape(), Shape({3, 0}));
  expect_close(b.grad(), (gelu_backward(ones({3}), b.detach(), "none") * 4));
  const Tensor x2 = randn({2, 5, 4}).requires_grad_(), w2 = zeros({0, 4}).requires_grad_();
  const Tensor y2 = linear(x2, w2, Tensor(), LinearActivation::ReLU);
  EXPECT_EQ(y2.shape(), Shape({2, 5, 0}));
  y2.sum().backward();
  expect_close(x2.grad(), zeros({2, 5, 4}));
}

TEST(FusedLinear, BadShapesAndDtypesAreErrors) {
  const Tensor x = randn({4, 3}), w = randn({5, 3}), b = randn({5});
  expect_error([&] { linear(x, randn({5, 2}), b, LinearActivation::ReLU); }, {"linear", "[5, 2]"});
  expect_error([&] { linear(x, w, randn({4}), LinearActivation::ReLU); }, {"linear", "bias"});
  expect_error([&] { linear(x, w.to(kFloat64), b, LinearActivation::GELU); },
               {"linear", "one dtype"});
  expect_error(
      [&] {
        linear(randn({4, 3}).to(kInt64), w.to(kInt64), Tensor());
      },
      {"linear", "floating"});
}

// Under CPU autocast to bfloat16 the fused GEMM runs in bfloat16.
TEST(FusedLinear, RunsInTheAutocastDtype) {
  const Tensor x = randn({8, 16}), w = randn({12, 16}), b = randn({12});
  Autocast autocast(DeviceType::CPU, kBFloat16);
  const Tensor y = linear(x, w, b, LinearActivation::GELU);
  EXPECT_EQ(y.dtype(), kBFloat16);
  expect_close(y.to(kFloat32), gelu(matmul(x, w.t()) + b), 5e-2, 5e-2);
}

}  // namespace
}  // namespace toadstool::testing
