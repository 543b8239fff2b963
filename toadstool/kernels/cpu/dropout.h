#pragma once
// Dropout's mask (kernels/kernel_args.h, DropoutMask): drawn from the
// Philox state, or read from the keep bits an earlier pass wrote.
#include <bit>
#include <cstdint>

#if defined(__AVX512BW__)
#include <immintrin.h>
#endif

#include "toadstool/kernels/half.h"
#include "toadstool/kernels/kernel_args.h"
#include "toadstool/kernels/philox.h"

namespace toadstool::kernels::cpu {

// philox_words' output read in place as dropout's 16-bit draws
// (RandomKind::DropoutKeep): the CPU is little-endian, so the halves of the
// words come in the draws' order, draw j of a block at index 8 b + j.
// may_alias: the words were stored as uint32_t.
static_assert(std::endian::native == std::endian::little);
using DropoutDraws = const uint16_t __attribute__((may_alias));

// Draws per Philox block.
inline constexpr int64_t kDropoutDraws = values_per_block(RandomKind::DropoutKeep);

// The draws of elements [first, first + n) of a mask with state (seed,
// offset): element i takes draw i % 8 of block offset + i / 8, so the
// blocks from first / 8 on are made into words (at least 4 ceil((first % 8
// + n) / 8) of them) and the result points at element first's draw.
DropoutDraws* dropout_draws(uint64_t seed, uint64_t offset, int64_t first, int64_t n,
                            uint32_t* words);

// The keep bits of draws d[0, 64) (bit j: d[j] < threshold; slots past a
// ragged end give bits no element reads). threshold is in [1, 2^16].
inline uint64_t dropout_keep_word(DropoutDraws* d, uint32_t threshold) {
#if defined(__AVX512BW__)
  const __m512i last_kept = _mm512_set1_epi16(static_cast<int16_t>(threshold - 1));
  const auto low = static_cast<uint64_t>(_mm512_cmple_epu16_mask(_mm512_loadu_si512(d), last_kept));
  const auto high =
      static_cast<uint64_t>(_mm512_cmple_epu16_mask(_mm512_loadu_si512(d + 32), last_kept));
  return low | (high << 32);
#else
  uint64_t word = 0;
  for (int j = 0; j < 64; ++j) word |= static_cast<uint64_t>(d[j] < threshold) << j;
  return word;
#endif
}

// out[i] = in[i] * mask_i (+ residual[i] unless residual is null).
void dropout(Half* out, const Half* in, const Half* residual, int64_t n, const DropoutMask& mask);
void dropout(BFloat16* out, const BFloat16* in, const BFloat16* residual, int64_t n,
             const DropoutMask& mask);
void dropout(float* out, const float* in, const float* residual, int64_t n,
             const DropoutMask& mask);
void dropout(double* out, const double* in, const double* residual, int64_t n,
             const DropoutMask& mask);

// Elements [first, first + n) of the above, for a kernel that fuses dropout
// into its own pass over rows (dropout_add_layer_norm): out, in and residual
// point at element `first`, whose mask words are those of the whole tensor.
// With keep bits, `first` is a multiple of 64 and so is n unless the span
// ends the tensor (spans on other threads never share a word of bits).
// Out = In is Half, BFloat16, float or double; or one of them is float and
// the other Half or BFloat16 (autocast's add & norm: a 16-bit block read
// into float32 sums, their gradient written back rounded), the dropout then
// computed in float32, as after a cast.
template <class Out, class In>
void dropout_span(Out* out, const In* in, const Out* residual, int64_t first, int64_t n,
                  const DropoutMask& mask);

}  // namespace toadstool::kernels::cpu
