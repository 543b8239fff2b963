// The zoo's TransformerModel: a causal language model and an encoder-decoder
// each learn a small task the test makes; causality, tied weights, the
// names a classifier loads, and bad options.
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>
#include <utility>
#include <vector>

#include "test_util.h"
#include "zoo_training.h"

namespace toadstool {
namespace {

nn::TransformerModelOptions tiny(int64_t vocab) {
  nn::TransformerModelOptions options;
  options.vocab_size = vocab;
  options.d_model = 32;
  options.nhead = 2;
  options.num_encoder_layers = 1;
  options.dim_feedforward = 64;
  options.dropout = 0.0;
  options.max_len = 16;
  return options;
}

// Logits [B, L, V] and targets [B, L] as the rows [B L, V] and labels
// [B L] the zoo's training loop takes.
std::pair<Tensor, Tensor> per_position(const Tensor& logits, const Tensor& targets) {
  return {logits.reshape({-1, logits.size(2)}), targets.reshape({-1})};
}

// Counting sequences: ids 1..V-1 (0 is padding), each next id the previous
// plus one, wrapping; random starts. [B, L + 1] int64.
Tensor counting_sequences(int64_t batch, int64_t len, int64_t vocab) {
  const std::vector<double> starts = testing::values(randint(0, vocab - 1, {batch}));
  std::vector<int64_t> ids;
  for (const double start : starts) {
    for (int64_t i = 0; i <= len; ++i)
      ids.push_back((static_cast<int64_t>(start) + i) % (vocab - 1) + 1);
  }
  return from_vector<int64_t>(ids).view({batch, len + 1});
}

TEST(TransformerModel, CausalLanguageModelLearnsToCount) {
  const testing::ScopedNumThreads one_thread(1);
  manual_seed(0);
  nn::TransformerModelOptions options = tiny(10);
  options.causal = true;
  options.tie_weights = true;
  nn::TransformerModel model(options);
  // Next token: inputs positions 0..7, targets 1..8.
  const testing::TrainingRun run = testing::train_with_adam(model, 120, 3e-3, [&](int) {
    const Tensor seq = counting_sequences(16, 8, 10);
    return per_position(model(seq.narrow(1, 0, 8)), seq.narrow(1, 1, 8));
  });
  const Tensor seq = counting_sequences(64, 8, 10);
  const auto [logits, labels] = per_position(model(seq.narrow(1, 0, 8)), seq.narrow(1, 1, 8));
  const double accuracy = testing::accuracy(logits, labels);
  testing::record_figures(run, accuracy);
  EXPECT_LT(run.last_loss, 0.25 * run.first_loss);
  EXPECT_GT(accuracy, 0.95);  // chance: 1 / 9
}

TEST(TransformerModel, EncoderDecoderLearnsToReverse) {
  const testing::ScopedNumThreads one_thread(1);
  manual_seed(1);
  nn::TransformerModelOptions options = tiny(8);
  options.num_decoder_layers = 1;
  options.tgt_vocab_size = 9;  // the 8 source ids and a start id, 8
  nn::TransformerModel model(options);
  // src: 5 ids in 1..7; target: src reversed; decoder input: start id + the
  // target shifted right (teacher forcing).
  auto batch = [](int64_t size) {
    const Tensor src = randint(1, 8, {size, 5});
    const Tensor target = index_select(src, 1, from_vector<int64_t>({4, 3, 2, 1, 0}));
    const Tensor start = full({size, 1}, 8, kInt64);
    return std::tuple{src, cat({start, target.narrow(1, 0, 4)}, 1), target};
  };
  const testing::TrainingRun run = testing::train_with_adam(model, 200, 3e-3, [&](int) {
    const auto [src, tgt_in, target] = batch(32);
    return per_position(model.forward(src, tgt_in), target);
  });
  const auto [src, tgt_in, target] = batch(64);
  const auto [logits, labels] = per_position(model.forward(src, tgt_in), target);
  const double accuracy = testing::accuracy(logits, labels);
  testing::record_figures(run, accuracy);
  EXPECT_LT(run.last_loss, 0.25 * run.first_loss);
  EXPECT_GT(accuracy, 0.9);  // chance: 1 / 7
}

TEST(TransformerModel, CausalPositionsDoNotSeeLaterTokens) {
  manual_seed(2);
  nn::TransformerModelOptions options = tiny(10);
  options.causal = true;
  nn::TransformerModel model(options);
  const Tensor ids = randint(1, 10, {2, 6});
  Tensor changed = ids.clone();
  changed.narrow(1, 4, 2).fill_(3);
  const Tensor out = model(ids), out_changed = model(changed);
  testing::expect_close(out_changed.narrow(1, 0, 4), out.narrow(1, 0, 4), 1e-6, 1e-6);
  EXPECT_EQ(out.shape(), (Shape{2, 6, 10}));
}

TEST(TransformerModel, TiedOutputSharesTheEmbedding) {
  manual_seed(3);
  nn::TransformerModelOptions options = tiny(10);
  options.causal = true;
  options.tie_weights = true;
  nn::TransformerModel model(options);
  const auto dict = model.state_dict();
  EXPECT_TRUE(dict.contains("output_bias"));
  EXPECT_FALSE(dict.contains("output.weight"));
  // Only the output reads the embedding rows of ids absent from the input.
  model.zero_grad();
  model(full({1, 3}, 4, kInt64)).sum().backward();
  const Tensor grad = model.embedding->weight.grad();
  EXPECT_GT(testing::values(grad.select(0, 7).abs().amax())[0], 0);
}

TEST(TransformerModel, EncoderLoadsIntoAClassifier) {
  manual_seed(4);
  nn::TransformerModelOptions options = tiny(10);
  options.causal = true;
  nn::TransformerModel language_model(options);
  nn::TransformerClassifierOptions classifier_options;
  classifier_options.vocab_size = 10;
  classifier_options.d_model = 32;
  classifier_options.nhead = 2;
  classifier_options.num_layers = 1;
  classifier_options.dim_feedforward = 64;
  classifier_options.max_len = 16;
  nn::TransformerClassifier classifier(classifier_options);
  classifier.load_state_dict(language_model.state_dict(), /*strict=*/false);
  const auto loaded = classifier.state_dict();
  for (const auto& [name, tensor] : language_model.named_parameters()) {
    if (name.rfind("output", 0) == 0) continue;  // the classifier has its own head
    ASSERT_TRUE(loaded.contains(name)) << name;
    testing::expect_close(loaded.at(name), tensor, 0, 0);
  }
}

TEST(TransformerModel, BadOptionsAndInputsAreErrors) {
  nn::TransformerModelOptions options = tiny(10);
  options.positional = "rotary";
  EXPECT_ERROR(nn::TransformerModel{options}, "TransformerModel: positional");
  options = tiny(10);
  options.num_decoder_layers = 1;
  options.causal = true;
  EXPECT_ERROR(nn::TransformerModel{options}, "TransformerModel: causal");
  options.causal = false;
  nn::TransformerModel seq2seq(options);
  EXPECT_ERROR(seq2seq(zeros({2, 3}, kInt64)), "forward(src, tgt)");
  EXPECT_ERROR(seq2seq.forward(zeros({2, 3}, kInt64), zeros({3, 3}, kInt64)), "same batch");
  nn::TransformerModel encoder(tiny(10));
  EXPECT_ERROR(encoder.forward(zeros({2, 3}, kInt64), zeros({2, 3}, kInt64)), "forward(ids)");
  EXPECT_ERROR(encoder(zeros({2, 3})), "TransformerModel: ids must be int64 [batch, seq]");
}

}  // namespace
}  // namespace toadstool
