// CUDA reductions against the CPU's: sum, mean, prod, amax/amin, var/std, sum_squares,
// max/min along a dim and argmax/argmin, over every kernel path of
// kernels/cuda/reduce.cu (tiles, threads, one block per output, segments),
// strided inputs, integer and bool inputs, NaN and ties; and the fixed
// order: the same input gives the same bits twice.
#include <functional>
#include <string>
#include <vector>

#include "cuda_test_util.h"

namespace toadstool {
namespace {

using testing::kCuda;

Generator& reduce_gen() {
  static Generator g(11);
  return g;
}

using ReduceFn = std::function<Tensor(const Tensor&)>;

// The CUDA result, brought back, against the CPU's; rtol by dtype (the
// float sums accumulate in double on both, in different orders).
void expect_reduce_parity(const Tensor& cpu_input, const ReduceFn& f, const std::string& what) {
  SCOPED_TRACE(what + " on " + dtype_name(cpu_input.dtype()));
  const Tensor expected = f(cpu_input);
  const Tensor actual = f(cpu_input.to(kCuda));
  ASSERT_EQ(actual.device(), kCuda);
  EXPECT_EQ(actual.dtype(), expected.dtype());
  const bool is_float = expected.dtype() == kFloat32 || expected.dtype() == kFloat64;
  const double rtol = expected.dtype() == kFloat32 ? 2e-6 : (is_float ? 1e-12 : 0.0);
  testing::expect_close(actual.to(kCPU), expected, rtol, is_float ? rtol * 1e-2 : 0.0);
}

// Shapes that reach each kernel path (reduce.cu's top comment).
struct Case {
  Shape shape;
  Shape dims;
  const char* path;
};
const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {{300, 70}, {0}, "tiles: sum over rows"},
      {{8192, 100}, {0}, "tiles in row chunks: a bias's gradient"},
      {{6, 40, 33}, {0, 2}, "block per output, strided reduced dims"},
      {{1000, 5}, {1}, "threads: short rows"},
      {{20, 1000}, {1}, "block per output"},
      {{3, 1 << 16}, {1}, "segments: few long rows"},
      {{1 << 18}, {}, "segments: everything"},
      {{7, 9, 11}, {}, "everything, one block"},
      {{4, 5, 6}, {1}, "middle dim"},
  };
  return all;
}

TEST(CudaReduce, FloatReductionsMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : {kFloat32, kFloat64}) {
    for (const Case& c : cases()) {
      const Tensor x = randn(c.shape, dtype, &reduce_gen());
      const std::string at = std::string(c.path);
      expect_reduce_parity(
          x, [&](const Tensor& t) { return t.sum(c.dims); }, "sum " + at);
      expect_reduce_parity(
          x, [&](const Tensor& t) { return t.mean(c.dims, true); }, "mean " + at);
      expect_reduce_parity(
          x, [&](const Tensor& t) { return t.amax(c.dims); }, "amax " + at);
      expect_reduce_parity(
          x, [&](const Tensor& t) { return t.amin(c.dims); }, "amin " + at);
      expect_reduce_parity(
          x, [&](const Tensor& t) { return t.var(c.dims); }, "var " + at);
      expect_reduce_parity(
          x, [&](const Tensor& t) { return native::sum_squares(t, c.dims); }, "sum_squares " + at);
      expect_reduce_parity(
          x, [&](const Tensor& t) { return t.std(c.dims, 0); }, "std " + at);
      // Near 1, so that long products stay finite.
      const Tensor near_one = 1.0 + 1e-3 * x;
      expect_reduce_parity(
          near_one, [&](const Tensor& t) { return t.prod(c.dims); }, "prod " + at);
    }
  }
}

TEST(CudaReduce, StridedInputsMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  // A permuted view and a sliced one: kept and reduced dims at odd strides,
  // made on each device (a copy to the GPU would be contiguous).
  const Tensor x = randn({8, 30, 50}, kFloat32, &reduce_gen());
  const std::vector<ReduceFn> views = {
      [](const Tensor& t) {
        return t.permute({2, 0, 1});
      },
      [](const Tensor& t) { return t.slice(2, 1, 40, 3); },
      [](const Tensor& t) { return t.transpose(0, 1); },
  };
  for (const ReduceFn& view : views) {
    for (const Shape& dims : {Shape{0}, Shape{1}, Shape{2}, Shape{0, 2}, Shape{}}) {
      expect_reduce_parity(
          x, [&](const Tensor& t) { return view(t).sum(dims); }, "sum of a view");
      expect_reduce_parity(
          x, [&](const Tensor& t) { return view(t).var(dims); }, "var of a view");
      expect_reduce_parity(
          x, [&](const Tensor& t) { return native::sum_squares(view(t), dims); },
          "sum_squares of a view");
      expect_reduce_parity(
          x, [&](const Tensor& t) { return view(t).amax(dims); }, "amax of a view");
    }
    for (int64_t dim : {0, 1, 2}) {
      expect_reduce_parity(
          x, [&](const Tensor& t) { return view(t).argmax(dim); }, "argmax of a view");
      expect_reduce_parity(
          x, [&](const Tensor& t) { return max(view(t), dim).first; }, "max values of a view");
    }
  }
}

TEST(CudaReduce, IntegerAndBoolReductionsMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  const Tensor ints = (randn({40, 300}, kFloat32, &reduce_gen()) * 100).to(kInt64);
  for (const Shape& dims : {Shape{0}, Shape{1}, Shape{}}) {
    expect_reduce_parity(
        ints, [&](const Tensor& t) { return t.sum(dims); }, "int64 sum");
    expect_reduce_parity(
        ints, [&](const Tensor& t) { return t.amax(dims); }, "int64 amax");
    expect_reduce_parity(
        ints, [&](const Tensor& t) { return t.amin(dims); }, "int64 amin");
  }
  const Tensor small = (randn({5, 7}, kFloat32, &reduce_gen()) * 2).to(kInt64);
  expect_reduce_parity(
      small, [](const Tensor& t) { return t.prod({1}); }, "int64 prod");
  expect_reduce_parity(
      ints, [](const Tensor& t) { return t.argmax(1); }, "int64 argmax");
  const Tensor flags = randn({33, 500}, kFloat32, &reduce_gen()) > 0.0;
  expect_reduce_parity(
      flags, [](const Tensor& t) { return t.sum({1}); }, "bool sum");
  expect_reduce_parity(
      flags, [](const Tensor& t) { return t.sum(); }, "bool sum, everything");
}

TEST(CudaReduce, ArgExtremaTakeTheFirstOfTiesAndNaN) {
  SKIP_WITHOUT_GPU();
  const double nan = std::nan("");
  const Tensor x = testing::make({1, 3, 3, 0,  //
                                  2, 2, 1, 1,  //
                                  5, nan, 5, nan},
                                 {3, 4});
  const Tensor gpu = x.to(kCuda);
  EXPECT_EQ(testing::values(gpu.argmax(1).to(kCPU)), (std::vector<double>{1, 0, 1}));
  EXPECT_EQ(testing::values(gpu.argmin(1).to(kCPU)), (std::vector<double>{3, 2, 1}));
  const auto [values, indices] = max(gpu, 1);
  EXPECT_EQ(testing::values(indices.to(kCPU)), (std::vector<double>{1, 0, 1}));
  testing::expect_values(values.to(kCPU), {3, 2, nan}, {3});
  // amax: a NaN wins; a long row runs the block path, ties among 4096 equal values.
  EXPECT_TRUE(std::isnan(gpu.amax().to(kCPU).item<float>()));
  const Tensor flat = zeros({4096}).to(kCuda);
  EXPECT_EQ(flat.argmax().to(kCPU).item<int64_t>(), 0);
  EXPECT_EQ(flat.argmin().to(kCPU).item<int64_t>(), 0);
  // Down tall columns (tiles in row chunks): ties across the chunks, and an
  // extreme in the last chunk.
  Tensor tall = zeros({4096, 3});
  tall.slice(0, 4095, 4096).slice(1, 2, 3).fill_(1.0);
  EXPECT_EQ(testing::values(tall.to(kCuda).argmax(0).to(kCPU)), (std::vector<double>{0, 0, 4095}));
  EXPECT_EQ(testing::values(tall.to(kCuda).argmin(0).to(kCPU)), (std::vector<double>{0, 0, 0}));
  // The extreme in the last segment of a segmented reduction.
  Tensor big = randn({1 << 18}, kFloat32, &reduce_gen());
  big.slice(0, (1 << 18) - 5, (1 << 18) - 4).fill_(100.0);
  EXPECT_EQ(big.to(kCuda).argmax().to(kCPU).item<int64_t>(), (1 << 18) - 5);
}

TEST(CudaReduce, TheSameInputGivesTheSameBits) {
  SKIP_WITHOUT_GPU();
  for (const Case& c : cases()) {
    const Tensor x = randn(c.shape, kFloat32, &reduce_gen()).to(kCuda);
    for (const ReduceFn& f : std::vector<ReduceFn>{
             [&](const Tensor& t) { return t.sum(c.dims); },
             [&](const Tensor& t) { return t.var(c.dims); },
         }) {
      EXPECT_EQ(testing::values(f(x).to(kCPU)), testing::values(f(x).to(kCPU))) << c.path;
    }
  }
}

}  // namespace
}  // namespace toadstool
