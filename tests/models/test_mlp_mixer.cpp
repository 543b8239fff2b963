// nn::MlpMixer and nn::MixerBlock: shapes, parameter names, what each mixing
// step mixes, bad options and inputs, and a short training run on
// synthetic images.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_util.h"
#include "toadstool/nn/zoo/mlp_mixer.h"
#include "zoo_training.h"

namespace toadstool {
namespace {

using testing::expect_close;

// 8 x 8 one-channel images in 2 x 2 patches: 16 tokens of width 8.
nn::MlpMixerOptions small_mixer() {
  return {.image_size = 8,
          .channels = 1,
          .patch_size = 2,
          .dim = 8,
          .depth = 2,
          .token_mlp_dim = 12,
          .channel_mlp_dim = 16,
          .num_classes = 4};
}

TEST(MlpMixer, ShapesAndParameterNames) {
  manual_seed(0);
  nn::MlpMixerOptions options = small_mixer();
  options.channels = 3;
  nn::MlpMixer model(options);
  EXPECT_EQ(model.num_tokens(), 16);
  EXPECT_EQ(model(randn({5, 3, 8, 8})).shape(), (Shape{5, 4}));
  std::vector<std::string> names;
  for (const auto& [name, p] : model.named_parameters()) names.push_back(name);
  const std::vector<std::string> expected = {
      "stem.weight",  // [8, 3, 2, 2]: one projection of each 2 x 2 x 3 patch
      "stem.bias",
      "blocks.0.norm1.weight",
      "blocks.0.norm1.bias",
      "blocks.0.mlp_tokens.layers.0.weight",  // [12, 16]: over the tokens
      "blocks.0.mlp_tokens.layers.0.bias",
      "blocks.0.mlp_tokens.layers.2.weight",  // [16, 12]
      "blocks.0.mlp_tokens.layers.2.bias",
      "blocks.0.norm2.weight",
      "blocks.0.norm2.bias",
      "blocks.0.mlp_channels.layers.0.weight",  // [16, 8]: over the channels
      "blocks.0.mlp_channels.layers.0.bias",
      "blocks.0.mlp_channels.layers.2.weight",  // [8, 16]
      "blocks.0.mlp_channels.layers.2.bias",
  };
  ASSERT_EQ(names.size(), 2 + 2 * 12 + 4);  // stem, 2 blocks, norm, head
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(names[i], expected[i]);
  EXPECT_EQ(names[14], "blocks.1.norm1.weight");
  EXPECT_EQ(names[26], "norm.weight");
  EXPECT_EQ(names[28], "head.weight");
  EXPECT_EQ(model.stem->weight.shape(), (Shape{8, 3, 2, 2}));
  EXPECT_EQ(model.blocks->size(), 2u);
  auto block = std::dynamic_pointer_cast<nn::MixerBlock>((*model.blocks)[0]);
  ASSERT_TRUE(block);
  EXPECT_EQ(block->mlp_tokens->layers->size(), 3u);  // Linear, GELU, Linear
  EXPECT_EQ(model.head->weight.shape(), (Shape{4, 8}));
  EXPECT_EQ(model.extra_repr(), "image_size=8, patch_size=2, num_tokens=16");
  EXPECT_EQ(block->extra_repr(), "num_tokens=16, dim=8");
  EXPECT_NE(model.summary().find("MixerBlock("), std::string::npos);
}

// The patch embedding is one Linear map of each patch: a pixel changes its
// own patch's token and no other (before any mixing).
TEST(MlpMixer, StemEmbedsEachPatchOnItsOwn) {
  manual_seed(1);
  nn::MlpMixer model(small_mixer());
  Tensor images = randn({1, 1, 8, 8});
  const Tensor before = model.stem->forward(images).flatten(2);  // [1, 8, 16]
  {
    NoGradGuard no_grad;
    images.select(2, 5).select(2, 2).add_(1.0);  // row 5, column 2: patch (2, 1), token 9
  }
  const Tensor changed = (model.stem->forward(images).flatten(2) - before).abs().sum({0, 1});
  for (int64_t token = 0; token < 16; ++token) {
    if (token == 9) {
      EXPECT_GT(changed.select(0, token).item<float>(), 0.0f);
    } else {
      EXPECT_EQ(changed.select(0, token).item<float>(), 0.0f) << token;
    }
  }
}

// Token mixing moves information between tokens, channel mixing does not:
// with the token MLP's output zeroed, a change in one token stays in it.
TEST(MlpMixer, TokenMixingIsTheOnlyPathBetweenTokens) {
  manual_seed(2);
  nn::MixerBlock block(/*num_tokens=*/6, /*dim=*/4, /*token_mlp_dim=*/8, /*channel_mlp_dim=*/8);
  block.eval();
  Tensor x = randn({2, 6, 4});
  Tensor moved = x.clone();
  {
    NoGradGuard no_grad;
    // Not a constant: norm1 would take a constant shift of a token away.
    moved.select(1, 3).add_(testing::make({1, -2, 0.5, 3}, {4}));
  }
  // With token mixing: every token's output changes.
  const Tensor mixed = (block(moved) - block(x)).abs().sum({0, 2});  // [6]
  for (int64_t token = 0; token < 6; ++token) EXPECT_GT(mixed.select(0, token).item<float>(), 0);
  // Without it (its last Linear zeroed), only token 3 does.
  auto token_out = std::dynamic_pointer_cast<nn::Linear>((*block.mlp_tokens->layers)[2]);
  ASSERT_TRUE(token_out);
  {
    NoGradGuard no_grad;
    token_out->weight.zero_();
    token_out->bias.zero_();
  }
  const Tensor kept = (block(moved) - block(x)).abs().sum({0, 2});
  for (int64_t token = 0; token < 6; ++token) {
    if (token == 3) {
      EXPECT_GT(kept.select(0, token).item<float>(), 0);
    } else {
      EXPECT_EQ(kept.select(0, token).item<float>(), 0) << token;
    }
  }
}

TEST(MlpMixer, BadOptionsAndInputsAreErrors) {
  auto with = [](auto change) {
    nn::MlpMixerOptions options = small_mixer();
    change(options);
    return options;
  };
  EXPECT_ERROR(nn::MlpMixer(with([](auto& o) { o.patch_size = 3; })),
               "MlpMixer: image_size 8 must be divisible by patch_size 3");
  EXPECT_ERROR(nn::MlpMixer(with([](auto& o) { o.dim = 0; })), "must be positive");
  EXPECT_ERROR(nn::MlpMixer(with([](auto& o) { o.patch_size = -2; })), "must be positive");
  EXPECT_ERROR(nn::MlpMixer(with([](auto& o) { o.num_classes = 0; })), "must be positive");
  EXPECT_ERROR(nn::MlpMixer(with([](auto& o) { o.depth = -1; })), "depth must be non-negative");
  EXPECT_ERROR(nn::MlpMixer(with([](auto& o) { o.dropout = 1.0; })), "dropout must be in [0, 1)");
  EXPECT_ERROR(nn::MixerBlock(4, 8, 0, 8), "MixerBlock");
  // depth 0 is the stem, norm and head alone.
  nn::MlpMixer shallow(with([](auto& o) { o.depth = 0; }));
  EXPECT_EQ(shallow(randn({2, 1, 8, 8})).shape(), (Shape{2, 4}));

  nn::MlpMixer model(small_mixer());
  EXPECT_ERROR(model(randn({2, 3, 8, 8})), "images must be [batch, 1, 8, 8], got [2, 3, 8, 8]");
  EXPECT_ERROR(model(randn({2, 1, 8, 6})), "got [2, 1, 8, 6]");
  EXPECT_ERROR(model(randn({1, 8, 8})), "got [1, 8, 8]");
  nn::MixerBlock block(4, 8, 8, 8);
  EXPECT_ERROR(block(randn({2, 5, 8})),
               "MixerBlock: input must be [batch, 4 tokens, 8], got [2, 5, 8]");
}

// Images [N, 1, 8, 8] of noise with one bright 4 x 4 quadrant; the label
// is the quadrant (0 top left, 1 top right, 2 bottom left, 3 bottom right).
std::pair<Tensor, Tensor> quadrant_images(int64_t n, Generator& generator) {
  Tensor images = randn({n, 1, 8, 8}, {}, &generator) * 0.5;
  const Tensor labels = randint(0, 4, {n}, kInt64, &generator);
  const int64_t* label = labels.data_ptr<int64_t>();
  NoGradGuard no_grad;
  for (int64_t i = 0; i < n; ++i) {
    Tensor quadrant =
        images.select(0, i).narrow(1, 4 * (label[i] / 2), 4).narrow(2, 4 * (label[i] % 2), 4);
    quadrant.add_(1.0);
  }
  return {images, labels};
}

TEST(MlpMixer, LearnsWhichQuadrantIsBright) {
  const testing::ScopedNumThreads one_thread(1);
  manual_seed(3);
  Generator data(42);
  nn::MlpMixer model(small_mixer());
  const auto [test_images, test_labels] = quadrant_images(256, data);
  model.eval();
  const double before = testing::accuracy(model(test_images), test_labels);
  const testing::TrainingRun run = testing::train_with_adam(model, 60, 1e-2, [&](int) {
    auto [images, labels] = quadrant_images(64, data);
    return std::pair{model(images), labels};
  });
  const double after = testing::accuracy(model(test_images), test_labels);
  testing::record_figures(run, after);
  RecordProperty("accuracy_before", std::to_string(before));
  // Chance is 0.25; a model that learned nothing stays near it.
  EXPECT_LT(run.last_loss, 0.3 * run.first_loss) << run.first_loss << " -> " << run.last_loss;
  EXPECT_GT(after, 0.9) << "accuracy " << before << " -> " << after;
}

}  // namespace
}  // namespace toadstool
