#pragma once
// Branch-free float32 exp, tanh and erf that compilers vectorize (the libm
// versions are opaque calls, so a loop over std::exp runs one element at a
// time). Each is a range reduction or clamp plus polynomials, with selects
// instead of branches. Written once for both backends.
//
// Accuracy, checked against double-precision libm by tests/tensor/test_fast_math.cpp:
//   fast_exp   ~2 ulp; 0 below -87.3 (no subnormal results), inf above 88.72
//   fast_tanh  ~3e-7 absolute; exactly +-1 beyond 9
//   fast_erf   ~3e-7 absolute
//   fast_exp_nonpositive (x <= 0) ~2 ulp; erfc_nonnegative ~4e-7 absolute
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "toadstool/kernels/host_device.h"

namespace toadstool::kernels {

TS_HOST_DEVICE float bits_to_float(int32_t bits) {
#if defined(__CUDA_ARCH__)
  return __int_as_float(bits);
#else
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
#endif
}

TS_HOST_DEVICE uint32_t float_to_bits(float f) {
#if defined(__CUDA_ARCH__)
  return static_cast<uint32_t>(__float_as_int(f));
#else
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
#endif
}

// e^x = 2^n e^r with n = round(x / ln2), |r| <= ln2 / 2; e^r by a degree-6
// polynomial (Cephes' expf coefficients). For x within fast_exp's clamp.
struct ExpSplit {
  int32_t n;          // the power of two
  float exp_of_rest;  // e^r
};
TS_HOST_DEVICE ExpSplit exp_split(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;  // ln2 split in two so n * hi is exact
  constexpr float kLn2Lo = -2.12194440e-4f;
  constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  // In [2^23, 2^24) a float's last mantissa bit is worth 1, so `shifted`
  // holds n in its low bits: n is read from the bits, with no float-to-int
  // conversion (undefined for NaN, which fast_exp_nonpositive lets through).
  const float shifted = x * kLog2e + kRoundMagic;
  const float n = shifted - kRoundMagic;
  const float r = (x - n * kLn2Hi) - n * kLn2Lo;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  return {static_cast<int32_t>(float_to_bits(shifted) - float_to_bits(kRoundMagic)),
          p * r * r + r + 1.0f};
}

// Below kExpLowest e^x is under float's normal range (both exps return 0);
// above kExpHighest it overflows (fast_exp returns inf).
constexpr float kExpLowest = -87.3f;
constexpr float kExpHighest = 88.72f;

// 2^n as a float, for whole n in [-126, 127] (the normal exponents); in
// unsigned arithmetic, so that the garbage n of a NaN input cannot overflow.
TS_HOST_DEVICE float exp2_whole(int32_t n) {
  return bits_to_float(static_cast<int32_t>((static_cast<uint32_t>(n) + 127u) << 23));
}

// e^x for any float.
TS_HOST_DEVICE float fast_exp(float x) {
  const float clamped = x < kExpLowest ? kExpLowest : (x > kExpHighest ? kExpHighest : x);
  const ExpSplit e = exp_split(clamped);
  // 2^n as 2^h * 2^(n-h) with h = n / 2: both halves stay normal floats for
  // every n the clamp allows (-126 ... 128), where 2^n alone would not.
  const int32_t half = e.n >> 1;
  float result = e.exp_of_rest * exp2_whole(half) * exp2_whole(e.n - half);
  result = x < kExpLowest ? 0.0f : result;
  result = x > kExpHighest ? std::numeric_limits<float>::infinity() : result;
  return x != x ? x : result;  // NaN stays NaN
}

// e^x for x <= 0 (a Gaussian's e^(-x^2 / 2), x - max): fast_exp without the
// overflow side, so 2^n is one normal float and NaN needs no select (it
// reaches the polynomial, whose NaN the product keeps). A third fewer
// instructions than fast_exp. Still right for a rounding-sized positive x
// (attention's recomputed scores minus their logsumexp), up to x = 88;
// beyond that the result is garbage.
TS_HOST_DEVICE float fast_exp_nonpositive(float x) {
  const float clamped = x < kExpLowest ? kExpLowest : x;
  const ExpSplit e = exp_split(clamped);
  const float result = e.exp_of_rest * exp2_whole(e.n);
  return x < kExpLowest ? 0.0f : result;
}

// tanh as an odd rational minimax approximation on [-7.99, 7.99] (outside it
// tanh is +-1 in float); tiny inputs return x itself. Coefficients: Eigen's
// generic_fast_tanh_float.
TS_HOST_DEVICE float fast_tanh(float x) {
  const float c = x < -7.99881172f ? -7.99881172f : (x > 7.99881172f ? 7.99881172f : x);
  const float x2 = c * c;
  float p = -2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 - 8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  p = p * c;
  float q = 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  const float ax = std::fabs(x);
  // Past 9, tanh rounds to exactly +-1 in float; the rational form stops a
  // hair short, which 1 - tanh^2 (GELU's derivative) would magnify.
  const float result = ax > 9.0f ? (x < 0 ? -1.0f : 1.0f) : p / q;
  return ax < 0.0004f ? x : result;  // also keeps NaN
}

// erf as an odd rational minimax approximation on (-4, 4); from |x| = 4 on
// exactly +-1 (erf(4) rounds to 1 in float): the rational function there is
// only within 4e-7 of it, and its last bit differs where a compiler fuses
// the multiply-adds (nvcc does), which GELU(-100) = x (1 + erf) would
// magnify to 6e-6 (and GELU(-inf) to inf instead of NaN).
// Coefficients: Eigen's generic_fast_erf_float.
TS_HOST_DEVICE float fast_erf(float x) {
  const float c = x < -4.0f ? -4.0f : (x > 4.0f ? 4.0f : x);
  const float x2 = c * c;
  float p = -2.72614225801306e-10f;
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 - 2.10102402082508e-06f;
  p = p * x2 - 5.69250639462346e-05f;
  p = p * x2 - 7.34990630326855e-04f;
  p = p * x2 - 2.95459980854025e-03f;
  p = p * x2 - 1.60960333262415e-02f;
  p = p * c;
  float q = -1.45660718464996e-05f;
  q = q * x2 - 2.13374055278905e-04f;
  q = q * x2 - 1.68282697438203e-03f;
  q = q * x2 - 7.37332916720468e-03f;
  q = q * x2 - 1.42647390514189e-02f;
  // NaN fails both comparisons and passes through the polynomials.
  return x <= -4.0f ? -1.0f : (x >= 4.0f ? 1.0f : p / q);
}

// erfc(z) for z >= 0, given g = e^(-z^2) (a caller that needs the Gaussian
// anyway, as GELU's derivative does, then pays for no second exponential):
// Abramowitz & Stegun 7.1.26, erfc(z) = g * t * P(t) with t = 1 / (1 + p z),
// absolute error under 1.5e-7 before rounding.
TS_HOST_DEVICE float erfc_nonnegative(float z, float g) {
  const float t = 1.0f / (1.0f + 0.3275911f * z);
  float p = 1.061405429f;
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  return p * t * g;
}

// Overloads the element-wise functors call: float gets the vectorizable
// versions above, double keeps libm's (float64 is the reference dtype).
TS_HOST_DEVICE float vexp(float x) { return fast_exp(x); }
TS_HOST_DEVICE float vtanh(float x) { return fast_tanh(x); }
TS_HOST_DEVICE float verf(float x) { return fast_erf(x); }
TS_HOST_DEVICE double vexp(double x) { return std::exp(x); }
TS_HOST_DEVICE double vtanh(double x) { return std::tanh(x); }
TS_HOST_DEVICE double verf(double x) { return std::erf(x); }
// e^x where x <= 0 by construction (x - max, x - logsumexp, -|u|): the
// softmax, cross-entropy and attention loops, a third fewer instructions.
TS_HOST_DEVICE float vexp_nonpositive(float x) { return fast_exp_nonpositive(x); }
TS_HOST_DEVICE double vexp_nonpositive(double x) { return std::exp(x); }

}  // namespace toadstool::kernels
