// nn::GatedConvSequenceModel and nn::GatedConvBlock: shapes, parameter
// names, a block counted by hand, causality, padding, bad options and
// inputs, and short training runs as a language model and a classifier.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "test_util.h"
#include "toadstool/nn/zoo/gated_conv_sequence_model.h"
#include "zoo_training.h"

namespace toadstool {
namespace {

using testing::expect_close;
using testing::expect_values;
using testing::make;

nn::GatedConvSequenceModelOptions small_model() {
  return {.vocab_size = 16, .dim = 8, .num_layers = 3, .kernel_size = 3, .dropout = 0.0};
}

Tensor ids_of(const std::vector<int64_t>& ids, const Shape& shape) {
  return from_vector(ids).view(shape);
}

TEST(GatedConvSequenceModel, ShapesAndParameterNames) {
  manual_seed(0);
  nn::GatedConvSequenceModel lm(small_model());
  const Tensor ids = randint(1, 16, {2, 7});
  EXPECT_EQ(lm(ids).shape(), (Shape{2, 7, 16}));  // next-token logits
  std::vector<std::string> names;
  for (const auto& [name, p] : lm.named_parameters()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"embedding.weight", "blocks.0.conv.weight",
                                             "blocks.0.conv.bias", "blocks.1.conv.weight",
                                             "blocks.1.conv.bias", "blocks.2.conv.weight",
                                             "blocks.2.conv.bias", "head.weight", "head.bias"}));
  auto block = std::dynamic_pointer_cast<nn::GatedConvBlock>((*lm.blocks)[0]);
  ASSERT_TRUE(block);
  EXPECT_EQ(block->conv->weight.shape(), (Shape{16, 8, 3}));  // [2C, C, k]
  EXPECT_EQ(lm.head->weight.shape(), (Shape{16, 8}));
  EXPECT_EQ(lm.extra_repr(), "language model");
  EXPECT_EQ(block->extra_repr(), "channels=8, kernel_size=3, causal");

  nn::GatedConvSequenceModelOptions options = small_model();
  options.num_classes = 3;
  nn::GatedConvSequenceModel classifier(options);
  EXPECT_EQ(classifier(ids).shape(), (Shape{2, 3}));
  EXPECT_EQ(classifier.head->weight.shape(), (Shape{3, 8}));
  EXPECT_EQ(classifier.extra_repr(), "classifier, num_classes=3");
  classifier(ids).sum().backward();
  for (const auto& [name, p] : classifier.named_parameters()) {
    EXPECT_TRUE(p.grad().defined()) << name;
  }
  // The embedding's padding row gets no gradient.
  expect_close(classifier.embedding->weight.grad().select(0, 0), zeros({8}), 0, 0);
}

// One channel, kernel 2: the "a" half of the conv copies the previous
// input, the "b" half is zero (a gate of sigmoid(0) = 1/2), so
// y_t = (x_t + x_{t-1} / 2) sqrt(1/2), with x_{-1} = 0 (causal padding).
TEST(GatedConvSequenceModel, BlockIsAGatedCausalConvWithAScaledResidual) {
  nn::GatedConvBlock block(/*channels=*/1, /*kernel_size=*/2);
  {
    NoGradGuard no_grad;
    block.conv->weight.copy_(make({1, 0, 0, 0}, {2, 1, 2}));  // [2C, C, k]: a = x_{t-1}, b = 0
    block.conv->bias.zero_();
  }
  const double s = std::sqrt(0.5);
  expect_values(block(make({1, 2, 3}, {1, 1, 3})), {1 * s, 2.5 * s, 4 * s}, {1, 1, 3});
  EXPECT_ERROR(block(randn({1, 2, 3})), "GatedConvBlock: input must be [batch, 1 channels");
}

// Position t's output depends on ids [0, t] only: changing the token at 6
// leaves positions 0..5 bit for bit and changes 6 and later ones (3 layers
// of kernel 3 see 6 positions back).
TEST(GatedConvSequenceModel, IsCausal) {
  manual_seed(1);
  nn::GatedConvSequenceModel model(small_model());
  model.eval();
  Tensor ids = randint(1, 16, {2, 10});
  const Tensor before = model(ids);  // [2, 10, 16]
  Tensor changed = ids.clone();
  const int64_t old_id = ids.select(0, 1).select(0, 6).item<int64_t>();
  changed.select(0, 1).select(0, 6).fill_(old_id % 15 + 1);       // another real token
  const Tensor diff = (model(changed) - before).abs().amax({2});  // [2, 10]
  for (int64_t t = 0; t < 10; ++t) {
    EXPECT_EQ(diff.select(0, 0).select(0, t).item<float>(), 0.0f) << "other row, position " << t;
    if (t < 6) {
      EXPECT_EQ(diff.select(0, 1).select(0, t).item<float>(), 0.0f) << "position " << t;
    } else {
      EXPECT_GT(diff.select(0, 1).select(0, t).item<float>(), 0.0f) << "position " << t;
    }
  }
  // The same through the gradient: logits at position 3 send none to the
  // embeddings of tokens after it.
  model.zero_grad();
  const Tensor embedded_ids = ids_of({1, 2, 3, 4, 5, 6, 7, 8}, {1, 8});
  model(embedded_ids).select(1, 3).sum().backward();
  const Tensor grad = model.embedding->weight.grad();  // [16, 8]
  for (int64_t id = 1; id <= 8; ++id) {
    const float norm = grad.select(0, id).abs().sum().item<float>();
    if (id <= 4) {
      EXPECT_GT(norm, 0.0f) << "token " << id;
    } else {
      EXPECT_EQ(norm, 0.0f) << "token " << id;
    }
  }
}

// Padding, on either side, changes no real position's output: the blocks
// set it back to zero, so it reads as the zeros before the start.
TEST(GatedConvSequenceModel, PaddingDoesNotChangeRealPositions) {
  manual_seed(2);
  nn::GatedConvSequenceModel lm(small_model());
  lm.eval();
  const Tensor plain = lm(ids_of({4, 9, 2, 7}, {1, 4}));           // [1, 4, 16]
  const Tensor right = lm(ids_of({4, 9, 2, 7, 0, 0, 0}, {1, 7}));  // padding after
  const Tensor left = lm(ids_of({0, 0, 4, 9, 2, 7}, {1, 6}));      // padding before
  expect_close(right.narrow(1, 0, 4), plain, 1e-6, 1e-6);
  expect_close(left.narrow(1, 2, 4), plain, 1e-6, 1e-6);

  nn::GatedConvSequenceModelOptions options = small_model();
  options.num_classes = 2;
  nn::GatedConvSequenceModel classifier(options);
  classifier.eval();
  const Tensor logits = classifier(ids_of({4, 9, 2, 7}, {1, 4}));
  expect_close(classifier(ids_of({4, 9, 2, 7, 0, 0}, {1, 6})), logits, 1e-6, 1e-6);
  expect_close(classifier(ids_of({0, 4, 9, 2, 7, 0}, {1, 6})), logits, 1e-6, 1e-6);
}

TEST(GatedConvSequenceModel, BadOptionsAndInputsAreErrors) {
  auto with = [](auto change) {
    nn::GatedConvSequenceModelOptions options = small_model();
    change(options);
    return options;
  };
  EXPECT_ERROR(
      nn::GatedConvSequenceModel(with([](auto& o) { o.kernel_size = 0; })),
      "GatedConvSequenceModel: vocab_size, dim, num_layers and kernel_size must be positive");
  EXPECT_ERROR(nn::GatedConvSequenceModel(with([](auto& o) { o.vocab_size = 0; })),
               "must be positive");
  EXPECT_ERROR(nn::GatedConvSequenceModel(with([](auto& o) { o.num_layers = 0; })),
               "must be positive");
  EXPECT_ERROR(nn::GatedConvSequenceModel(with([](auto& o) { o.padding_idx = 16; })),
               "padding_idx must be an id of the vocabulary [0, 16), got 16");
  EXPECT_ERROR(nn::GatedConvSequenceModel(with([](auto& o) { o.num_classes = -1; })),
               "num_classes must be 0 (a language model) or positive, got -1");
  EXPECT_ERROR(nn::GatedConvSequenceModel(with([](auto& o) { o.dropout = -0.1; })),
               "dropout must be in [0, 1)");
  EXPECT_ERROR(nn::GatedConvBlock(4, 0), "GatedConvBlock");

  nn::GatedConvSequenceModel model(small_model());
  EXPECT_ERROR(model(randn({2, 5})), "ids must be int64 [batch, seq], got [2, 5] float32");
  EXPECT_ERROR(model(ids_of({1, 2, 3}, {3})), "got [3] int64");
  EXPECT_THROW(model(ids_of({1, 16}, {1, 2})), Error);  // an id outside the vocabulary
}

// Sequences that repeat a random 3-token pattern: from position 2 on, the
// next token is the one 2 back, which only a model that looks back (and
// not ahead) predicts. labels: the next token, -100 (ignored) where it is
// not determined yet and at the end.
std::pair<Tensor, Tensor> repeating_patterns(int64_t n, int64_t length, std::mt19937& rng) {
  std::uniform_int_distribution<int64_t> token(1, 15);
  std::vector<int64_t> ids(n * length);
  std::vector<int64_t> labels(n * length, -100);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t pattern[3] = {token(rng), token(rng), token(rng)};
    for (int64_t t = 0; t < length; ++t) ids[i * length + t] = pattern[t % 3];
    for (int64_t t = 2; t + 1 < length; ++t) labels[i * length + t] = ids[i * length + t + 1];
  }
  return {ids_of(ids, {n, length}), ids_of(labels, {n * length})};
}

// Accuracy over the labels that are not ignored.
double accuracy_where_labelled(const Tensor& logits, const Tensor& labels) {
  const Tensor labelled = ne(labels, scalar_tensor(int64_t{-100}));
  const Tensor right = logical_and(eq(logits.argmax(1), labels), labelled);
  return right.to(kFloat32).sum().item<float>() / labelled.to(kFloat32).sum().item<float>();
}

TEST(GatedConvSequenceModel, LanguageModelLearnsARepeatingPattern) {
  const testing::ScopedNumThreads one_thread(1);
  manual_seed(3);
  std::mt19937 rng(7);
  nn::GatedConvSequenceModelOptions options = small_model();
  options.dim = 32;
  options.num_layers = 2;
  nn::GatedConvSequenceModel model(options);
  const auto [test_ids, test_labels] = repeating_patterns(128, 12, rng);
  const auto logits_of = [&](const Tensor& ids) { return model(ids).reshape({-1, 16}); };
  const testing::TrainingRun run = testing::train_with_adam(model, 80, 1e-2, [&](int) {
    auto [ids, labels] = repeating_patterns(32, 12, rng);
    return std::pair{logits_of(ids), labels};
  });
  const double accuracy = accuracy_where_labelled(logits_of(test_ids), test_labels);
  testing::record_figures(run, accuracy);
  // Chance is 1/15.
  EXPECT_LT(run.last_loss, 0.2 * run.first_loss) << run.first_loss << " -> " << run.last_loss;
  EXPECT_GT(accuracy, 0.9);
}

// Sequences of 6 to 12 random tokens, right-padded to 12; label 1 where the
// bigram (3, 5) occurs, which the convolutions must find (each token alone
// says nothing: 3 and 5 also occur apart in both classes).
std::pair<Tensor, Tensor> bigram_sequences(int64_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int64_t> token(1, 15);
  std::uniform_int_distribution<int64_t> length_of(6, 12);
  std::bernoulli_distribution positive(0.5);
  std::vector<int64_t> ids(n * 12, 0);
  std::vector<int64_t> labels(n);
  for (int64_t i = 0; i < n; ++i) {
    int64_t* row = ids.data() + i * 12;
    const int64_t length = length_of(rng);
    for (int64_t t = 0; t < length; ++t) {
      row[t] = token(rng);
      if (t > 0 && row[t - 1] == 3 && row[t] == 5) row[t] = 6;  // no (3, 5) by chance
    }
    labels[i] = positive(rng) ? 1 : 0;
    if (labels[i] == 1) {
      const int64_t at = std::uniform_int_distribution<int64_t>(0, length - 2)(rng);
      row[at] = 3;
      row[at + 1] = 5;
    }
  }
  return {ids_of(ids, {n, 12}), from_vector(labels)};
}

TEST(GatedConvSequenceModel, ClassifierFindsABigram) {
  const testing::ScopedNumThreads one_thread(1);
  manual_seed(4);
  std::mt19937 rng(11);
  nn::GatedConvSequenceModelOptions options = small_model();
  options.dim = 32;
  options.num_layers = 2;
  options.kernel_size = 2;
  options.num_classes = 2;
  nn::GatedConvSequenceModel model(options);
  const auto [test_ids, test_labels] = bigram_sequences(256, rng);
  const testing::TrainingRun run = testing::train_with_adam(model, 150, 1e-2, [&](int) {
    auto [ids, labels] = bigram_sequences(64, rng);
    return std::pair{model(ids), labels};
  });
  const double accuracy = testing::accuracy(model(test_ids), test_labels);
  testing::record_figures(run, accuracy);
  // Chance is 1/2.
  EXPECT_LT(run.last_loss, 0.4 * run.first_loss) << run.first_loss << " -> " << run.last_loss;
  EXPECT_GT(accuracy, 0.9);
}

}  // namespace
}  // namespace toadstool
