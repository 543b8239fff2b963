// Regression tests for the tensor-level defects that hostile testing found
// (issue 18, D1, D3, D4, D5 and the op names in two messages). Each failed
// before its fix; D1 and D5 were undefined behaviour that only the
// sanitizer build (with -fsanitize=float-cast-overflow) reports.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "test_util.h"

namespace toadstool {
namespace {

using Fragments = std::vector<std::string>;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
using testing::kInf;
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();

// D1: a float Scalar computed its integer value on construction, undefined
// for NaN, infinities and |v| >= 2^63. Float ops take such scalars as they are.
TEST(HostileTensors, FloatScalarsWithNoIntegerValueWorkInFloatOps) {
  const Tensor x = ones({3});
  EXPECT_EQ((x + 1e30).data_ptr<float>()[0], 1e30f);
  EXPECT_TRUE(std::isnan(ones({2}).fill_(kNaN).data_ptr<float>()[1]));
  const Tensor mask = from_vector(std::vector<bool>{true, false, true});
  const Tensor masked = x.masked_fill(mask, -kInf);
  EXPECT_EQ(masked.data_ptr<float>()[0], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(masked.data_ptr<float>()[1], 1.0f);
  EXPECT_EQ(clamp(x, -kInf, kInf).data_ptr<float>()[2], 1.0f);
  // Attention's key-padding mask becomes -inf scores.
  const Tensor q = ones({1, 1, 2, 4});
  const Tensor keep = from_vector(std::vector<bool>{true, false}).view({1, 1, 1, 2});
  AttentionOptions masked_keys;
  masked_keys.attn_mask = keep;
  const Tensor out = scaled_dot_product_attention(q, q, q, masked_keys);
  EXPECT_FALSE(std::isnan(out.sum().item<double>()));
}

// An integer tensor gets a float's integer value (truncated toward zero, as
// PyTorch's fill_ does) when it has one, and an Error naming the op when not.
TEST(HostileTensors, FloatScalarsIntoIntegerTensorsAreCheckedConversions) {
  EXPECT_EQ(zeros({2}, kInt64).fill_(2.7).data_ptr<int64_t>()[0], 2);
  EXPECT_EQ(zeros({2}, kInt64).fill_(-2.7).data_ptr<int64_t>()[1], -2);
  EXPECT_ERROR(zeros({2}, kInt64).fill_(kNaN), (Fragments{"fill_", "nan", "int64"}));
  EXPECT_ERROR(full({2}, kInf, kInt64), (Fragments{"inf", "without overflow"}));
  EXPECT_ERROR(full({2}, 1e19, kInt64), "without overflow");
  const Tensor n = ones({2}, kInt64);
  EXPECT_ERROR(add(n, n, 1e300), (Fragments{"add", "int64"}));
  EXPECT_ERROR(index_add(zeros({2}, kInt64), 0, from_vector(std::vector<int64_t>{0}),
                         ones({1}, kInt64), -kInf),
               "index_add");
}

// D3: numel * element size wrapped, so these got a 64-byte buffer and wrote
// past it; [2^32, 2^32] wrapped to 0 elements.
TEST(HostileTensors, SizesPastInt64AreErrorsNamingOpAndShape) {
  const int64_t big = int64_t{1} << 62;
  EXPECT_ERROR(randn({big}), (Fragments{"randn", "[4611686018427387904]", "2^63 bytes"}));
  EXPECT_ERROR(zeros({int64_t{1} << 61}, kInt64), (Fragments{"zeros", "2^63 bytes"}));
  EXPECT_ERROR(eye(int64_t{1} << 31), (Fragments{"eye", "[2147483648, 2147483648]"}));
  EXPECT_ERROR(zeros({int64_t{1} << 32, int64_t{1} << 32}),
               (Fragments{"zeros", "[4294967296, 4294967296]", "2^63 elements"}));
  EXPECT_ERROR(randperm(int64_t{1} << 61), (Fragments{"randperm", "2^63 bytes"}));
  EXPECT_ERROR(rand({big, 2}), "rand");
  EXPECT_ERROR(randint(0, 5, {big}), "randint");
  EXPECT_ERROR(bernoulli({big}, 0.5), "bernoulli");
  EXPECT_ERROR(arange(0.0, 1e300, 1e-300), (Fragments{"arange", "more than a tensor can hold"}));
  // A step near 2^63 overflowed the size and stride arithmetic of slice.
  const Tensor every = arange(10).slice(0, 2, 10, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(every.shape(), (Shape{1}));
  EXPECT_EQ(every.item<int64_t>(), 2);
  // Shapes whose element count overflows reach no kernel through views either.
  EXPECT_ERROR(ones({4}).view({int64_t{1} << 32, int64_t{1} << 32}),
               (Fragments{"view", "2^63 elements"}));
}

// A size that fits int64 but not in memory: an out-of-memory Error that names
// the op the user called (the allocator alone did not know it).
TEST(HostileTensors, OutOfMemoryNamesTheOp) {
  EXPECT_ERROR(arange(0.0, 1e17), (Fragments{"arange", "cannot allocate", "out of memory"}));
  EXPECT_ERROR(randperm(int64_t{1} << 56), (Fragments{"randperm", "cannot allocate"}));
  EXPECT_ERROR(empty({int64_t{1} << 58}), (Fragments{"empty", "cannot allocate"}));
}

// D4: with a size-0 dim the element count is 0, but the other dims still
// make strides: [0, 2^32, 2^32]'s dim-0 stride is 2^64.
TEST(HostileTensors, StridesPastInt64WithAZeroDimAreErrors) {
  const int64_t big = int64_t{1} << 32;
  EXPECT_ERROR(zeros({0, big, big}),
               (Fragments{"zeros", "strides", "[0, 4294967296, 4294967296]"}));
  EXPECT_ERROR(zeros({0}).view({0, big, big}), "strides");
  EXPECT_EQ(zeros({0, int64_t{1} << 20, int64_t{1} << 20}).strides(),
            (Shape{int64_t{1} << 40, int64_t{1} << 20, 1}));
}

// D5: float-to-int64 casts of NaN, infinities and out-of-range values were
// undefined. They are now defined as saturating, NaN to 0 (the semantics of
// CUDA's conversions), for every float dtype.
TEST(HostileTensors, FloatToIntegerCastsSaturateAndMapNanToZero) {
  const std::vector<double> values = {kNaN, kInf, -kInf, 1e20, -1e20, 2.9, -2.9, 0.0};
  const std::vector<int64_t> expected = {0, kInt64Max, kInt64Min, kInt64Max, kInt64Min, 2, -2, 0};
  for (DType dt : {kFloat64, kFloat32, kFloat16, kBFloat16}) {
    SCOPED_TRACE(dtype_name(dt));
    const Tensor cast = from_vector(values).to(dt).to(kInt64);
    EXPECT_EQ(std::vector<int64_t>(cast.data_ptr<int64_t>(), cast.data_ptr<int64_t>() + 8),
              expected);
  }
  // 2^63 itself is one past int64's end; -2^63 is its lowest value.
  const Tensor edges = from_vector(std::vector<double>{0x1p63, -0x1p63}).to(kInt64);
  EXPECT_EQ(edges.data_ptr<int64_t>()[0], kInt64Max);
  EXPECT_EQ(edges.data_ptr<int64_t>()[1], kInt64Min);
}

// D5: NaN logits and weights went through fast_exp's float-to-int conversion.
TEST(HostileTensors, NanLogitsGiveNanNotUndefinedBehaviour) {
  const Tensor logits = from_vector(std::vector<float>{1.0f, NAN, 2.0f, 0.5f}).view({2, 2});
  const Tensor p = softmax(logits, 1);
  EXPECT_TRUE(std::isnan(p.data_ptr<float>()[0]));
  EXPECT_FLOAT_EQ(p.data_ptr<float>()[2] + p.data_ptr<float>()[3], 1.0f);
  const Tensor loss = cross_entropy(logits, from_vector(std::vector<int64_t>{0, 1}));
  EXPECT_TRUE(std::isnan(loss.item<double>()));
  EXPECT_TRUE(std::isnan(exp(logits).data_ptr<float>()[1]));
  EXPECT_TRUE(std::isnan(gelu(logits).data_ptr<float>()[1]));
}

}  // namespace
}  // namespace toadstool
