#pragma once
// Dropout in the row math of attention's bfloat16 tile products
// (kernels/cpu/attention.cpp, TileProducts<float, BFloat16>), in AVX-512:
// the keep bits (one per score, bit c % 64 of word c / 64) read as mask
// registers, and the float32 rows rounded straight into the bfloat16
// operand of the next tile product. The generic row loops make the same
// values from float32 dropout scales (one more row written and read per
// pass); each lane here gives the same bits (the rounding of
// vector_avx512.h, the multiply-subtract the compiler contracts there).
#include "toadstool/kernels/cpu/gemm_bf16_packed.h"  // TOADSTOOL_BF16_KERNELS

#if TOADSTOOL_BF16_KERNELS

#include <immintrin.h>

#include <cstdint>

#include "toadstool/kernels/cpu/vector_avx512.h"

namespace toadstool::kernels::cpu {

// Dropout's scale of scores c .. c + 15 (c a multiple of 16): keep_scale
// where the keep bit is set, else 0.
[[gnu::always_inline]] inline __m512 keep_scales_x16(const uint64_t* bits, int64_t c,
                                                     __m512 keep_scale) {
  const auto kept = static_cast<__mmask16>(bits[c / 64] >> (c % 64));
  return _mm512_maskz_mov_ps(kept, keep_scale);
}

// The rows go 32 scores a step, two 16-lane halves rounded and stored as
// one register (bf16_round_exact_x32), the last step masked: lanes `low`
// and `high`.
struct RowStep {
  int64_t c;
  __mmask16 low, high;
  __mmask32 both() const {
    return static_cast<__mmask32>(low | (static_cast<uint32_t>(high) << 16));
  }
};
template <class Fn>
[[gnu::always_inline]] inline void for_each_step(int64_t cols, Fn&& fn) {
  for (int64_t c = 0; c < cols; c += 32)
    fn(RowStep{c, bf16_lanes(cols, c), bf16_lanes(cols, c + 16)});
}

// Dropout applied to one row of probabilities, rounded into the operand of
// the next tile product: kept[c] = bfloat16(p[c] * scale_c).
inline void kept_operand_row(const float* p, int64_t cols, const uint64_t* bits, float keep_scale,
                             uint16_t* kept) {
  const __m512 scale = _mm512_set1_ps(keep_scale);
  for_each_step(cols, [&](const RowStep& at) {
    const __m512 low =
        _mm512_mul_ps(_mm512_maskz_loadu_ps(at.low, p + at.c), keep_scales_x16(bits, at.c, scale));
    const __m512 high = _mm512_mul_ps(_mm512_maskz_loadu_ps(at.high, p + at.c + 16),
                                      keep_scales_x16(bits, at.c + 16, scale));
    _mm512_mask_storeu_epi16(kept + at.c, at.both(), bf16_round_exact_x32(low, high));
  });
}

// The score gradient of one row, rounded into the operand of grad_q's and
// grad_k's products: ds[c] = bfloat16(p[c] (dp[c] scale_c - d)), dp[c] the
// probability's gradient before dropout, d the row's rowsum(grad_out *
// out); bits null: p[c] (dp[c] - d).
inline void score_gradient_row(const float* p, const float* dp, int64_t cols, const uint64_t* bits,
                               float keep_scale, float d, uint16_t* ds) {
  const __m512 row_d = _mm512_set1_ps(d), scale = _mm512_set1_ps(keep_scale);
  auto half = [&](int64_t c, __mmask16 lanes) {
    const __m512 g = _mm512_maskz_loadu_ps(lanes, dp + c);
    const __m512 centred = bits == nullptr
                               ? _mm512_sub_ps(g, row_d)
                               : _mm512_fmsub_ps(g, keep_scales_x16(bits, c, scale), row_d);
    return _mm512_mul_ps(_mm512_maskz_loadu_ps(lanes, p + c), centred);
  };
  for_each_step(cols, [&](const RowStep& at) {
    _mm512_mask_storeu_epi16(ds + at.c, at.both(),
                             bf16_round_exact_x32(half(at.c, at.low), half(at.c + 16, at.high)));
  });
}

}  // namespace toadstool::kernels::cpu

#endif  // TOADSTOOL_BF16_KERNELS
