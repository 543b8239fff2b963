// Packed tokens (nn/packed_tokens.h): packing and unpacking, self-attention
// over packed tokens against the padded run, and the TransformerClassifier
// with and without packing.
#include <gtest/gtest.h>

#include <optional>
#include <utility>
#include <vector>

#include "test_util.h"

namespace toadstool {
namespace {

using testing::expect_close;

// [3, 5]: sequence 0 has no padding, 1 its last two positions, 2 all five.
Tensor ragged_padding() {
  Tensor padding = zeros({3, 5}, kBool);
  padding.select(0, 1).narrow(0, 3, 2).fill_(true);
  padding.select(0, 2).fill_(true);
  return padding;
}

// [3, 5] with padding before and between real tokens: sequence 0 starts
// with two, 1 has one at position 2.
Tensor scattered_padding() {
  Tensor padding = zeros({3, 5}, kBool);
  padding.select(0, 0).narrow(0, 0, 2).fill_(true);
  padding.select(0, 1).narrow(0, 2, 1).fill_(true);
  return padding;
}

// Every parameter of `got` has the gradient of the same parameter of `want`.
void expect_same_gradients(const nn::Module& got, const nn::Module& want, double rtol,
                           double atol) {
  const std::vector<nn::NamedTensor> want_params = want.named_parameters();
  const std::vector<nn::NamedTensor> got_params = got.named_parameters();
  ASSERT_EQ(got_params.size(), want_params.size());
  for (size_t i = 0; i < got_params.size(); ++i) {
    SCOPED_TRACE(got_params[i].first);
    expect_close(got_params[i].second.grad(), want_params[i].second.grad(), rtol, atol);
  }
}

// Pooling from the packed tokens: the mean of each sequence's tokens (0 for
// one of only padding) and the token at a position, with their gradients,
// as from the unpacked batch.
TEST(PackedTokens, PoolingEqualsPoolingTheUnpackedBatch) {
  const nn::PackedTokens packed = nn::PackedTokens::of_padding(ragged_padding());
  const Tensor tokens = randn({8, 4}, kFloat64).requires_grad_();
  const Tensor r = randn({3, 4}, kFloat64);
  (packed.mean(tokens) * r).sum().backward();
  const Tensor got = tokens.grad().clone();
  const Tensor keep = logical_not(ragged_padding()).to(kFloat64).unsqueeze(2);
  const Tensor counts = keep.sum({1}).clamp(1.0, std::nullopt);
  tokens.zero_grad();
  const Tensor want = (packed.unpack(tokens) * keep).sum({1}) / counts;
  (want * r).sum().backward();
  expect_close(packed.mean(tokens), want.detach(), 1e-15, 1e-15);
  expect_close(got, tokens.grad(), 1e-15, 1e-15);
  const nn::PackedTokens first = nn::PackedTokens::of_padding(ragged_padding().narrow(0, 0, 2));
  const Tensor five = randn({8, 4}, kFloat64);
  expect_close(first.at_position(five, 1), first.unpack(five).select(1, 1), 0, 0);
}

TEST(PackedTokens, PackTakesTheRealTokensInOrderAndUnpackPutsThemBack) {
  const nn::PackedTokens packed = nn::PackedTokens::of_padding(ragged_padding());
  EXPECT_EQ(packed.tokens(), 8);
  const Tensor x = randn({3, 5, 4}, kFloat64).requires_grad_();
  const Tensor tokens = packed.pack(x);
  ASSERT_EQ(tokens.shape(), (Shape{8, 4}));
  expect_close(tokens.narrow(0, 0, 5), x.select(0, 0).detach(), 0, 0);
  expect_close(tokens.narrow(0, 5, 3), x.select(0, 1).narrow(0, 0, 3).detach(), 0, 0);
  const Tensor keep = logical_not(ragged_padding()).to(kFloat64).unsqueeze(2);
  expect_close(packed.unpack(tokens), x.detach() * keep, 0, 0);
  // Gradients reach the real tokens only, and come back through unpack.
  packed.unpack(tokens).sum().backward();
  expect_close(x.grad(), ones({3, 5, 4}, kFloat64) * keep, 0, 0);
}

// Sequences padded at their ends only are packed sequences: their offsets
// in the tokens (self-attention attends them without unpacking); other
// padding gives none.
TEST(PackedTokens, SequenceOffsetsWhenEachSequenceIsPaddedAtItsEnd) {
  const nn::PackedTokens packed = nn::PackedTokens::of_padding(ragged_padding());
  ASSERT_TRUE(packed.sequence_offsets.defined());
  expect_close(packed.sequence_offsets, from_vector(std::vector<int64_t>{0, 5, 8, 8}, {4}), 0, 0);
  EXPECT_FALSE(nn::PackedTokens::of_padding(scattered_padding()).sequence_offsets.defined());
}

TEST(PackedTokens, BadInputsThrow) {
  EXPECT_THROW(nn::PackedTokens::of_padding(zeros({3, 5})), Error);       // not bool
  EXPECT_THROW(nn::PackedTokens::of_padding(zeros({15}, kBool)), Error);  // not 2-D
  const nn::PackedTokens packed = nn::PackedTokens::of_padding(ragged_padding());
  EXPECT_THROW(packed.pack(randn({3, 4, 2})), Error);
  EXPECT_THROW(packed.unpack(randn({7, 2})), Error);
  EXPECT_THROW(packed.mean(randn({7, 2})), Error);
  EXPECT_THROW(packed.at_position(randn({8, 2}), 3), Error);  // sequence 1's padding
  EXPECT_THROW(packed.at_position(randn({8, 2}), 5), Error);  // past the length
  nn::MultiheadAttention mha(4, 2);
  nn::MultiheadAttentionMasks masks;
  masks.packed_tokens = &packed;
  EXPECT_THROW(mha.forward(randn({7, 4}), masks), Error);
  EXPECT_THROW(mha.forward(randn({8, 6}), masks), Error);
  const Tensor x = randn({3, 5, 4});
  EXPECT_THROW(mha.forward(x, x, x, masks), Error);  // self-attention only
  EXPECT_THROW(mha.forward_with_weights(x, x, x, masks), Error);
  masks.key_padding_mask = ragged_padding();  // the padding is the packing's
  EXPECT_THROW(mha.forward(randn({8, 4}), masks), Error);
}

// The packed run is the padded run read at the real tokens: the output, the
// input's gradient (0 at the padding) and every parameter's gradient, at
// one and two threads (the attention's two backward schedules); as packed
// sequences (padding at the ends) and unpacked around the attention
// (padding elsewhere).
TEST(PackedTokens, SelfAttentionMatchesThePaddedRunAtTheRealTokens) {
  const int saved = get_num_threads();
  for (const auto& [threads, padding] :
       {std::pair{1, ragged_padding()}, std::pair{2, ragged_padding()},
        std::pair{1, scattered_padding()}, std::pair{2, scattered_padding()}}) {
    SCOPED_TRACE(threads);
    set_num_threads(threads);
    manual_seed(3);
    nn::MultiheadAttention padded_mha(8, 2), packed_mha(8, 2);
    padded_mha.to(kFloat64);
    packed_mha.load_state_dict(padded_mha.state_dict());
    packed_mha.to(kFloat64);
    const nn::PackedTokens packed = nn::PackedTokens::of_padding(padding);
    const Tensor x = randn({3, 5, 8}, kFloat64);
    const Tensor r = randn({packed.tokens(), 8}, kFloat64);
    nn::MultiheadAttentionMasks masks;
    masks.key_padding_mask = padding;

    const Tensor x_padded = x.clone().requires_grad_();
    const Tensor want = packed.pack(padded_mha.forward(x_padded, masks));
    (want * r).sum().backward();

    const Tensor x_packed = x.clone().requires_grad_();
    nn::MultiheadAttentionMasks packed_masks;
    packed_masks.packed_tokens = &packed;  // the packing's padding is the key padding
    const Tensor got = packed_mha.forward(packed.pack(x_packed), packed_masks);
    (got * r).sum().backward();

    expect_close(got, want.detach(), 1e-12, 1e-12);
    expect_close(x_packed.grad(), x_padded.grad(), 1e-12, 1e-12);
    expect_same_gradients(packed_mha, padded_mha, 1e-12, 1e-12);
  }
  set_num_threads(saved);
}

nn::TransformerClassifierOptions packing_classifier(bool pack, const std::string& pooling) {
  nn::TransformerClassifierOptions options;
  options.vocab_size = 30;
  options.d_model = 16;
  options.nhead = 2;
  options.num_layers = 2;
  options.dim_feedforward = 32;
  options.max_len = 12;
  options.dropout = 0;  // the same numbers both ways (dropout draws over [N, d] packed)
  options.pooling = pooling;
  options.pack_tokens = pack;
  return options;
}

// Packing skips work, not meaning: the same logits and gradients as the
// padded run, with a sequence without padding and one all padding.
TEST(PackedTokens, TheClassifierGivesThePaddedRunsLogitsAndGradients) {
  for (const std::string pooling : {"mean", "cls"}) {
    SCOPED_TRACE(pooling);
    manual_seed(5);
    nn::TransformerClassifier padded(packing_classifier(false, pooling));
    nn::TransformerClassifier packed(packing_classifier(true, pooling));
    packed.load_state_dict(padded.state_dict());
    Tensor ids = randint(1, 30, {3, 5});
    ids.masked_fill_(ragged_padding(), 0);
    const Tensor want = padded(ids);
    const Tensor got = packed(ids);
    expect_close(got, want, 1e-5, 1e-6);
    got.sum().backward();
    want.sum().backward();
    expect_same_gradients(packed, padded, 1e-4, 1e-6);
  }
}

}  // namespace
}  // namespace toadstool
