// MultiheadAttention, the Transformer encoder, positional encodings and the
// zoo models: shapes, masks, modes, names, and agreement with a composite
// written from primitive ops.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "test_util.h"

namespace toadstool {
namespace {

using testing::expect_close;
using testing::padding_mask;

// softmax(q k^T / sqrt(D) + mask) v with heads, from the module's own
// weights; mask [B or 1, 1 or H, L, S] additive. x [B, L, E] -> [B, L, E].
Tensor reference_attention(const nn::MultiheadAttention& mha, const Tensor& query,
                           const Tensor& key, const Tensor& value, const Tensor& additive) {
  const int64_t E = mha.embed_dim, H = mha.num_heads, D = mha.head_dim;
  auto project = [&](const Tensor& x, int64_t part) {
    const Tensor w = mha.in_proj_weight.narrow(0, part * E, E);
    const Tensor b = mha.in_proj_bias.narrow(0, part * E, E);
    return (matmul(x, w.t()) + b).view({x.size(0), x.size(1), H, D}).transpose(1, 2);
  };
  const Tensor q = project(query, 0), k = project(key, 1), v = project(value, 2);
  Tensor scores = matmul(q, k.transpose(-1, -2)) * (1.0 / std::sqrt(static_cast<double>(D)));
  if (additive.defined()) scores = scores + additive;
  const Tensor heads = matmul(softmax(scores, -1), v);  // [B, H, L, D]
  const Tensor merged = heads.transpose(1, 2).reshape({query.size(0), query.size(1), E});
  return mha.out_proj->forward(merged);
}

Tensor as_additive(const Tensor& blocked) {
  return masked_fill(zeros(blocked.shape(), kFloat64), blocked,
                     -std::numeric_limits<double>::infinity());
}

TEST(NnAttention, SelfAttentionMatchesTheCompositeWithEveryMaskForm) {
  manual_seed(3);
  nn::MultiheadAttention mha(12, 3);
  mha.to(kFloat64);
  nn::init::normal_(mha.in_proj_bias, 0.0, 0.1);
  const int64_t B = 3, L = 5;
  const Tensor x = randn({B, L, 12}, kFloat64);
  // No mask.
  expect_close(mha.forward(x), reference_attention(mha, x, x, x, {}), 1e-10, 1e-12);
  // Bool key padding ([B, S] -> [B, 1, 1, S]).
  const Tensor pad = padding_mask(B, L);
  nn::MultiheadAttentionMasks masks;
  masks.key_padding_mask = pad;
  const Tensor pad_additive = as_additive(pad).view({B, 1, 1, L});
  expect_close(mha.forward(x, masks), reference_attention(mha, x, x, x, pad_additive), 1e-10,
               1e-12);
  // Float attn_mask [L, S] together with bool key padding.
  const Tensor attn = randn({L, L}, kFloat64);
  masks.attn_mask = attn;
  expect_close(mha.forward(x, masks), reference_attention(mha, x, x, x, pad_additive + attn), 1e-10,
               1e-12);
  // 3-D bool attn_mask [B * H, L, S] alone.
  const Tensor blocked = gt(rand({B * 3, L, L}), scalar_tensor(0.7));
  blocked.select(2, 0).fill_(false);  // every query keeps key 0
  nn::MultiheadAttentionMasks three_d;
  three_d.attn_mask = blocked;
  expect_close(mha.forward(x, three_d),
               reference_attention(mha, x, x, x, as_additive(blocked).view({B, 3, L, L})), 1e-10,
               1e-12);
  // Causal, alone and with key padding.
  const Tensor causal_blocked = logical_not(tril(ones({L, L}, kBool)));
  nn::MultiheadAttentionMasks causal;
  causal.is_causal = true;
  expect_close(mha.forward(x, causal),
               reference_attention(mha, x, x, x, as_additive(causal_blocked)), 1e-10, 1e-12);
  causal.key_padding_mask = pad;
  expect_close(mha.forward(x, causal),
               reference_attention(mha, x, x, x, as_additive(causal_blocked) + pad_additive), 1e-10,
               1e-12);
}

TEST(NnAttention, CrossAttentionAndErrors) {
  nn::MultiheadAttention mha(8, 2);
  mha.to(kFloat64);
  const Tensor q = randn({2, 3, 8}, kFloat64), kv = randn({2, 6, 8}, kFloat64);
  expect_close(mha.forward(q, kv, kv), reference_attention(mha, q, kv, kv, {}), 1e-10, 1e-12);
  EXPECT_THROW(nn::MultiheadAttention(10, 3), Error);
  EXPECT_THROW(mha.forward(randn({2, 3, 7}, kFloat64)), Error);
  nn::MultiheadAttentionMasks bad;
  bad.key_padding_mask = zeros({2, 5}, kBool);
  EXPECT_THROW(mha.forward(q, kv, kv, bad), Error);
  nn::MultiheadAttentionMasks both;
  both.attn_mask = zeros({3, 6}, kBool);
  both.is_causal = true;
  EXPECT_THROW(mha.forward(q, kv, kv, both), Error);
  // PyTorch's parameter names and initialisation.
  EXPECT_EQ(mha.state_dict().keys(),
            (std::vector<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight",
                                      "out_proj.bias"}));
  nn::MultiheadAttention fresh(8, 2);
  expect_close(fresh.in_proj_bias, zeros({24}), 0, 0);
  expect_close(fresh.out_proj->bias, zeros({8}), 0, 0);
  EXPECT_LE(testing::values(fresh.in_proj_weight.abs().amax())[0], std::sqrt(6.0 / 32.0));
}

TEST(NnTransformer, DropoutIsOffInEvalAndSeededInTraining) {
  nn::TransformerEncoderLayerOptions options;
  options.d_model = 16;
  options.nhead = 2;
  options.dim_feedforward = 32;
  options.dropout = 0.3;
  nn::TransformerEncoder encoder(options, 2);
  const Tensor x = randn({2, 5, 16});
  encoder.eval();
  expect_close(encoder.forward(x), encoder.forward(x), 0, 0);
  encoder.train();
  manual_seed(11);
  const Tensor a = encoder.forward(x);
  manual_seed(11);
  const Tensor b = encoder.forward(x);
  expect_close(a, b, 0, 0);
  EXPECT_GT(testing::values((a - encoder.forward(x)).abs().amax())[0], 1e-3);
}

TEST(NnTransformer, EncoderNamesAndFinalNormMatchPyTorch) {
  nn::TransformerEncoderLayerOptions options;
  options.d_model = 8;
  options.nhead = 2;
  options.dim_feedforward = 16;
  options.norm_first = true;
  nn::TransformerEncoder encoder(options, 2, /*final_norm=*/true);
  const auto keys = encoder.state_dict().keys();
  ASSERT_EQ(keys.size(), 2 * 12 + 2U);
  EXPECT_EQ(keys[0], "layers.0.self_attn.in_proj_weight");
  EXPECT_EQ(keys[4], "layers.0.linear1.weight");
  EXPECT_EQ(keys[12], "layers.1.self_attn.in_proj_weight");
  EXPECT_EQ(keys[24], "norm.weight");
  options.activation = "swish";
  EXPECT_THROW(nn::TransformerEncoderLayer{options}, Error);
  EXPECT_THROW(nn::TransformerEncoder(nn::TransformerEncoderLayerOptions{}, 0), Error);
}

TEST(NnTransformer, PositionalEncodings) {
  nn::SinusoidalPositionalEncoding sinusoidal(6, 10);
  const Tensor x = zeros({1, 4, 6});
  const Tensor pe = sinusoidal(x);
  // Position 3, pair i = 1 (dims 2 and 3): angle 3 / 10000^(2/6).
  const double angle = 3.0 / std::pow(10000.0, 2.0 / 6.0);
  EXPECT_NEAR(testing::values(pe.select(1, 3))[2], std::sin(angle), 1e-6);
  EXPECT_NEAR(testing::values(pe.select(1, 3))[3], std::cos(angle), 1e-6);
  EXPECT_TRUE(sinusoidal.state_dict().empty());  // recomputed, never saved
  EXPECT_THROW(sinusoidal(zeros({1, 11, 6})), Error);
  nn::LearnedPositionalEncoding learned(10, 6);
  const Tensor y = learned(x);
  expect_close(y.select(0, 0), learned.weight.narrow(0, 0, 4), 0, 0);
  y.sum().backward();
  expect_close(learned.weight.grad().narrow(0, 4, 6), zeros({6, 6}), 0, 0);
}

// A classifier small enough for unit tests: vocabulary 30, d 16, 2 heads,
// 1 layer, sequences up to 12.
nn::TransformerClassifierOptions small_classifier() {
  nn::TransformerClassifierOptions options;
  options.vocab_size = 30;
  options.d_model = 16;
  options.nhead = 2;
  options.num_layers = 1;
  options.dim_feedforward = 32;
  options.max_len = 12;
  return options;
}

TEST(NnZoo, TransformerClassifierShapesPaddingAndPooling) {
  nn::TransformerClassifierOptions options = small_classifier();
  options.num_classes = 3;
  for (const std::string pooling : {"mean", "cls"}) {
    options.pooling = pooling;
    nn::TransformerClassifier model(options);
    model.eval();
    Tensor ids = randint(1, 30, {4, 8});
    ids.select(0, 1).narrow(0, 5, 3).fill_(0);
    const Tensor logits = model(ids);
    EXPECT_EQ(logits.shape(), (Shape{4, 3}));
    // Padding does not change the result: the same sequence with more
    // padding (and whatever ids the model would see there) gives the same logits.
    Tensor longer = zeros({4, 10}, kInt64);
    longer.narrow(1, 0, 8).copy_(ids);
    expect_close(model(longer), logits, 1e-5, 1e-5);
    logits.sum().backward();
    for (const auto& [name, p] : model.named_parameters()) {
      EXPECT_TRUE(p.grad().defined()) << name;
    }
    // The padding row of the embedding gets no gradient.
    expect_close(model.embedding->weight.grad().select(0, 0), zeros({16}), 0, 0);
  }
  EXPECT_THROW(nn::TransformerClassifier(nn::TransformerClassifierOptions{.pooling = "max"}),
               Error);
  nn::TransformerClassifier model(options);
  EXPECT_THROW(model(randn({2, 4})), Error);
  EXPECT_THROW(model(zeros({2, 13}, kInt64)), Error);
}

// fastText-style bigram features: each token's embedding gets the bucket of
// the bigram it ends; padding stays padding (same logits with more of it).
TEST(NnZoo, TransformerClassifierWithHashedBigrams) {
  const Tensor ids = from_vector(std::vector<int64_t>{5, 7, 5, 0, 7, 5, 0, 0}).view({2, 4});
  const Tensor buckets = hashed_bigrams(ids, 11);
  const int64_t* b = buckets.data_ptr<int64_t>();
  EXPECT_EQ(b[3], 0);  // padding
  EXPECT_EQ(b[6], 0);
  EXPECT_EQ(b[7], 0);
  for (int i : {0, 1, 2, 4, 5}) {
    EXPECT_GE(b[i], 1);
    EXPECT_LT(b[i], 11);
  }
  EXPECT_EQ(b[2], b[5]);  // both (7, 5)
  // A row's first token pairs with padding.
  EXPECT_EQ(b[0],
            hashed_bigrams(from_vector(std::vector<int64_t>{5}).view({1, 1}), 11).item<int64_t>());
  // Order matters: (5, 7) and (7, 5) fall in different buckets of many.
  const Tensor wide = hashed_bigrams(ids, 1 << 20);
  EXPECT_NE(wide.data_ptr<int64_t>()[1], wide.data_ptr<int64_t>()[2]);
  EXPECT_ERROR(hashed_bigrams(ids, 1), "at least 2");
  EXPECT_ERROR(hashed_bigrams(ones({2, 2}), 5), "int64");

  nn::TransformerClassifierOptions options = small_classifier();
  options.bigram_buckets = 64;
  nn::TransformerClassifier model(options);
  model.eval();
  EXPECT_EQ(model.bigram_embedding->weight.shape(), (Shape{64, 16}));
  EXPECT_FALSE(model.bigram_projection);  // full width (bigram_dim 0): no projection
  EXPECT_TRUE(model.state_dict().contains("bigram_embedding.weight"));
  Tensor longer = zeros({2, 6}, kInt64);
  longer.narrow(1, 0, 4).copy_(ids);
  expect_close(model(longer), model(ids), 1e-5, 1e-5);
  model(ids).sum().backward();
  expect_close(model.bigram_embedding->weight.grad().select(0, 0), zeros({16}), 0, 0);
  EXPECT_THROW(nn::TransformerClassifier(nn::TransformerClassifierOptions{.bigram_buckets = 1}),
               Error);

  // Narrow bigram vectors are projected to d_model by a Linear without bias.
  options.bigram_dim = 4;
  nn::TransformerClassifier narrow(options);
  narrow.eval();
  EXPECT_EQ(narrow.bigram_embedding->weight.shape(), (Shape{64, 4}));
  EXPECT_EQ(narrow.bigram_projection->weight.shape(), (Shape{16, 4}));
  EXPECT_FALSE(narrow.state_dict().contains("bigram_projection.bias"));
  expect_close(narrow(longer), narrow(ids), 1e-5, 1e-5);
  // From zero, the bigrams change nothing until trained.
  const Tensor before = narrow(ids);
  {
    NoGradGuard no_grad;
    narrow.bigram_projection->weight.fill_(1.0);
    EXPECT_EQ((narrow(ids) - before).abs().sum().item<double>(), 0.0);
    narrow.bigram_embedding->weight.narrow(0, 1, 63).fill_(0.5);
  }
  expect_close(narrow(longer), narrow(ids), 1e-5, 1e-5);  // padding still changes nothing
  EXPECT_GT((narrow(ids) - before).abs().sum().item<double>(), 1e-3);
  EXPECT_ERROR(nn::TransformerClassifier(nn::TransformerClassifierOptions{
                   .d_model = 16, .nhead = 2, .bigram_buckets = 8, .bigram_dim = 17}),
               "bigram_dim must be in [0, d_model = 16], got 17");
  options.bigram_dim = 16;  // = d_model: no projection
  EXPECT_FALSE(nn::TransformerClassifier(options).bigram_projection);
  // Without bigrams, bigram_dim is not used (nor checked).
  EXPECT_NO_THROW(nn::TransformerClassifier(nn::TransformerClassifierOptions{
      .d_model = 16, .nhead = 2, .bigram_buckets = 0, .bigram_dim = 32}));
}

// Word dropout: in training, each real token becomes unk_idx with
// probability token_dropout, drawn from the model's generator; padding
// stays; evaluation sees the words as they are.
TEST(NnZoo, TransformerClassifierTokenDropout) {
  Generator generator(7);
  nn::TransformerClassifierOptions options = small_classifier();
  options.dropout = 0;  // so that only the words differ between the passes below
  options.bigram_buckets = 32;
  options.token_dropout = 0.5;
  options.generator = &generator;
  nn::TransformerClassifier model(options);
  nn::init::normal_(model.bigram_embedding->weight);
  const Tensor ids =
      from_vector(std::vector<int64_t>{5, 7, 9, 11, 13, 0, 8, 6, 4, 2, 0, 0}).view({2, 6});
  generator.manual_seed(3);
  const Tensor trained = model(ids);
  // The same draws, by hand: rand [2, 6] < 0.5 on the real tokens -> 1.
  generator.manual_seed(3);
  const Tensor draws = rand({2, 6}, {}, &generator);
  std::vector<int64_t> expected(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
  const std::vector<double> u = testing::values(draws);
  int64_t dropped = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (expected[i] != 0 && u[i] < 0.5) {
      expected[i] = 1;
      ++dropped;
    }
  }
  ASSERT_GT(dropped, 0);
  ASSERT_LT(dropped, 9);
  model.eval();
  expect_close(trained, model(from_vector(expected).view({2, 6})), 1e-5, 1e-5);
  EXPECT_GT((model(ids) - trained).abs().sum().item<double>(), 1e-4);
  EXPECT_THROW(nn::TransformerClassifier(nn::TransformerClassifierOptions{.token_dropout = 1.0}),
               Error);
  EXPECT_ERROR(nn::TransformerClassifier(
                   nn::TransformerClassifierOptions{.token_dropout = 0.1, .unk_idx = 0}),
               "unk_idx must be an id of the vocabulary [0, 20000) other than padding_idx 0");
}

TEST(NnZoo, MlpLayersAndNames) {
  nn::MLP mlp({4, 8, 8, 2}, "gelu", 0.1);
  EXPECT_EQ(mlp.state_dict().keys(),
            (std::vector<std::string>{"layers.0.weight", "layers.0.bias", "layers.3.weight",
                                      "layers.3.bias", "layers.6.weight", "layers.6.bias"}));
  EXPECT_EQ(mlp(randn({5, 4})).shape(), (Shape{5, 2}));
  EXPECT_THROW(nn::MLP({4}), Error);
  EXPECT_THROW(nn::MLP({4, 2}, "swish"), Error);
}

}  // namespace
}  // namespace toadstool
