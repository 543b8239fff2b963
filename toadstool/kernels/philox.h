#pragma once
// Philox4x32-10, the counter-based generator of Salmon et al., "Parallel
// random numbers: as easy as 1, 2, 3" (SC 2011), as in Random123, cuRAND and
// PyTorch. A random block is a pure function of (counter, key), so any thread
// of either backend can compute the numbers of element i without a shared
// state, and the CPU and CUDA kernels produce the same numbers (the one
// caveat, the normals' last bit, is below).
//
// How a fill draws its numbers
// ----------------------------
// A fill of n elements with generator state (seed, offset) uses the key
// `seed` and the counter blocks offset, offset + 1, ... (low 64 counter bits;
// the high 64 bits, the "subsequence", are 0). Each block gives four 32-bit
// lanes w0..w3, and each kind of value takes a fixed number of values from one
// block (values_per_block):
//
//   kind            per block  element i uses block offset + i / k and
//   UniformFloat    4          lane i % 4 -> uniform_float
//   UniformDouble   2          lanes (2j, 2j + 1), j = i % 2 -> uniform_double
//   NormalFloat     4          pair j = (i % 4) / 2: radius from lane 2j,
//                              angle from lane 2j + 1; cos if i is even, sin
//                              if odd (both Box-Muller outputs are used)
//   NormalDouble    2          radius from lanes (0, 1), angle from lanes
//                              (2, 3); cos if i is even, sin if odd
//   Int64           2          lanes (2j, 2j + 1), j = i % 2 -> random_below
//   Bernoulli       4          lane i % 4 -> lane < bernoulli_threshold(p)
//   DropoutKeep     8          16-bit draw i % 8: lane (i % 8) / 2, its low
//                              half when i is even -> draw <
//                              dropout_threshold(1 - p) (dropout_draw)
//
// A call of n elements consumes philox_blocks_used(n, kind) = ceil(n / k)
// blocks, and the front-end advances the generator offset by that much. What
// is guaranteed:
//   * element i depends only on (seed, offset, i, kind, parameters), never on
//     the thread count or on how the range is split;
//   * a fill of m elements at offset o + d equals elements [k*d, k*d + m) of a
//     single larger fill at offset o. So two consecutive calls equal one big
//     call exactly when the first call's n is a multiple of k; otherwise the
//     unused lanes of its last block are skipped.
//
// Dropout keeps an element on a 16-bit draw, not a 32-bit one: the draws
// are the same Philox words read as 16-bit halves, so a mask costs half the
// blocks (Philox was about a sixth of the IMDB Transformer's training step,
// most of it dropout's). The keep probability is rounded up to a multiple of
// 2^-16 (p = 0.1 keeps 0.900009 of the elements); FlashAttention's dropout
// rounds it to 2^-8.
//
// Same numbers on both backends: the Philox words, uniform_float /
// uniform_double, random_below and the Bernoulli draws are exact integer or
// exactly rounded operations, so they are bit-identical. The affine steps use
// an explicit fma (nvcc would contract a*b+c into one anyway, GCC does on
// -march=native). The normal values go through log, sin and cos, whose last
// bit can differ between libm and the CUDA math library.
#include <cmath>
#include <cstdint>

#include "toadstool/kernels/host_device.h"

namespace toadstool::kernels {

struct Philox4x32 {
  uint32_t v[4];
};

namespace philox_detail {

inline constexpr uint32_t kMul0 = 0xD2511F53u;
inline constexpr uint32_t kMul1 = 0xCD9E8D57u;
inline constexpr uint32_t kWeyl0 = 0x9E3779B9u;  // golden ratio
inline constexpr uint32_t kWeyl1 = 0xBB67AE85u;  // sqrt(3) - 1

TS_HOST_DEVICE Philox4x32 round(const Philox4x32& c, uint32_t k0, uint32_t k1) {
  const uint64_t p0 = static_cast<uint64_t>(kMul0) * c.v[0];
  const uint64_t p1 = static_cast<uint64_t>(kMul1) * c.v[2];
  const auto hi = [](uint64_t p) { return static_cast<uint32_t>(p >> 32); };
  const auto lo = [](uint64_t p) { return static_cast<uint32_t>(p); };
  return {{hi(p1) ^ c.v[1] ^ k0, lo(p1), hi(p0) ^ c.v[3] ^ k1, lo(p0)}};
}

}  // namespace philox_detail

// Philox4x32 with 10 rounds. The 128-bit counter is the words
// {counter_lo, counter_lo >> 32, counter_hi, counter_hi >> 32} and the 64-bit
// key the words {key, key >> 32}, matching Random123's word order.
TS_HOST_DEVICE Philox4x32 philox4x32_10(uint64_t counter_lo, uint64_t counter_hi, uint64_t key) {
  Philox4x32 c{{static_cast<uint32_t>(counter_lo), static_cast<uint32_t>(counter_lo >> 32),
                static_cast<uint32_t>(counter_hi), static_cast<uint32_t>(counter_hi >> 32)}};
  uint32_t k0 = static_cast<uint32_t>(key);
  uint32_t k1 = static_cast<uint32_t>(key >> 32);
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      k0 += philox_detail::kWeyl0;
      k1 += philox_detail::kWeyl1;
    }
    c = philox_detail::round(c, k0, k1);
  }
  return c;
}

// ---- the fill mapping --------------------------------------------------------

enum class RandomKind {
  UniformFloat,
  UniformDouble,
  NormalFloat,
  NormalDouble,
  Int64,
  Bernoulli,
  DropoutKeep
};

// How many values of `kind` one counter block yields (k in the table above).
TS_HOST_DEVICE constexpr int values_per_block(RandomKind kind) {
  if (kind == RandomKind::DropoutKeep) return 8;
  return kind == RandomKind::UniformFloat || kind == RandomKind::NormalFloat ||
                 kind == RandomKind::Bernoulli
             ? 4
             : 2;
}

// Counter blocks a fill of n values of `kind` consumes: the amount the
// front-end must advance the generator offset by.
TS_HOST_DEVICE constexpr uint64_t philox_blocks_used(int64_t n, RandomKind kind) {
  const int64_t k = values_per_block(kind);
  return n <= 0 ? 0 : static_cast<uint64_t>((n + k - 1) / k);
}

// ---- words to numbers --------------------------------------------------------

inline constexpr float kTwoPiF = 6.28318530717958647692f;
inline constexpr double kTwoPi = 6.28318530717958647692;

// The top 24 bits as a float in [0, 1), step 2^-24: exact, never 1.0.
TS_HOST_DEVICE float uniform_float(uint32_t w) {
  return static_cast<float>(w >> 8) * 5.9604644775390625e-8f;
}

// Two words joined into 64 bits, top 53 kept: a double in [0, 1), step 2^-53.
TS_HOST_DEVICE double uniform_double(uint32_t lo, uint32_t hi) {
  const uint64_t bits = (static_cast<uint64_t>(hi) << 32) | lo;
  return static_cast<double>(bits >> 11) * 1.1102230246251565404e-16;
}

// Box-Muller radius sqrt(-2 log u) with u ~ (w + 1/2) 2^-32 in (0, 1]: the
// half step keeps log away from 0 (the top words round to u = 1, radius 0),
// and the full 32 bits reach |z| ~ 6.8 instead of the ~5.8 of 24 bits.
TS_HOST_DEVICE float box_muller_radius(uint32_t w) {
  const float u = static_cast<float>(w) * 2.3283064365386963e-10f + 1.16415321826934814e-10f;
  return std::sqrt(-2.0f * std::log(u));
}

// The double version: u = (53 bits + 1/2) 2^-53 in (0, 1], |z| up to ~8.7.
TS_HOST_DEVICE double box_muller_radius(uint32_t lo, uint32_t hi) {
  const uint64_t bits = (static_cast<uint64_t>(hi) << 32) | lo;
  const double u = (static_cast<double>(bits >> 11) + 0.5) * 1.1102230246251565404e-16;
  return std::sqrt(-2.0 * std::log(u));
}

// A standard normal pair (radius * cos, radius * sin) from one radius word
// and one angle word.
struct NormalPairF {
  float cos_part, sin_part;
};
TS_HOST_DEVICE NormalPairF box_muller(uint32_t radius_word, uint32_t angle_word) {
  const float r = box_muller_radius(radius_word);
  const float theta = kTwoPiF * uniform_float(angle_word);
  return {r * std::cos(theta), r * std::sin(theta)};
}

struct NormalPairD {
  double cos_part, sin_part;
};
// The double pair uses a whole block: radius from lanes 0-1, angle from 2-3.
TS_HOST_DEVICE NormalPairD box_muller(const Philox4x32& b) {
  const double r = box_muller_radius(b.v[0], b.v[1]);
  const double theta = kTwoPi * uniform_double(b.v[2], b.v[3]);
  return {r * std::cos(theta), r * std::sin(theta)};
}

// low + u (high - low) for u in [0, 1), kept below high: rounding can carry
// low + u*span up to high, and [low, high) must stay half-open. Needs
// low < high with high - low finite (the front-end checks); low == high
// gives low.
template <class T>
TS_HOST_DEVICE T scale_uniform(T u, T low, T high) {
  const T v = std::fma(u, high - low, low);
  return v < high || !(low < high) ? v : std::nextafter(high, low);
}

// 64 random bits (two words) to [0, span) by multiply-high, Lemire's
// rejection-free map. Each result's probability is within 2^-64 of 1/span,
// i.e. a relative bias of at most span / 2^64 (< 2.4e-10 for span <= 2^32).
TS_HOST_DEVICE uint64_t random_below(uint32_t lo, uint32_t hi, uint64_t span) {
  const uint64_t bits = (static_cast<uint64_t>(hi) << 32) | lo;
#if defined(__CUDA_ARCH__)
  return __umul64hi(bits, span);
#else
  return static_cast<uint64_t>((static_cast<unsigned __int128>(bits) * span) >> 64);
#endif
}

// A Bernoulli draw is `word < bernoulli_threshold(p)`, i.e. u < p for
// u = word 2^-32: P(1) = ceil(p 2^32) / 2^32, within 2^-32 of p. p <= 0 (and
// NaN) never fires, p >= 1 always does.
TS_HOST_DEVICE uint64_t bernoulli_threshold(double p) {
  if (!(p > 0.0)) return 0;
  if (p >= 1.0) return uint64_t{1} << 32;
  return static_cast<uint64_t>(std::ceil(p * 4294967296.0));
}

// Dropout's draw j (0..7) of a block: the 16-bit halves of its words in
// order, low half first (on a little-endian CPU, the words' bytes read as
// uint16 values).
TS_HOST_DEVICE uint32_t dropout_draw(const Philox4x32& b, int j) {
  return (b.v[j / 2] >> (16 * (j % 2))) & 0xffffu;
}

// An element is kept when its draw is below dropout_threshold(keep), the
// keep probability 1 - p rounded up to a multiple of 2^-16: P(keep) =
// ceil(keep 2^16) / 2^16, at least 2^-16 for any keep > 0. keep <= 0 (and
// NaN) keeps nothing, keep >= 1 everything.
TS_HOST_DEVICE uint32_t dropout_threshold(double keep) {
  if (!(keep > 0.0)) return 0;
  if (keep >= 1.0) return 65536;
  return static_cast<uint32_t>(std::ceil(keep * 65536.0));
}

}  // namespace toadstool::kernels
