// Element-wise ops: broadcasting, promotion, strided inputs, in-place rules.
#include <limits>

#include "test_util.h"

namespace toadstool {
namespace {

using testing::expect_close;
using testing::expect_values;
using testing::make;
using testing::non_contiguous;

TEST(Elementwise, BroadcastingFollowsNumPy) {
  const Tensor a = make({1, 2, 3}, {3, 1});
  const Tensor b = make({10, 20}, {2});
  expect_values(a + b, {11, 21, 12, 22, 13, 23}, {3, 2});
  expect_values(b - a, {9, 19, 8, 18, 7, 17}, {3, 2});
  const Tensor c = ones({2, 1, 4});
  EXPECT_EQ((c * ones({3, 1})).shape(), (Shape{2, 3, 4}));
  EXPECT_EQ((scalar_tensor(2.0) * c).shape(), (Shape{2, 1, 4}));
  EXPECT_EQ((zeros({0, 3}) + ones({3})).shape(), (Shape{0, 3}));
}

TEST(Elementwise, NonContiguousInputsGiveTheSameValues) {
  const Tensor a = randn({5, 7});
  const Tensor b = randn({5, 7});
  expect_close(non_contiguous(a) * non_contiguous(b), a * b);
  expect_close(add(non_contiguous(a), b, 0.5), add(a, b, 0.5));
  expect_close(exp(non_contiguous(a)), exp(a));
  const Tensor strided = randn({4, 10}).slice(1, 1, std::nullopt, 3);  // [4, 3], stride 3
  expect_close(strided + 1, strided.contiguous() + 1);
}

TEST(Elementwise, ArithmeticAndScalarForms) {
  const Tensor a = make({1, -2, 3}, {3});
  expect_values(add(a, a, 2), {3, -6, 9}, {3});
  expect_values(sub(a, a, 0.5), {0.5, -1, 1.5}, {3});
  expect_values(a * 2, {2, -4, 6}, {3});
  expect_values(2 - a, {1, 4, -1}, {3});
  expect_values(6 / a, {6, -3, 2}, {3});
  expect_values(a / 2, {0.5, -1, 1.5}, {3});
  expect_values(pow(a, 2), {1, 4, 9}, {3});
  expect_values(pow(2, a), {2, 0.25, 8}, {3});
  expect_values(-a, {-1, 2, -3}, {3});
  expect_values(abs(a), {1, 2, 3}, {3});
  expect_values(relu(a), {1, 0, 3}, {3});
  expect_values(maximum(a, make({0, 0, 0}, {3})), {1, 0, 3}, {3});
  expect_values(minimum(a, scalar_tensor(0.0)), {0, -2, 0}, {3});
  // Integers stay integers except under true division.
  const Tensor i = from_vector(std::vector<int64_t>{7, -7});
  expect_values(i * 3, {21, -21}, {2});
  EXPECT_EQ((i * 3).dtype(), kInt64);
  expect_values(i / 2, {3.5, -3.5}, {2});
  expect_values(pow(i, 2), {49, 49}, {2});
}

TEST(Elementwise, NaNPropagatesThroughMaximumAndRelu) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor a = make({nan, 1}, {2});
  const Tensor b = make({0, nan}, {2});
  EXPECT_TRUE(std::isnan(testing::values(maximum(a, b))[0]));
  EXPECT_TRUE(std::isnan(testing::values(maximum(a, b))[1]));
  EXPECT_TRUE(std::isnan(testing::values(relu(a))[0]));
}

TEST(Elementwise, ComparisonsAndLogicGiveBool) {
  const Tensor a = make({1, 2, 3}, {3});
  const Tensor lt2 = a < 2.0;
  EXPECT_EQ(lt2.dtype(), kBool);
  expect_values(lt2, {1, 0, 0}, {3});
  expect_values(a >= make({1, 3, 2}, {3}), {1, 0, 1}, {3});
  expect_values(a == 2, {0, 1, 0}, {3});
  expect_values(a != 2, {1, 0, 1}, {3});
  expect_values(eq(from_vector(std::vector<int64_t>{2}), make({2.0}, {1})), {1}, {1});
  expect_values((a > 1.0) && (a < 3.0), {0, 1, 0}, {3});
  expect_values((a < 2.0) || (a > 2.0), {1, 0, 1}, {3});
  expect_values(!(a > 1.0), {1, 0, 0}, {3});
  expect_values(logical_xor(a > 1.0, a > 2.0), {0, 1, 0}, {3});
  expect_values(logical_not(make({0, 0.5}, {2})), {1, 0}, {2});
}

TEST(Elementwise, WhereMaskedFillClamp) {
  const Tensor a = make({1, -2, 3, -4}, {2, 2});
  expect_values(where(a > 0.0, a, zeros({1})), {1, 0, 3, 0}, {2, 2});
  expect_values(where(a > 0.0, a, -1.0), {1, -1, 3, -1}, {2, 2});
  const Tensor row_mask = from_vector(std::vector<bool>{true, false});
  expect_values(a.masked_fill(row_mask, 9), {9, -2, 9, -4}, {2, 2});
  expect_values(a.clamp(-2, 2), {1, -2, 2, -2}, {2, 2});
  expect_values(a.clamp(std::nullopt, 0), {0, -2, 0, -4}, {2, 2});
  EXPECT_EQ(from_vector(std::vector<int64_t>{5}).clamp(0, 2.5).dtype(), kFloat32);
  EXPECT_THROW(where(a, a, a), Error);       // condition must be bool
  EXPECT_THROW(a.masked_fill(a, 1), Error);  // mask must be bool
  EXPECT_THROW(a.clamp(std::nullopt, std::nullopt), Error);
}

TEST(Elementwise, UnaryMathMatchesTheStandardLibrary) {
  const std::vector<double> xs{-3, -0.5, 0, 0.25, 2};
  const Tensor x = make(xs, {5}, kFloat64);
  auto check = [&](const Tensor& got, double (*f)(double)) {
    std::vector<double> want;
    for (double v : xs) want.push_back(f(v));
    expect_values(got, want, {5}, 1e-12, 1e-14);
  };
  check(exp(x), [](double v) { return std::exp(v); });
  check(tanh(x), [](double v) { return std::tanh(v); });
  check(sigmoid(x), [](double v) { return 1 / (1 + std::exp(-v)); });
  check(sin(x), [](double v) { return std::sin(v); });
  check(cos(x), [](double v) { return std::cos(v); });
  check(gelu(x), [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); });
  check(gelu(x, "tanh"), [](double v) {
    return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
  });
  const Tensor pos = make({0.5, 1, 4}, {3}, kFloat64);
  expect_values(log(pos), {std::log(0.5), 0, std::log(4.0)}, {3});
  expect_values(log1p(pos), {std::log1p(0.5), std::log(2.0), std::log(5.0)}, {3});
  expect_values(sqrt(pos), {std::sqrt(0.5), 1, 2}, {3});
  expect_values(rsqrt(pos), {1 / std::sqrt(0.5), 1, 0.5}, {3});
  EXPECT_EQ(exp(from_vector(std::vector<int64_t>{0})).dtype(), kFloat32);
  EXPECT_THROW(gelu(x, "fast"), Error);
}

TEST(Elementwise, SixteenBitFloatsComputeInFloat32) {
  const Tensor h = make({1, 2, 3}, {3}, kFloat16);
  const Tensor r = h * h + 1;
  EXPECT_EQ(r.dtype(), kFloat16);
  expect_values(r, {2, 5, 10}, {3});
  EXPECT_EQ(exp(make({0}, {1}, kBFloat16)).dtype(), kBFloat16);
}

TEST(Elementwise, InPlaceOpsWriteIntoSelf) {
  Tensor a = make({1, 2, 3, 4}, {2, 2});
  const Tensor before = a;
  a.add_(make({10, 20}, {2}));
  expect_values(before, {11, 22, 13, 24}, {2, 2});
  a.sub_(1).mul_(2).div_(make({2}, {1}));
  expect_values(a, {10, 21, 12, 23}, {2, 2});
  a.clamp_(11, 22);
  expect_values(a, {11, 21, 12, 22}, {2, 2});
  a.masked_fill_(a > 20.0, 0);
  expect_values(a, {11, 0, 12, 0}, {2, 2});
  Tensor i = from_vector(std::vector<int64_t>{1, 2});
  i.add_(from_vector(std::vector<int64_t>{3, 4}));
  expect_values(i, {4, 6}, {2});
  Tensor h = make({1, 2}, {2}, kFloat16);
  h.mul_(3);
  expect_values(h, {3, 6}, {2});
}

TEST(Elementwise, InPlaceRejectsBroadcastingTheDestination) {
  Tensor a = zeros({3});
  EXPECT_THROW(a.add_(zeros({2, 3})), Error);
  Tensor m = zeros({2, 3});
  EXPECT_THROW(m.masked_fill_(zeros({2, 2, 3}, kBool), 1), Error);
}

TEST(Elementwise, InPlaceRejectsFloatResultIntoIntegers) {
  Tensor i = from_vector(std::vector<int64_t>{1, 2});
  EXPECT_THROW(i.add_(make({0.5, 0.5}, {2})), Error);
  EXPECT_THROW(i.div_(2), Error);
  EXPECT_THROW(i.mul_(1.5), Error);
  EXPECT_THROW(i.add_(ones({2}), 0.5), Error);
}

TEST(Elementwise, AliasingInPlaceWithItself) {
  Tensor a = make({1, 2, 3}, {3});
  a.add_(a);
  expect_values(a, {2, 4, 6}, {3});
  a.mul_(a);
  expect_values(a, {4, 16, 36}, {3});
}

TEST(Elementwise, BoolRules) {
  const Tensor b = from_vector(std::vector<bool>{true, false});
  EXPECT_THROW(b - b, Error);
  EXPECT_THROW(-b, Error);
  expect_values(b + b, {1, 0}, {2});
  expect_values(b * b, {1, 0}, {2});
  EXPECT_EQ((b + 1).dtype(), kInt64);
}

TEST(Elementwise, ResultsDoNotDependOnThreadCount) {
  const Tensor a = randn({1 << 17});
  const int threads = get_num_threads();
  set_num_threads(1);
  const Tensor one = gelu(a) * a + 1;
  set_num_threads(2);
  const Tensor two = gelu(a) * a + 1;
  set_num_threads(threads);
  EXPECT_TRUE(all(eq(one, two)).item<bool>());
}

}  // namespace
}  // namespace toadstool
