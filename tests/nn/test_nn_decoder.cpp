// The Transformer decoder, the encoder-decoder Transformer and
// MultiheadAttention's returned weights: masks, causality, shapes, errors and
// a gradient check (values against PyTorch: tests/golden/test_decoder_parity.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "test_util.h"

namespace toadstool {
namespace {

using testing::expect_close;
using testing::padding_mask;

nn::TransformerDecoderLayerOptions small_layer(bool norm_first = false) {
  nn::TransformerDecoderLayerOptions options;
  options.d_model = 8;
  options.nhead = 2;
  options.dim_feedforward = 12;
  options.dropout = 0.0;
  options.norm_first = norm_first;
  return options;
}

TEST(NnDecoder, CausalSelfAttentionKeepsEarlierPositionsBlindToLaterOnes) {
  manual_seed(1);
  for (const bool norm_first : {false, true}) {
    nn::TransformerDecoderLayer layer(small_layer(norm_first));
    const Tensor tgt = randn({2, 5, 8});
    const Tensor memory = randn({2, 4, 8});
    nn::MultiheadAttentionMasks causal;
    causal.is_causal = true;
    const Tensor out = layer.forward(tgt, memory, causal);
    ASSERT_EQ(out.shape(), (Shape{2, 5, 8}));
    Tensor changed = tgt.clone();
    changed.narrow(1, 3, 2).copy_(randn({2, 2, 8}));  // positions 3 and 4
    const Tensor out_changed = layer.forward(changed, memory, causal);
    expect_close(out_changed.narrow(1, 0, 3), out.narrow(1, 0, 3), 1e-6, 1e-6);
    EXPECT_GT(testing::values((out_changed - out).abs().amax())[0], 1e-3);
  }
}

TEST(NnDecoder, PaddedMemoryPositionsDoNotReachTheOutput) {
  manual_seed(2);
  nn::TransformerDecoder decoder(small_layer(), 2, /*final_norm=*/true);
  const Tensor tgt = randn({3, 4, 8});
  const Tensor memory = randn({3, 6, 8});
  nn::MultiheadAttentionMasks memory_masks;
  memory_masks.key_padding_mask = padding_mask(3, 6);
  const Tensor out = decoder.forward(tgt, memory, {}, memory_masks);
  Tensor noisy = memory.clone();
  noisy.select(0, 2).narrow(0, 4, 2).copy_(randn({2, 8}) * 100.0);  // sequence 2's padding
  expect_close(decoder.forward(tgt, noisy, {}, memory_masks), out, 1e-6, 1e-6);
}

TEST(NnDecoder, TransformerHasPyTorchsLayoutAndInitialisation) {
  manual_seed(3);
  nn::TransformerOptions options;
  options.d_model = 8;
  options.nhead = 2;
  options.num_encoder_layers = 2;
  options.num_decoder_layers = 3;
  options.dim_feedforward = 16;
  nn::Transformer model(options);
  const auto dict = model.state_dict();
  EXPECT_TRUE(dict.contains("encoder.layers.1.self_attn.in_proj_weight"));
  EXPECT_TRUE(dict.contains("encoder.norm.weight"));  // PyTorch always adds the final norms
  EXPECT_TRUE(dict.contains("decoder.layers.2.multihead_attn.out_proj.weight"));
  EXPECT_TRUE(dict.contains("decoder.layers.2.norm3.bias"));
  EXPECT_TRUE(dict.contains("decoder.norm.weight"));
  EXPECT_FALSE(dict.contains("decoder.layers.3.norm1.weight"));
  // xavier_uniform_ on matrices: |w| <= sqrt(6 / (fan_in + fan_out)).
  const Tensor linear1 = dict.at("decoder.layers.0.linear1.weight");
  EXPECT_LE(testing::values(linear1.abs().amax())[0], std::sqrt(6.0 / (8 + 16)));
  // Norms keep their ones.
  expect_close(dict.at("encoder.norm.weight"), ones({8}), 0, 0);
  const Tensor out = model.forward(randn({2, 7, 8}), randn({2, 5, 8}));
  EXPECT_EQ(out.shape(), (Shape{2, 5, 8}));
}

TEST(NnDecoder, SquareSubsequentMaskIsPyTorchs) {
  const Tensor mask = nn::Transformer::generate_square_subsequent_mask(3);
  const double inf = std::numeric_limits<double>::infinity();
  testing::expect_values(mask, {0, -inf, -inf, 0, 0, -inf, 0, 0, 0}, {3, 3});
  EXPECT_EQ(mask.dtype(), kFloat32);
  // As a float attn_mask it is the causal mask.
  manual_seed(4);
  nn::TransformerDecoderLayer layer(small_layer());
  const Tensor tgt = randn({2, 3, 8}), memory = randn({2, 2, 8});
  nn::MultiheadAttentionMasks as_float, as_flag;
  as_float.attn_mask = mask;
  as_flag.is_causal = true;
  expect_close(layer.forward(tgt, memory, as_float), layer.forward(tgt, memory, as_flag), 1e-6,
               1e-6);
}

TEST(NnDecoder, ReturnedAttentionWeights) {
  manual_seed(5);
  nn::MultiheadAttention mha(8, 2);
  mha.to(kFloat64);
  const Tensor query = randn({3, 4, 8}, kFloat64), key = randn({3, 5, 8}, kFloat64);
  nn::MultiheadAttentionMasks masks;
  masks.key_padding_mask = padding_mask(3, 5);
  const auto per_head = mha.forward_with_weights(query, key, key, masks, false);
  EXPECT_EQ(per_head.weights.shape(), (Shape{3, 2, 4, 5}));
  // The output is the fused path's.
  expect_close(per_head.output, mha.forward(query, key, key, masks), 1e-10, 1e-12);
  // Rows are distributions over the keys, zero on padding.
  expect_close(per_head.weights.sum({-1}), ones({3, 2, 4}, kFloat64), 1e-12, 1e-12);
  EXPECT_EQ(testing::values(per_head.weights.select(0, 2).narrow(-1, 3, 2).abs().amax())[0], 0);
  const auto averaged = mha.forward_with_weights(query, key, key, masks);
  expect_close(averaged.weights, per_head.weights.mean({1}), 1e-12, 1e-12);
  // Causal: nothing above the diagonal.
  nn::MultiheadAttentionMasks causal;
  causal.is_causal = true;
  const auto self = mha.forward_with_weights(query, query, query, causal);
  expect_close(self.output, mha.forward(query, causal), 1e-10, 1e-12);
  EXPECT_EQ(testing::values(triu(self.weights, 1).abs().amax())[0], 0);
}

TEST(NnDecoder, GradientsOfTheLayerPassTheFiniteDifferenceCheck) {
  manual_seed(6);
  nn::TransformerDecoderLayerOptions options = small_layer();
  options.d_model = 4;
  options.dim_feedforward = 6;
  options.activation = "gelu";
  nn::TransformerDecoderLayer layer(options);
  layer.to(kFloat64);
  const Tensor tgt = randn({2, 3, 4}, kFloat64).requires_grad_();
  const Tensor memory = randn({2, 2, 4}, kFloat64).requires_grad_();
  nn::MultiheadAttentionMasks causal;
  causal.is_causal = true;
  const auto result = autograd::gradcheck(
      [&](const std::vector<Tensor>& in) { return layer.forward(in[0], in[1], causal); },
      {tgt, memory});
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(NnDecoder, BadInputsAndOptionsAreErrors) {
  nn::TransformerDecoderLayer layer(small_layer());
  EXPECT_ERROR(layer.forward(zeros({2, 3, 8}), zeros({3, 4, 8})),
               "TransformerDecoderLayer: tgt [B, L, d_model] and memory [B, S, d_model]");
  EXPECT_ERROR(layer.forward(zeros({2, 3, 8}), zeros({2, 4, 6})), "MultiheadAttention");
  nn::TransformerDecoderLayerOptions bad = small_layer();
  bad.activation = "tanh";
  EXPECT_ERROR(nn::TransformerDecoderLayer{bad}, "TransformerDecoderLayer: activation");
  EXPECT_ERROR(nn::TransformerDecoder(small_layer(), 0), "TransformerDecoder: num_layers");
  nn::TransformerOptions options;
  options.d_model = 8;
  options.nhead = 2;
  options.num_encoder_layers = 1;
  options.num_decoder_layers = 1;
  options.dim_feedforward = 8;
  nn::Transformer model(options);
  EXPECT_ERROR(model.forward(zeros({2, 3, 8}), zeros({2, 3, 4})),
               "Transformer: src [B, S, d_model] and tgt [B, L, d_model] with d_model=8");
  EXPECT_ERROR(nn::Transformer::generate_square_subsequent_mask(-1), "size must be >= 0");
}

}  // namespace
}  // namespace toadstool
