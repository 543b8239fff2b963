#include "toadstool/kernels/cpu/dropout.h"

#include <algorithm>
#include <type_traits>

#if defined(__AVX512BW__)
#include <immintrin.h>
#endif

#include "toadstool/kernels/cpu/parallel.h"
#include "toadstool/kernels/cpu/random.h"
#include "toadstool/kernels/cpu/rounded_store.h"
#include "toadstool/kernels/philox.h"
#include "toadstool/kernels/random_values.h"

namespace toadstool::kernels::cpu {

DropoutDraws* dropout_draws(uint64_t seed, uint64_t offset, int64_t first, int64_t n,
                            uint32_t* words) {
  const int64_t skip = first % kDropoutDraws;
  philox_words(offset + static_cast<uint64_t>(first / kDropoutDraws),
               (skip + n + kDropoutDraws - 1) / kDropoutDraws, seed, words);
  return reinterpret_cast<DropoutDraws*>(words) + skip;
}

namespace {

// Draws written into the chunk buffer (uint32_t words, read as DropoutDraws).
using DrawSlots = uint16_t __attribute__((may_alias));

// The chunk buffer's draws: kDropoutDraws * kPhiloxChunkBlocks 16-bit slots,
// a whole number of 64-element words of keep bits.
constexpr int64_t kChunkSlots = kDropoutDraws * kPhiloxChunkBlocks;
static_assert(kChunkSlots % 64 == 0);

// Draws d[0, 64) standing for a word of keep bits: a kept element's 0, a
// dropped one's 0xFFFF, which the threshold decides alike (a dropped draw
// was at least the threshold, so the threshold is at most 0xFFFF).
inline void draws_of_word(uint64_t word, DrawSlots* d) {
#if defined(__AVX512BW__)
  _mm512_storeu_si512(d, _mm512_movm_epi16(static_cast<__mmask32>(~word)));
  _mm512_storeu_si512(d + 32, _mm512_movm_epi16(static_cast<__mmask32>(~word >> 32)));
#else
  for (int j = 0; j < 64; ++j) d[j] = static_cast<uint16_t>(((word >> j) & 1U) - 1U);
#endif
}

// The draws of elements [g, g + len) (g a multiple of 64, len at most
// kChunkSlots) in `words`: from Philox, their keep bits written when the
// mask has bits to fill, or made from bits drawn before.
DropoutDraws* chunk_draws(const DropoutMask& mask, uint32_t threshold, int64_t g, int64_t len,
                          uint32_t* words) {
  uint64_t* bits = mask.keep_bits == nullptr ? nullptr : mask.keep_bits + g / 64;
  if (bits != nullptr && mask.keep_bits_drawn) {
    auto* d = reinterpret_cast<DrawSlots*>(words);
    for (int64_t w = 0; w * 64 < len; ++w) draws_of_word(bits[w], d + w * 64);
    return d;
  }
  DropoutDraws* d = dropout_draws(mask.seed, mask.offset, g, len, words);
  if (bits != nullptr) {
    for (int64_t w = 0; w * 64 < len; ++w) bits[w] = dropout_keep_word(d + w * 64, threshold);
  }
  return d;
}

}  // namespace

template <class Out, class In>
void dropout_span(Out* out, const In* in, const Out* residual, int64_t first, int64_t n,
                  const DropoutMask& mask) {
  // The dropout's own dtype: In = Out's, or float32 between a 16-bit type
  // and float32.
  using T = std::conditional_t<std::is_same_v<In, Out>, Out, float>;
  const uint32_t threshold = dropout_threshold(1.0 - mask.p);
  const auto keep_scale = static_cast<T>(1.0 / (1.0 - mask.p));
  uint32_t words[kChunkSlots / 2];
  T dropped[kChunkSlots];  // NOLINT(*-avoid-c-arrays): a chunk's dropout(x) before the add
  // Up to kPhiloxChunkBlocks blocks of draws at a time, each chunk ending on
  // a block boundary (or at the span's end).
  int64_t len = 0;
  for (int64_t e0 = 0; e0 < n; e0 += len) {
    const int64_t g = first + e0;  // the chunk's first element in the whole tensor
    len = std::min(n - e0, kChunkSlots - g % kDropoutDraws);
    DropoutDraws* d = chunk_draws(mask, threshold, g, len, words);
    Out* o = out + e0;
    const In* x = in + e0;
    if (residual == nullptr && std::is_same_v<T, Out>) {
#pragma omp simd
      for (int64_t e = 0; e < len; ++e) {
        o[e] = static_cast<Out>(dropout_value(static_cast<T>(x[e]), d[e], threshold, keep_scale));
      }
      continue;
    }
    // Two passes through `dropped`, the second storing 16-bit results as
    // bits (store_rounded): GCC left the one-loop form with struct stores scalar.
#pragma omp simd
    for (int64_t e = 0; e < len; ++e) {
      dropped[e] = dropout_value(static_cast<T>(x[e]), d[e], threshold, keep_scale);
    }
    if (residual != nullptr) {
      const Out* r = residual + e0;
#pragma omp simd
      for (int64_t e = 0; e < len; ++e) store_rounded(o, e, r[e] + dropped[e]);
    } else {
#pragma omp simd
      for (int64_t e = 0; e < len; ++e) store_rounded(o, e, dropped[e]);
    }
  }
}

template void dropout_span(Half*, const Half*, const Half*, int64_t, int64_t, const DropoutMask&);
template void dropout_span(BFloat16*, const BFloat16*, const BFloat16*, int64_t, int64_t,
                           const DropoutMask&);
template void dropout_span(float*, const float*, const float*, int64_t, int64_t,
                           const DropoutMask&);
template void dropout_span(double*, const double*, const double*, int64_t, int64_t,
                           const DropoutMask&);
template void dropout_span(float*, const BFloat16*, const float*, int64_t, int64_t,
                           const DropoutMask&);
template void dropout_span(float*, const Half*, const float*, int64_t, int64_t, const DropoutMask&);
template void dropout_span(BFloat16*, const float*, const BFloat16*, int64_t, int64_t,
                           const DropoutMask&);
template void dropout_span(Half*, const float*, const Half*, int64_t, int64_t, const DropoutMask&);

namespace {

// Threads take groups of 64 elements: a word of keep bits each.
template <class T>
void dropout_impl(T* out, const T* in, const T* residual, int64_t n, const DropoutMask& mask) {
  constexpr int64_t kGroup = 64;
  static_assert(kGroup % kDropoutDraws == 0);
  parallel_for(0, dropout_keep_words(n), kPhiloxBlockGrain * kDropoutDraws / kGroup,
               [&](int64_t begin, int64_t end) {
                 const int64_t first = kGroup * begin;
                 const int64_t len = std::min(kGroup * end, n) - first;
                 dropout_span(out + first, in + first,
                              residual != nullptr ? residual + first : nullptr, first, len, mask);
               });
}

}  // namespace

void dropout(Half* out, const Half* in, const Half* residual, int64_t n, const DropoutMask& mask) {
  dropout_impl(out, in, residual, n, mask);
}
void dropout(BFloat16* out, const BFloat16* in, const BFloat16* residual, int64_t n,
             const DropoutMask& mask) {
  dropout_impl(out, in, residual, n, mask);
}
void dropout(float* out, const float* in, const float* residual, int64_t n,
             const DropoutMask& mask) {
  dropout_impl(out, in, residual, n, mask);
}
void dropout(double* out, const double* in, const double* residual, int64_t n,
             const DropoutMask& mask) {
  dropout_impl(out, in, residual, n, mask);
}

}  // namespace toadstool::kernels::cpu
