#pragma once
// The micro-kernels' epilogue (gemm_bf16_avx512.cpp, gemm_bf16_amx.cpp):
// a tile row of float32 sums into the output of gemm_bf16_packed.h.
// Only in the AVX-512 build of the CPU kernels, and only called from
// functions compiled for AVX512-BF16 (VCVTNEPS2BF16 rounds to nearest even,
// as BFloat16(float) does, but flushes subnormal results to zero; so does
// VCVTNE2PS2BF16).
#include "toadstool/kernels/cpu/gemm_bf16_packed.h"
#include "toadstool/kernels/cpu/vector_avx512.h"

#if TOADSTOOL_BF16_KERNELS

#include <immintrin.h>

#include <array>
#include <cstdint>

namespace toadstool::kernels::cpu {

// 16 bfloat16 values (lanes past the mask 0) widened to float32.
[[gnu::always_inline]] inline __m512 bf16_load_row(const uint16_t* p, __mmask16 mask) {
  return bf16_widen_bits(_mm256_maskz_loadu_epi16(mask, p));
}

// Starts fetching the `rows` output rows of a tile (32 columns of
// bfloat16 or float32 from out.c) for writing; the tile's k loop then hides
// the latency of a C that is not in cache.
template <int kRows>
[[gnu::always_inline]] inline void prefetch_out_tile(const Bf16Out& out) {
  const int64_t row_bytes = out.ldc * (out.fp32 ? 4 : 2);
  const char* c = static_cast<const char*>(out.c);
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i) {
    __builtin_prefetch(c + i * row_bytes, 1);
    if (out.fp32) __builtin_prefetch(c + i * row_bytes + 64, 1);
  }
}

// Writes a tile of `cols` (<= 32) columns row by row through `out`:
// out[i, j] = alpha * acc[i, j] + beta * out[i, j] (out not read when beta
// == 0), then out's epilogue (Bf16Out). Made once per tile, so the bias is
// read and widened once, not once per row.
//
// A bfloat16 row without beta goes as one register of 32 values: both
// halves rounded by one VCVTNE2PS2BF16 (the rounding of VCVTNEPS2BF16, which
// the unfused product's store uses), and the epilogue applied to its even
// and odd columns, each widened in place (the even ones shifted up, the odd
// ones masked: the 32-bit lanes of the packed register), against a bias
// split the same way. Half the instructions of two 16-column halves.
class Bf16TileStore {
 public:
  __attribute__((target("avx512bf16"))) Bf16TileStore(const Bf16Out& out, int64_t cols)
      : out_(out), mask_{bf16_lanes(cols, 0), bf16_lanes(cols, 16)} {
    if (out.bias != nullptr) {
      const __m512i bias = _mm512_maskz_loadu_epi16(columns(), out.bias);
      bias_even_ = _mm512_castsi512_ps(_mm512_slli_epi32(bias, 16));
      bias_odd_ = _mm512_castsi512_ps(_mm512_and_si512(bias, _mm512_set1_epi32(kHighHalf)));
    }
  }

  // Row i's two halves of 16 sums (the second ignored when cols <= 16).
  [[gnu::always_inline]] __attribute__((target("avx512bf16"))) void row(int64_t i, __m512 low,
                                                                        __m512 high) const {
    const __m512 alpha = _mm512_set1_ps(out_.alpha);
    low = _mm512_mul_ps(low, alpha);
    high = _mm512_mul_ps(high, alpha);
    if (out_.fp32) {
      fp32_half(low, i, 0);
      if (mask_[1] != 0) fp32_half(high, i, 1);
      return;
    }
    uint16_t* p = static_cast<uint16_t*>(out_.c) + i * out_.ldc;
    if (out_.beta != 0.0f) {
      const __m512 beta = _mm512_set1_ps(out_.beta);
      low = _mm512_fmadd_ps(beta, bf16_load_row(p, mask_[0]), low);
      high = _mm512_fmadd_ps(beta, bf16_load_row(p + 16, mask_[1]), high);
    }
    const auto product = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(high, low));
    if (out_.bias == nullptr && !out_.relu) {
      _mm512_mask_storeu_epi16(p, columns(), product);
      return;
    }
    // The fused Linear's epilogue with the separate pass's roundings: the
    // product as stored above, then the bias added and rounded as
    // BFloat16(float) rounds (bf16_round_exact_high), then ReLU (x < 0 ? 0 :
    // x: NaN and -0 stay; VMAXPS returns its second operand for NaN and for
    // two zeros), exact on a rounded value, whose top half is the result.
    const __m512i high_half = _mm512_set1_epi32(kHighHalf);
    __m512 even = _mm512_castsi512_ps(_mm512_slli_epi32(product, 16));
    __m512 odd = _mm512_castsi512_ps(_mm512_and_si512(product, high_half));
    if (out_.bias != nullptr) {
      const __m512 sum_even = _mm512_add_ps(even, bias_even_);
      const __m512 sum_odd = _mm512_add_ps(odd, bias_odd_);
      // VCVTNE2PS2BF16 rounds as BFloat16(float) does unless an input is
      // subnormal (it reads those as 0), which a sum of two bfloat16 values
      // rarely is: then one instruction rounds the row (ReLU before the
      // rounding gives the same: rounding keeps a normal number's sign and
      // a zero), and a permutation puts the even and odd columns back.
      if ((_mm512_fpclass_ps_mask(sum_even, kSubnormal) |
           _mm512_fpclass_ps_mask(sum_odd, kSubnormal)) == 0) {
        const __m512 e = out_.relu ? _mm512_max_ps(_mm512_setzero_ps(), sum_even) : sum_even;
        const __m512 o = out_.relu ? _mm512_max_ps(_mm512_setzero_ps(), sum_odd) : sum_odd;
        const auto halves = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(o, e));
        _mm512_mask_storeu_epi16(p, columns(),
                                 _mm512_permutexvar_epi16(_mm512_loadu_si512(kEvenOdd), halves));
        return;
      }
      even = _mm512_castsi512_ps(_mm512_and_si512(bf16_round_exact_high(sum_even), high_half));
      odd = _mm512_castsi512_ps(_mm512_and_si512(bf16_round_exact_high(sum_odd), high_half));
    }
    if (out_.relu) {
      even = _mm512_max_ps(_mm512_setzero_ps(), even);
      odd = _mm512_max_ps(_mm512_setzero_ps(), odd);
    }
    _mm512_mask_storeu_epi16(p, columns(),
                             _mm512_or_si512(_mm512_srli_epi32(_mm512_castps_si512(even), 16),
                                             _mm512_castps_si512(odd)));
  }

 private:
  static constexpr int kHighHalf = static_cast<int>(0xFFFF0000u);
  static constexpr int kSubnormal = 0x20;  // VFPCLASSPS's category
  // Words [even columns 0..15 | odd columns 0..15] -> columns in order.
  alignas(64) static constexpr uint16_t kEvenOdd[32] = {0,  16, 1,  17, 2,  18, 3,  19, 4,  20, 5,
                                                        21, 6,  22, 7,  23, 8,  24, 9,  25, 10, 26,
                                                        11, 27, 12, 28, 13, 29, 14, 30, 15, 31};

  __mmask32 columns() const {
    return static_cast<__mmask32>(mask_[0] | (static_cast<uint32_t>(mask_[1]) << 16));
  }

  // One 16-column half of alpha acc (r) to a float32 C.
  [[gnu::always_inline]] void fp32_half(__m512 r, int64_t i, int h) const {
    const __mmask16 mask = mask_[h];
    float* p = static_cast<float*>(out_.c) + i * out_.ldc + 16 * h;
    if (out_.beta != 0.0f)
      r = _mm512_fmadd_ps(_mm512_set1_ps(out_.beta), _mm512_maskz_loadu_ps(mask, p), r);
    _mm512_mask_storeu_ps(p, mask, r);
  }

  Bf16Out out_;  // a copy: the stores cannot change it
  std::array<__mmask16, 2> mask_;
  __m512 bias_even_{}, bias_odd_{};  // the bias of the even / odd columns, widened
};

}  // namespace toadstool::kernels::cpu

#endif  // TOADSTOOL_BF16_KERNELS
