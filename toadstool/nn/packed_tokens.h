#pragma once
// The real tokens of a padded batch, packed, so that a Transformer's
// per-token work (projections, feed-forward, norms, dropout) skips the
// padding:
//
//   x [B, L, C] --pack--> tokens [N, C] --unpack--> [B, L, C] (zeros at padding)
//
// where N is the number of real tokens and row n of tokens is the token at
// flat position index[n] = b L + l, in order. Self-attention takes packed
// tokens through MultiheadAttentionMasks::packed_tokens: it projects the
// tokens, unpacks q, k and v to [B, L, 3E] for the heads, attends with the
// packing's padding as its key padding, and packs the attention's output
// back; when each sequence's padding is at its end, it attends the packed
// tokens as they are instead (sequence_offsets). CPU tensors only (the list
// of real tokens is made on the host).
// Both directions are differentiable (the autograd ops pack_rows and
// unpack_rows, each the other's gradient), so gradients reach only the
// real tokens.
#include <cstdint>

#include "toadstool/tensor/tensor.h"

namespace toadstool::nn {

struct PackedTokens {
  Tensor index;    // [N] int64: the flat positions of the real tokens
  Tensor inverse;  // [B L] int64: each position's row in tokens, or N at padding
  Tensor padding;  // [B, L] bool, true = padding: the mask it was made from
  int64_t batch = 0, length = 0;
  // When every sequence is padded at its end only: [B + 1] int64, sequence
  // b's tokens in rows [sequence_offsets[b], sequence_offsets[b + 1]) (its
  // positions 0, 1, ... in order), which self-attention attends as packed
  // sequences, without unpacking (AttentionOptions::sequence_offsets).
  // Undefined otherwise (padding at the start or in between).
  Tensor sequence_offsets;
  Tensor sequence;  // [N] int64: each token's sequence (b of its position b L + l)

  // From a padding mask [B, L] (bool, true = padding) on the CPU (the
  // count N is read on the host).
  static PackedTokens of_padding(const Tensor& padding);

  int64_t tokens() const { return index.numel(); }
  // [B, L, C] -> [N, C]
  Tensor pack(const Tensor& x) const;
  // [N, C] -> [B, L, C], zeros at the padding.
  Tensor unpack(const Tensor& tokens) const;
  // [N, C] -> [B, C]: the mean of each sequence's tokens (0 for a sequence
  // of only padding), as mean pooling over unpack(tokens) but without it.
  Tensor mean(const Tensor& tokens) const;
  // [N, C] -> [B, C]: each sequence's token at `position`, which must be a
  // real token in every sequence (a class token's 0).
  Tensor at_position(const Tensor& tokens, int64_t position) const;
};

}  // namespace toadstool::nn
