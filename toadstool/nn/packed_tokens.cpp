#include "toadstool/nn/packed_tokens.h"

#include <optional>
#include <vector>

#include "toadstool/autograd/ops.h"
#include "toadstool/tensor/error.h"
#include "toadstool/tensor/factory.h"

namespace toadstool::nn {

PackedTokens PackedTokens::of_padding(const Tensor& padding) {
  TS_CHECK(padding.dim() == 2 && padding.dtype() == kBool && padding.device().is_cpu(),
           "PackedTokens: padding must be a CPU bool [batch, length] mask, got ", padding.shape(),
           " ", padding.dtype(), " on ", padding.device());
  const Tensor mask = padding.contiguous();
  const bool* is_padding = mask.data_ptr<bool>();
  const int64_t positions = mask.numel();
  std::vector<int64_t> index, sequence;
  index.reserve(positions);
  sequence.reserve(positions);
  for (int64_t i = 0; i < positions; ++i) {
    if (is_padding[i]) continue;
    index.push_back(i);
    sequence.push_back(i / padding.size(1));
  }
  const auto n = static_cast<int64_t>(index.size());
  std::vector<int64_t> inverse(positions);
  for (int64_t i = 0, row = 0; i < positions; ++i) inverse[i] = is_padding[i] ? n : row++;
  const int64_t batch = padding.size(0), length = padding.size(1);
  PackedTokens packed{
      from_vector(index, {n}),   from_vector(inverse, {positions}), mask, batch, length, Tensor(),
      from_vector(sequence, {n})};
  // Sequence b's tokens are its positions [0, count) when no token follows
  // a padded position.
  std::vector<int64_t> offsets(batch + 1, 0);
  bool at_end = true;
  for (int64_t b = 0; b < batch && at_end; ++b) {
    const bool* row = is_padding + b * length;
    int64_t count = 0;
    while (count < length && !row[count]) ++count;
    for (int64_t l = count; l < length && at_end; ++l) at_end = row[l];
    offsets[b + 1] = offsets[b] + count;
  }
  if (at_end) packed.sequence_offsets = from_vector(offsets, {batch + 1});
  return packed;
}

Tensor PackedTokens::pack(const Tensor& x) const {
  TS_CHECK(x.dim() == 3 && x.size(0) == batch && x.size(1) == length && x.device().is_cpu(),
           "PackedTokens::pack: expected a CPU tensor [", batch, ", ", length, ", C], got ",
           x.shape(), " on ", x.device());
  return pack_rows(x.reshape({batch * length, x.size(2)}), index, inverse);
}

Tensor PackedTokens::unpack(const Tensor& tokens) const {
  TS_CHECK(tokens.dim() == 2 && tokens.size(0) == index.numel() && tokens.device().is_cpu(),
           "PackedTokens::unpack: expected a CPU tensor [", index.numel(), ", C], got ",
           tokens.shape(), " on ", tokens.device());
  return unpack_rows(tokens, index, inverse).view({batch, length, tokens.size(1)});
}

Tensor PackedTokens::mean(const Tensor& tokens) const {
  TS_CHECK(tokens.dim() == 2 && tokens.size(0) == index.numel() && tokens.device().is_cpu(),
           "PackedTokens::mean: expected a CPU tensor [", index.numel(), ", C], got ",
           tokens.shape(), " on ", tokens.device());
  const Tensor counts = logical_not(padding).sum({1}).to(tokens.dtype()).clamp(1.0, std::nullopt);
  const Tensor sums =
      index_add(zeros({batch, tokens.size(1)}, TensorOptions(tokens.dtype())), 0, sequence, tokens);
  return sums / counts.unsqueeze(1);
}

Tensor PackedTokens::at_position(const Tensor& tokens, int64_t position) const {
  TS_CHECK(tokens.dim() == 2 && tokens.size(0) == index.numel() && tokens.device().is_cpu(),
           "PackedTokens::at_position: expected a CPU tensor [", index.numel(), ", C], got ",
           tokens.shape(), " on ", tokens.device());
  TS_CHECK(position >= 0 && position < length, "PackedTokens::at_position: position ", position,
           " is outside the length ", length);
  const int64_t* row_of = inverse.data_ptr<int64_t>();
  std::vector<int64_t> rows(batch);
  for (int64_t b = 0; b < batch; ++b) {
    rows[b] = row_of[b * length + position];
    TS_CHECK(rows[b] < index.numel(), "PackedTokens::at_position: sequence ", b,
             " has padding at position ", position);
  }
  return index_select(tokens, 0, from_vector(rows, {batch}));
}

}  // namespace toadstool::nn
