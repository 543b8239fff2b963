// Half and BFloat16 conversions: exhaustive round trips, the rounding edge
// cases, and agreement with the F16C hardware conversion.
#include <cpuid.h>
#include <gtest/gtest.h>
#include <immintrin.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "toadstool/kernels/half.h"
#include "toadstool/kernels/math.h"

namespace toadstool {
namespace {

uint16_t half_bits(float f) { return Half(f).bits; }
uint16_t bf16_bits(float f) { return BFloat16(f).bits; }
uint32_t bits_of(float f) { return std::bit_cast<uint32_t>(f); }

bool is_half_nan(uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0; }
bool is_bf16_nan(uint16_t b) { return (b & 0x7f80u) == 0x7f80u && (b & 0x7fu) != 0; }

TEST(Half, RoundTripsEveryBitPattern) {
  for (uint32_t i = 0; i < 65536; ++i) {
    const auto h = static_cast<uint16_t>(i);
    const float f = Half::from_bits(h);
    if (is_half_nan(h)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << i;
      // NaN comes back quiet, with its sign and payload.
      ASSERT_EQ(half_bits(f), h | 0x200u) << std::hex << i;
    } else {
      ASSERT_EQ(half_bits(f), h) << std::hex << i;
    }
  }
}

TEST(BFloat16, RoundTripsEveryBitPattern) {
  for (uint32_t i = 0; i < 65536; ++i) {
    const auto b = static_cast<uint16_t>(i);
    const float f = BFloat16::from_bits(b);
    ASSERT_EQ(bits_of(f), i << 16) << std::hex << i;  // widening is exact
    if (is_bf16_nan(b)) {
      ASSERT_EQ(bf16_bits(f), b | 0x40u) << std::hex << i;
    } else {
      ASSERT_EQ(bf16_bits(f), b) << std::hex << i;
    }
  }
}

TEST(Half, RoundsToNearestEven) {
  const float ulp_at_one = std::ldexp(1.0f, -10);
  EXPECT_EQ(half_bits(1.0f + ulp_at_one / 2), 0x3c00);      // tie, down to even
  EXPECT_EQ(half_bits(1.0f + 3 * ulp_at_one / 2), 0x3c02);  // tie, up to even
  EXPECT_EQ(half_bits(std::nextafter(1.0f + ulp_at_one / 2, 2.0f)), 0x3c01);
  EXPECT_EQ(half_bits(-1.0f - ulp_at_one / 2), 0xbc00);
}

TEST(Half, Overflow) {
  EXPECT_EQ(half_bits(65504.0f), 0x7bff);  // max finite
  EXPECT_EQ(half_bits(std::nextafter(65520.0f, 0.0f)), 0x7bff);
  EXPECT_EQ(half_bits(65520.0f), 0x7c00);  // the tie rounds to even: 2^16, inf
  EXPECT_EQ(half_bits(1e6f), 0x7c00);
  EXPECT_EQ(half_bits(-1e6f), 0xfc00);
  EXPECT_EQ(half_bits(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(half_bits(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_EQ(half_bits(std::numeric_limits<float>::max()), 0x7c00);
}

TEST(Half, SubnormalsAndUnderflow) {
  const float tiny = std::ldexp(1.0f, -24);  // smallest half subnormal
  EXPECT_EQ(half_bits(tiny), 0x0001);
  EXPECT_EQ(static_cast<float>(Half::from_bits(0x0001)), tiny);
  EXPECT_EQ(half_bits(tiny / 2), 0x0000);  // tie, down to even zero
  EXPECT_EQ(half_bits(std::nextafter(tiny / 2, 1.0f)), 0x0001);
  EXPECT_EQ(half_bits(3 * tiny / 2), 0x0002);           // tie, up to even
  EXPECT_EQ(half_bits(1023.5f * tiny), 0x0400);         // carries into the smallest normal
  EXPECT_EQ(half_bits(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(half_bits(1e-10f), 0x0000);
  EXPECT_EQ(half_bits(-1e-10f), 0x8000);
  EXPECT_EQ(half_bits(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(half_bits(0.0f), 0x0000);
  EXPECT_EQ(half_bits(-0.0f), 0x8000);
  EXPECT_TRUE(std::signbit(static_cast<float>(Half::from_bits(0x8000))));
}

TEST(Half, NaNStaysQuietNaN) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(is_half_nan(half_bits(nan)));
  EXPECT_TRUE(half_bits(nan) & 0x200u);
  const float signalling = std::bit_cast<float>(0xff800001u);  // payload below the kept bits
  EXPECT_EQ(half_bits(signalling), 0xfe00);
}

TEST(BFloat16, RoundingCases) {
  EXPECT_EQ(bf16_bits(1.0f), 0x3f80);
  EXPECT_EQ(bf16_bits(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie, down to even
  EXPECT_EQ(bf16_bits(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie, up to even
  EXPECT_EQ(bf16_bits(std::bit_cast<float>(0x3f808001u)), 0x3f81);
  EXPECT_EQ(bf16_bits(std::numeric_limits<float>::max()), 0x7f80);  // overflow to inf
  EXPECT_EQ(bf16_bits(-std::numeric_limits<float>::max()), 0xff80);
  EXPECT_EQ(bf16_bits(std::bit_cast<float>(0x7f7f7fffu)), 0x7f7f);  // max finite stays
  EXPECT_EQ(bf16_bits(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(bf16_bits(std::bit_cast<float>(0x00018000u)), 0x0002);  // subnormal tie
  EXPECT_EQ(bf16_bits(-0.0f), 0x8000);
  EXPECT_EQ(bf16_bits(std::bit_cast<float>(0x7f800001u)), 0x7fc0);  // sNaN made quiet
  EXPECT_TRUE(is_bf16_nan(bf16_bits(std::numeric_limits<float>::quiet_NaN())));
}

TEST(Half, ConstructorsAndConversions) {
  const Half h(2.5f);
  EXPECT_EQ(h.bits, 0x4100);
  EXPECT_EQ(static_cast<float>(h), 2.5f);
  EXPECT_EQ(Half(0.5).bits, 0x3800);  // from double, through float
  const BFloat16 b(2.5f);
  EXPECT_EQ(static_cast<float>(b), 2.5f);
  EXPECT_EQ(BFloat16::from_bits(0x4020).bits, 0x4020);
}

// The hardware conversions, compiled for F16C whatever the build's target
// and run only where the CPU has it.
__attribute__((target("f16c"))) uint16_t f16c_half_bits(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}
__attribute__((target("f16c"))) float f16c_float(uint16_t h) { return _cvtsh_ss(h); }

// CPUID leaf 1, ECX bit 29 (not every compiler's __builtin_cpu_supports
// knows "f16c").
bool cpu_has_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & (1u << 29)) != 0;
}
#define SKIP_WITHOUT_F16C() \
  if (!cpu_has_f16c()) GTEST_SKIP() << "this CPU has no F16C"
void expect_matches_f16c(float f) {
  ASSERT_EQ(half_bits(f), f16c_half_bits(f)) << std::hex << bits_of(f);
}

TEST(Half, WideningMatchesF16C) {
  SKIP_WITHOUT_F16C();
  for (uint32_t i = 0; i < 65536; ++i) {
    const auto h = static_cast<uint16_t>(i);
    ASSERT_EQ(bits_of(Half::from_bits(h)), bits_of(f16c_float(h))) << std::hex << i;
  }
}

// Every rounding boundary: for each pair of neighbouring halves, the float
// midpoint (exact: it needs 12 significant bits) and the floats either side.
TEST(Half, NarrowingMatchesF16CAtEveryBoundary) {
  SKIP_WITHOUT_F16C();
  for (uint32_t i = 0; i < 0x7c00; ++i) {
    for (const float sign : {1.0f, -1.0f}) {
      const float a = sign * static_cast<float>(Half::from_bits(static_cast<uint16_t>(i)));
      const float b = sign * static_cast<float>(Half::from_bits(static_cast<uint16_t>(i + 1)));
      const float mid = a + (b - a) / 2;
      for (const float f : {a, mid, std::nextafter(mid, a), std::nextafter(mid, b)}) {
        expect_matches_f16c(f);
      }
    }
  }
}

// relu's backward on the 16-bit floats' bits (kernels/math.h) passes the
// gradient exactly where the value, widened, is > 0: every bit pattern
// (zeros of both signs, subnormals, infinities, NaNs).
template <class T>
void expect_relu_backward_on_bits_matches_float() {
  const T grad = T(1.5f);
  for (uint32_t i = 0; i < 65536; ++i) {
    const T y = T::from_bits(static_cast<uint16_t>(i));
    const uint16_t want = static_cast<float>(y) > 0.0f ? grad.bits : uint16_t{0};
    ASSERT_EQ(kernels::ReluBackwardOp<T>{}(grad, y).bits, want) << std::hex << i;
  }
}

TEST(Half, ReluBackwardOnBitsMatchesFloat) { expect_relu_backward_on_bits_matches_float<Half>(); }
TEST(BFloat16, ReluBackwardOnBitsMatchesFloat) {
  expect_relu_backward_on_bits_matches_float<BFloat16>();
}

// A strided sweep over all 2^32 float patterns: NaNs, infinities, float
// subnormals and everything far outside the half range.
TEST(Half, NarrowingMatchesF16COverStridedSweep) {
  SKIP_WITHOUT_F16C();
  constexpr uint64_t kStride = 251;  // odd, so every low-bit pattern turns up
  for (uint64_t x = 0; x < (uint64_t{1} << 32); x += kStride) {
    expect_matches_f16c(std::bit_cast<float>(static_cast<uint32_t>(x)));
  }
}

}  // namespace
}  // namespace toadstool
