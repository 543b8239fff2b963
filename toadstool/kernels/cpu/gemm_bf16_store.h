#pragma once
// The micro-kernels' epilogue (gemm_bf16_avx512.cpp, gemm_bf16_amx.cpp):
// 16 float32 sums of one tile row into the output of gemm_bf16_packed.h.
// Only in the AVX-512 build of the CPU kernels, and only called from
// functions compiled for AVX512-BF16 (VCVTNEPS2BF16 rounds to nearest even,
// as BFloat16(float) does, but flushes subnormal results to zero).
#include "toadstool/kernels/cpu/gemm_bf16_packed.h"

#if TOADSTOOL_BF16_KERNELS

#include <immintrin.h>

#include <array>
#include <cstdint>

namespace toadstool::kernels::cpu {

// bfloat16 -> float32 is exact: the 16 bits become the top half.
[[gnu::always_inline]] __attribute__((target("avx512bf16"))) inline __m512 bf16_widen(__m256bh h) {
  return _mm512_castsi512_ps(
      _mm512_slli_epi32(_mm512_cvtepu16_epi32(reinterpret_cast<__m256i>(h)), 16));
}
// float32 -> bfloat16 as BFloat16(float) rounds (float_to_bfloat16_bits: to
// nearest even, NaN made quiet, subnormals kept, which VCVTNEPS2BF16 flushes).
[[gnu::always_inline]] __attribute__((target("avx512bf16"))) inline __m256bh bf16_round_exact(
    __m512 r) {
  const __m512i x = _mm512_castps_si512(r);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
  const __m512i rounded =
      _mm512_srli_epi32(_mm512_add_epi32(x, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lsb)), 16);
  const __m512i quiet_nan = _mm512_or_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(0x40));
  const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(x, _mm512_set1_epi32(0x7fffffff)),
                                                _mm512_set1_epi32(0x7f800000));
  return reinterpret_cast<__m256bh>(
      _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(nan, rounded, quiet_nan)));
}
[[gnu::always_inline]] __attribute__((target("avx512bf16"))) inline __m512 bf16_load_row(
    const uint16_t* p, __mmask16 mask) {
  return bf16_widen(reinterpret_cast<__m256bh>(_mm256_maskz_loadu_epi16(mask, p)));
}

// The lanes of a 16-column segment that starts `first` columns into a tile
// of `cols` columns.
inline __mmask16 bf16_lanes(int64_t cols, int64_t first) {
  const int64_t n = cols - first;
  if (n >= 16) return static_cast<__mmask16>(0xFFFF);
  return n <= 0 ? static_cast<__mmask16>(0) : static_cast<__mmask16>((1u << n) - 1);
}

// Writes a tile of `cols` (<= 32) columns row by row through `out`:
// out[i, j] = alpha * acc[i, j] + beta * out[i, j] (out not read when beta
// == 0), then out's epilogue (Bf16Out). Made once per tile, so the bias is
// read and widened once, not once per row.
class Bf16TileStore {
 public:
  __attribute__((target("avx512bf16"))) Bf16TileStore(const Bf16Out& out, int64_t cols)
      : out_(out), mask_{bf16_lanes(cols, 0), bf16_lanes(cols, 16)} {
    if (out.bias != nullptr) {
      for (int h = 0; h < 2; ++h) bias_[h] = bf16_load_row(out.bias + 16 * h, mask_[h]);
    }
  }

  // Row i's two halves of 16 sums (the second ignored when cols <= 16).
  [[gnu::always_inline]] __attribute__((target("avx512bf16"))) void row(int64_t i, __m512 low,
                                                                        __m512 high) const {
    half(low, i, 0);
    if (mask_[1] != 0) half(high, i, 1);
  }

 private:
  [[gnu::always_inline]] __attribute__((target("avx512bf16"))) void half(__m512 acc, int64_t i,
                                                                         int h) const {
    const __mmask16 mask = mask_[h];
    __m512 r = _mm512_mul_ps(acc, _mm512_set1_ps(out_.alpha));
    const int64_t offset = i * out_.ldc + 16 * h;
    if (out_.fp32) {
      float* p = static_cast<float*>(out_.c) + offset;
      if (out_.beta != 0.0f)
        r = _mm512_fmadd_ps(_mm512_set1_ps(out_.beta), _mm512_maskz_loadu_ps(mask, p), r);
      _mm512_mask_storeu_ps(p, mask, r);
      return;
    }
    uint16_t* p = static_cast<uint16_t*>(out_.c) + offset;
    if (out_.beta != 0.0f) {
      r = _mm512_fmadd_ps(_mm512_set1_ps(out_.beta), bf16_load_row(p, mask), r);
    }
    const __m256bh product = _mm512_cvtneps_pbh(r);
    if (out_.bias == nullptr && !out_.relu) {
      _mm256_mask_storeu_epi16(p, mask, reinterpret_cast<__m256i>(product));
      return;
    }
    // The fused Linear's epilogue with the separate pass's roundings: the
    // product as stored above, then the bias added and rounded as
    // BFloat16(float) rounds (bf16_round_exact), then ReLU (x < 0 ? 0 : x:
    // NaN and -0 stay; VMAXPS returns its second operand for NaN and for
    // two zeros), exact on a rounded value, so the top half is the result.
    __m512 c = bf16_widen(product);
    if (out_.bias != nullptr) c = bf16_widen(bf16_round_exact(_mm512_add_ps(c, bias_[h])));
    if (out_.relu) c = _mm512_max_ps(_mm512_setzero_ps(), c);
    const __m256i top = _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_castps_si512(c), 16));
    _mm256_mask_storeu_epi16(p, mask, top);
  }

  Bf16Out out_;  // a copy: the stores cannot change it
  std::array<__mmask16, 2> mask_;
  __m512 bias_[2]{};  // NOLINT(modernize-avoid-c-arrays): std::array drops its alignment
};

}  // namespace toadstool::kernels::cpu

#endif  // TOADSTOOL_BF16_KERNELS
