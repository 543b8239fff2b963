#pragma once
// Integer arithmetic and float-to-integer conversions that can neither
// overflow nor be undefined, for numbers that come from outside: sizes made
// from the shapes a user or a file gives, counters read back from saved
// state, floats converted to integers. Each answers "does it fit" before any
// conversion happens; the callers turn a "no" into an Error naming the op and
// the values.
#include <cmath>
#include <cstdint>
#include <optional>

namespace toadstool {

// The largest count that saved state may hold (epochs, steps, waits): 2^53,
// the largest whole number a double holds exactly (PyTorch saves Adam's step
// as a float tensor; JSON readers keep numbers as doubles), and far enough
// from int64's end that incrementing a restored counter never overflows.
inline constexpr int64_t kMaxSavedCount = int64_t{1} << 53;

// a * b, or nothing when it overflows int64.
inline std::optional<int64_t> checked_mul(int64_t a, int64_t b) {
  int64_t product = 0;
  if (__builtin_mul_overflow(a, b, &product)) return std::nullopt;
  return product;
}

// True when v truncated toward zero is an int64: false for NaN, infinities
// and |v| >= 2^63 (where the conversion is undefined behaviour in C++).
inline bool fits_int64(double v) { return v >= -0x1p63 && v < 0x1p63; }

// v as an int64 when it is a whole number in [lo, hi]; nothing for NaN,
// infinities, fractions and anything outside the range.
inline std::optional<int64_t> whole_number_in(double v, int64_t lo, int64_t hi) {
  if (!fits_int64(v) || std::trunc(v) != v) return std::nullopt;
  const auto n = static_cast<int64_t>(v);
  if (n < lo || n > hi) return std::nullopt;
  return n;
}

}  // namespace toadstool
