#pragma once
// float32 lanes to and from bfloat16 in hand-written AVX-512 loops (the
// bfloat16 GEMM's store, attention's bfloat16 score rows), each lane
// exactly as its scalar twin in kernels/half.h converts it. AVX-512 F and
// BW only.
#if defined(__AVX512F__) && defined(__AVX512BW__)

#include <immintrin.h>

#include <cstdint>

namespace toadstool::kernels::cpu {

// The lanes of a 16-column segment that starts `first` columns into a row
// (or tile) of `cols` columns.
inline __mmask16 bf16_lanes(int64_t cols, int64_t first) {
  const int64_t n = cols - first;
  if (n >= 16) return static_cast<__mmask16>(0xFFFF);
  return n <= 0 ? static_cast<__mmask16>(0) : static_cast<__mmask16>((1u << n) - 1);
}

// float32 -> bfloat16 as float_to_bfloat16_bits rounds (to nearest even,
// NaN made quiet, subnormals kept, which VCVTNEPS2BF16 flushes), the result
// in the high half of each 32-bit lane (the low half is garbage).
[[gnu::always_inline]] inline __m512i bf16_round_exact_high(__m512 v) {
  const __m512i x = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_add_epi32(x, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lsb));
  const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(x, _mm512_set1_epi32(0x7fffffff)),
                                                _mm512_set1_epi32(0x7f800000));
  // A NaN keeps its top half with the quiet bit (bit 6 of the half) set.
  return _mm512_mask_or_epi32(rounded, nan, x, _mm512_set1_epi32(0x00400000));
}

// The same for 32 lanes (lanes 0-15 in low, 16-31 in high) as one register
// of 32 bfloat16 bits in lane order: the high halves gathered by one
// VPERMT2W (cheaper than two VPMOVDW on Zen 4).
[[gnu::always_inline]] inline __m512i bf16_round_exact_x32(__m512 low, __m512 high) {
  const __m512i odd_words =
      _mm512_set_epi16(63, 61, 59, 57, 55, 53, 51, 49, 47, 45, 43, 41, 39, 37, 35, 33, 31, 29, 27,
                       25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  return _mm512_permutex2var_epi16(bf16_round_exact_high(low), odd_words,
                                   bf16_round_exact_high(high));
}

// bfloat16 bits -> float32 (exact: the 16 bits become the top half).
[[gnu::always_inline]] inline __m512 bf16_widen_bits(__m256i h) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

}  // namespace toadstool::kernels::cpu

#endif
