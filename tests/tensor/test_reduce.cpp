// Reductions over any set of dims, keepdim, strided inputs, edge cases.
#include <limits>

#include "test_util.h"

namespace toadstool {
namespace {

using testing::expect_close;
using testing::expect_values;
using testing::make;
using testing::non_contiguous;

Tensor grid() { return make({1, 2, 3, 4, 5, 6}, {2, 3}); }

TEST(Reduce, SumOverDimsAndKeepdim) {
  const Tensor a = grid();
  expect_values(a.sum(), {21}, {});
  expect_values(a.sum({0}), {5, 7, 9}, {3});
  expect_values(a.sum({1}), {6, 15}, {2});
  expect_values(a.sum({-1}, true), {6, 15}, {2, 1});
  expect_values(a.sum({0, 1}, true), {21}, {1, 1});
  EXPECT_THROW(a.sum({0, 0}), Error);
  EXPECT_THROW(a.sum({2}), Error);
}

TEST(Reduce, StridedAndPermutedInputs) {
  const Tensor a = randn({6, 5, 4}, kFloat64);
  const Tensor p = a.permute({2, 0, 1});
  expect_close(p.sum({1}), p.contiguous().sum({1}), 1e-12);
  expect_close(non_contiguous(a).sum({0, 2}), a.sum({0, 2}), 1e-12);
  expect_close(a.slice(1, 0, std::nullopt, 2).amax({1}),
               a.slice(1, 0, std::nullopt, 2).contiguous().amax({1}));
  // Outer reduction (rows summed into a contiguous kept dim) against inner.
  const Tensor big = randn({300, 257}, kFloat64);
  expect_close(big.sum({0}), big.t().contiguous().sum({1}), 1e-12);
}

TEST(Reduce, DtypesOfResults) {
  EXPECT_EQ(from_vector(std::vector<int64_t>{1, 2}).sum().dtype(), kInt64);
  EXPECT_EQ(from_vector(std::vector<bool>{true, true}).sum().item<int64_t>(), 2);
  EXPECT_EQ(ones({3}, kFloat16).sum().dtype(), kFloat16);
  EXPECT_THROW(from_vector(std::vector<int64_t>{1, 2}).mean(), Error);
  EXPECT_THROW(from_vector(std::vector<int64_t>{1, 2}).var(), Error);
}

// A 16-bit sum reads its input as it is and sums in double: the float32
// sum of the widened values rounded once, bit for bit, over inner and outer
// (rows into a contiguous kept dim) orders, all dims and a strided view.
TEST(Reduce, SixteenBitSumsEqualTheWidenedSumRounded) {
  for (DType dtype : {kBFloat16, kFloat16}) {
    SCOPED_TRACE(dtype_name(dtype));
    const Tensor a = randn({300, 257}).to(dtype);
    const Tensor wide = a.to(kFloat32);
    for (const Shape& dims : {Shape{0}, Shape{1}, Shape{0, 1}}) {
      const Tensor got = a.sum(dims);
      EXPECT_EQ(got.dtype(), dtype);
      expect_close(got, wide.sum(dims).to(dtype), 0, 0);
    }
    const Tensor strided = a.slice(1, 0, std::nullopt, 2);
    expect_close(strided.sum({0}), wide.slice(1, 0, std::nullopt, 2).sum({0}).to(dtype), 0, 0);
  }
}

TEST(Reduce, MeanVarStdProd) {
  const Tensor a = grid();
  expect_values(a.mean({1}), {2, 5}, {2});
  expect_values(a.var({1}), {1, 1}, {2});
  expect_values(a.var({1}, 0), {2.0 / 3, 2.0 / 3}, {2});
  expect_values(a.std({0}), {std::sqrt(4.5), std::sqrt(4.5), std::sqrt(4.5)}, {3});
  expect_values(a.prod({1}), {6, 120}, {2});
  // Variance of a large offset stays accurate.
  const Tensor shifted = make({1e6 + 1, 1e6 + 2, 1e6 + 3}, {3});
  expect_values(shifted.var(), {1}, {}, 1e-6);
  EXPECT_TRUE(std::isnan(ones({1}).var().item<float>()));
  EXPECT_TRUE(std::isnan(zeros({0}).mean().item<float>()));
}

// sum_squares: (t * t).sum in one pass, squares and sum in double: exact
// on small integers, equal to the float64 sum of squares rounded once, over
// dims, keepdim, a strided view, a 16-bit input (computed in float32) and
// nothing (0).
TEST(Reduce, SumSquares) {
  const Tensor a = grid();
  expect_values(native::sum_squares(a), {91}, {});
  expect_values(native::sum_squares(a, {1}), {14, 77}, {2});
  expect_values(native::sum_squares(a, {0}, true), {17, 29, 45}, {1, 3});
  const Tensor x = randn({300, 257});
  const Tensor wide = x.to(kFloat64);
  for (const Shape& dims : {Shape{0}, Shape{1}, Shape{}}) {
    expect_close(native::sum_squares(x, dims), (wide * wide).sum(dims).to(kFloat32), 0, 0);
  }
  const Tensor strided = x.slice(1, 0, std::nullopt, 3);
  expect_close(native::sum_squares(strided, {1}), native::sum_squares(strided.contiguous(), {1}), 0,
               0);
  const Tensor half = x.to(kBFloat16);
  EXPECT_EQ(native::sum_squares(half).dtype(), kBFloat16);
  const Tensor half_wide = half.to(kFloat64);
  expect_close(native::sum_squares(half), (half_wide * half_wide).sum().to(kFloat32).to(kBFloat16),
               0, 0);
  expect_values(native::sum_squares(zeros({0})), {0}, {});
  EXPECT_THROW(native::sum_squares(from_vector(std::vector<int64_t>{1, 2})), Error);
}

TEST(Reduce, ExtremaAndIndices) {
  const Tensor a = make({3, 7, 7, 1, 0, 9}, {2, 3});
  expect_values(a.amax({1}), {7, 9}, {2});
  expect_values(a.amin({0}), {1, 0, 7}, {3});
  auto [values, indices] = max(a, 1);
  expect_values(values, {7, 9}, {2});
  expect_values(indices, {1, 2}, {2});  // first of the tied 7s
  auto [mv, mi] = min(a, 0, true);
  expect_values(mi, {1, 1, 0}, {1, 3});
  expect_values(a.argmax(), {5}, {});
  expect_values(a.argmax(std::nullopt, true), {5}, {1, 1});  // keepdim keeps every dim
  expect_values(a.argmin(std::nullopt, true), {4}, {1, 1});
  expect_values(a.argmin(1), {0, 1}, {2});
  expect_values(max(a), {9}, {});
  EXPECT_THROW(zeros({0}).amax(), Error);
  EXPECT_THROW(max(zeros({2, 0}), 1), Error);
  EXPECT_THROW(zeros({0, 3}).amax({0}), Error);            // an empty dim has no identity
  EXPECT_EQ(zeros({0, 3}).amax({1}).shape(), (Shape{0}));  // but no outputs is fine
}

TEST(Reduce, NaNWinsInExtrema) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor a = make({1, nan, 3, nan}, {4});
  EXPECT_TRUE(std::isnan(a.amax().item<float>()));
  EXPECT_EQ(a.argmax().item<int64_t>(), 1);
  EXPECT_EQ(a.argmin().item<int64_t>(), 1);
}

TEST(Reduce, ArgmaxTiesPickTheFirstIndexAcrossVectorLanes) {
  std::vector<double> v(100, 1.0);
  v[37] = 5;
  v[70] = 5;
  EXPECT_EQ(make(v, {100}).argmax().item<int64_t>(), 37);
}

TEST(Reduce, LogSumExpIsStable) {
  const Tensor a = make({1000, 1000, -1000, -1000}, {2, 2});
  expect_values(a.logsumexp({1}), {1000 + std::log(2.0), -1000 + std::log(2.0)}, {2});
  const double inf = std::numeric_limits<double>::infinity();
  expect_values(make({-inf, -inf}, {2}).logsumexp({0}), {-inf}, {});
  expect_values(make({inf, 1}, {2}).logsumexp({0}), {inf}, {});
}

TEST(Reduce, AllAndAny) {
  EXPECT_TRUE(all(ones({3})).item<bool>());
  EXPECT_FALSE(all(make({1, 0}, {2})).item<bool>());
  EXPECT_TRUE(any(make({0, 2}, {2})).item<bool>());
  EXPECT_FALSE(any(zeros({0})).item<bool>());
  EXPECT_TRUE(all(zeros({0})).item<bool>());
}

TEST(Reduce, ZeroDimTensors) {
  const Tensor s = scalar_tensor(4.0);
  expect_values(s.sum(), {4}, {});
  expect_values(s.sum({0}), {4}, {});
  expect_values(s.amax({-1}, true), {4}, {});
}

TEST(Reduce, SameResultForAnyThreadCount) {
  const Tensor a = randn({512, 300});
  // Many rows into few outputs: the rows are split into chunks as well.
  const Tensor tall = randn({5000, 200});
  const int threads = get_num_threads();
  set_num_threads(1);
  const Tensor s1 = a.sum({1}), c1 = a.sum({0}), v1 = a.var({1}), t1 = tall.sum({0}),
               tv1 = tall.var({0});
  set_num_threads(2);
  const Tensor s2 = a.sum({1}), c2 = a.sum({0}), v2 = a.var({1}), t2 = tall.sum({0}),
               tv2 = tall.var({0});
  set_num_threads(threads);
  EXPECT_TRUE(all(eq(s1, s2)).item<bool>());
  EXPECT_TRUE(all(eq(c1, c2)).item<bool>());
  EXPECT_TRUE(all(eq(v1, v2)).item<bool>());
  EXPECT_TRUE(all(eq(t1, t2)).item<bool>());
  EXPECT_TRUE(all(eq(tv1, tv2)).item<bool>());
}

// The chunked outer order (rows split into chunks merged in order) against
// float64 and, for the extrema, against the inner order of the transpose.
TEST(Reduce, ManyRowsIntoFewOutputs) {
  Tensor tall = randn({5000, 200}, kFloat64);
  tall.select(0, 4321).fill_(10.0);  // column maxima in a late chunk, ties with row 4500
  tall.select(0, 4500).fill_(10.0);
  const Tensor across = tall.t().contiguous();
  expect_close(tall.sum({0}), across.sum({1}), 1e-12);
  expect_close(tall.var({0}), across.var({1}), 1e-12);
  expect_close(tall.to(kFloat32).sum({0}), across.sum({1}).to(kFloat32), 1e-6, 1e-5);
  const auto [values, indices] = max(tall, 0);
  expect_values(indices.narrow(0, 0, 3), {4321, 4321, 4321}, {3});
  expect_close(values, across.amax({1}), 0, 0);
}

}  // namespace
}  // namespace toadstool

namespace toadstool {
namespace {

TEST(LogSoftmax, KeepsPrecisionNearZero) {
  // One dominant entry: its log-probability is a small negative number that
  // x - (max + log(sum)) would get wrong by an ulp of the (large) input.
  manual_seed(3);
  const Tensor x = randn({3, 40}) * 30;
  const Tensor want = log_softmax(x.to(kFloat64), 1);
  testing::expect_close(log_softmax(x, 1), want, 2e-6, 1e-7);
  testing::expect_close(log_softmax(x.t().contiguous(), 0), want.t(), 2e-6, 1e-7);
}

}  // namespace
}  // namespace toadstool
