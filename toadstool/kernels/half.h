#pragma once
// The 16-bit float storage types: Half (IEEE 754 binary16) and BFloat16 (the
// top half of a binary32). Arithmetic goes through float; these types only
// store. The conversions are integer bit manipulation, written once for both
// backends, so a value converts to the same bits on the CPU and the GPU with
// or without F16C, and whatever the FTZ mode.
//
// float -> 16 bits: round to nearest, ties to even; overflow gives inf; NaN
// stays NaN with the quiet bit set and the sign and top payload bits kept;
// binary16 subnormals are rounded correctly. 16 bits -> float is exact (a
// signalling Half NaN comes back quiet, as with F16C).
#include <cstdint>

#include "toadstool/kernels/host_device.h"

#if !defined(__CUDA_ARCH__)
#include <cstring>
#endif

namespace toadstool {

namespace half_detail {

TS_HOST_DEVICE uint32_t bits_of(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t bits;  // memcpy, not std::bit_cast: nvcc compiles the host side as C++17
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
#endif
}

TS_HOST_DEVICE float float_of(uint32_t bits) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
#endif
}

// Shifts right by `shift` (1..31), rounding to nearest, ties to even: adding
// just under half a unit, plus the kept lsb, carries exactly when it should.
TS_HOST_DEVICE uint32_t shift_right_rne(uint32_t x, uint32_t shift) {
  return (x + (1u << (shift - 1)) - 1u + ((x >> shift) & 1u)) >> shift;
}

}  // namespace half_detail

TS_HOST_DEVICE uint16_t float_to_half_bits(float f) {
  const uint32_t x = half_detail::bits_of(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t magnitude = x & 0x7fffffffu;
  uint32_t h;
  if (magnitude > 0x7f800000u) {  // NaN
    h = 0x7e00u | ((magnitude >> 13) & 0x3ffu);
  } else if (magnitude >= 0x477ff000u) {  // >= 65520, halfway past the max 65504: inf
    h = 0x7c00u;
  } else if (magnitude >= 0x38800000u) {  // >= 2^-14: normal; rebias 127 -> 15
    h = half_detail::shift_right_rne(magnitude - 0x38000000u, 13);
  } else {
    // Subnormal or zero: the value in units of 2^-24 is the 24-bit
    // significand shifted right by 126 - exponent. Below 2^-25 everything
    // rounds to zero, which a shift of 25 already gives.
    const uint32_t exponent = magnitude >> 23;
    const uint32_t shift = exponent < 101u ? 25u : 126u - exponent;
    h = half_detail::shift_right_rne((magnitude & 0x7fffffu) | 0x800000u, shift);
  }
  return static_cast<uint16_t>(sign | h);
}

TS_HOST_DEVICE float half_bits_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in float
    const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return half_detail::float_of(sign | half_detail::bits_of(magnitude));
  }
  if (exponent == 0x1fu) {  // inf, or NaN made quiet
    const uint32_t quiet = mantissa != 0 ? 0x400000u : 0u;
    return half_detail::float_of(sign | 0x7f800000u | quiet | (mantissa << 13));
  }
  return half_detail::float_of(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

TS_HOST_DEVICE uint16_t float_to_bfloat16_bits(float f) {
  const uint32_t x = half_detail::bits_of(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // NaN
  // Round to nearest even on bit 16; a carry out of the mantissa bumps the
  // exponent, and out of the largest finite value gives inf, as it should.
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

TS_HOST_DEVICE float bfloat16_bits_to_float(uint16_t b) {
  return half_detail::float_of(static_cast<uint32_t>(b) << 16);
}

struct Half {
  uint16_t bits;

  Half() = default;
  TS_HOST_DEVICE explicit Half(float f) : bits(float_to_half_bits(f)) {}
  TS_HOST_DEVICE operator float() const { return half_bits_to_float(bits); }

  TS_HOST_DEVICE static constexpr Half from_bits(uint16_t b) {
    Half h{};
    h.bits = b;
    return h;
  }
};

struct BFloat16 {
  uint16_t bits;

  BFloat16() = default;
  TS_HOST_DEVICE explicit BFloat16(float f) : bits(float_to_bfloat16_bits(f)) {}
  TS_HOST_DEVICE operator float() const { return bfloat16_bits_to_float(bits); }

  TS_HOST_DEVICE static constexpr BFloat16 from_bits(uint16_t b) {
    BFloat16 h{};
    h.bits = b;
    return h;
  }
};

static_assert(sizeof(Half) == 2 && sizeof(BFloat16) == 2);

}  // namespace toadstool
