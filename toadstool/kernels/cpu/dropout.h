#pragma once
// Dropout's mask (kernels/kernel_args.h, DropoutMask): drawn from the
// Philox state, or read from the keep bits an earlier pass wrote.
#include <bit>
#include <cstdint>

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
// T is Half, BFloat16, float or double.
template <class T>
void dropout_span(T* out, const T* in, const T* residual, int64_t first, int64_t n,
                  const DropoutMask& mask);

}  // namespace toadstool::kernels::cpu
