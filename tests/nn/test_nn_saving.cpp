// Weights and optimizer state on disk: safetensors files written by PyTorch
// load into Toadstool modules and the other way round
// (tests/golden/make_nn_golden.py), and a training run saved and resumed
// through safetensors continues exactly.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "golden.h"
#include "temp_dir.h"
#include "test_util.h"

namespace toadstool {
namespace {

nn::TransformerEncoderLayerOptions small_encoder_layer() {
  nn::TransformerEncoderLayerOptions options;
  options.d_model = 16;
  options.nhead = 4;
  options.dim_feedforward = 32;
  options.dropout = 0.0;
  return options;
}

TEST(NnParity, LoadsALayerPyTorchSaved) {
  // encoder_layer.safetensors: the weights of case encoder_layer/0, written
  // by PyTorch's safetensors.
  nn::TransformerEncoderLayer layer(small_encoder_layer());
  layer.load_state_dict(
      load_safetensors(std::string(TOADSTOOL_GOLDEN_DIR) + "/encoder_layer.safetensors"));
  const auto cases = testing::load_golden("nn_modules.txt");
  const testing::GoldenCase& c = cases.at("encoder_layer/0");
  nn::MultiheadAttentionMasks masks;
  masks.key_padding_mask = c.at("padding");
  testing::expect_close(layer.forward(c.at("x"), masks), c.at("out"), 1e-5, 1e-5);
}

TEST(NnParity, SavesALayerPyTorchLoads) {
  // Saves a layer and its output on a fixed input; make_nn_golden.py
  // --check-ours points TOADSTOOL_SAVE_LAYER at a file PyTorch then loads.
  // Without it, the file goes to a temporary folder and a fresh Toadstool
  // layer loads it back.
  testing::TempDir dir;
  const char* target = std::getenv("TOADSTOOL_SAVE_LAYER");
  const std::string path = target != nullptr ? target : dir.file("layer.safetensors");
  nn::TransformerEncoderLayer layer(small_encoder_layer());
  const Tensor x = arange(2 * 5 * 16, kFloat32).view({2, 5, 16}).sin();
  const Tensor out = layer.forward(x);
  save_safetensors(path, layer.state_dict());
  TensorDict outputs;
  outputs.insert("out", out.detach());
  save_safetensors(
      path.substr(0, path.size() - std::string(".safetensors").size()) + ".out.safetensors",
      outputs);
  nn::TransformerEncoderLayer reloaded(small_encoder_layer());
  reloaded.load_state_dict(load_safetensors(path));
  testing::expect_close(reloaded.forward(x), out, 0, 0);
}

// Three AdamW steps, save model + optimizer (+ schedule) to safetensors,
// load into fresh objects, two more steps: the same weights as five steps
// straight.
TEST(NnSaving, TrainingResumesExactlyFromSafetensors) {
  testing::TempDir dir;
  const Tensor x = randn({8, 4});
  const Tensor y = randint(0, 3, {8});
  auto make = [](nn::MLP& model) {
    optim::AdamWOptions options;
    options.lr = 0.05;
    options.amsgrad = true;
    return std::make_unique<optim::AdamW>(model.parameters(), options);
  };
  auto train = [&](nn::MLP& model, optim::AdamW& optimizer, int steps) {
    nn::CrossEntropyLoss loss_fn;
    for (int i = 0; i < steps; ++i) {
      optimizer.zero_grad();
      loss_fn(model(x), y).backward();
      optimizer.step();
    }
  };
  manual_seed(5);
  nn::MLP straight({4, 6, 3});
  manual_seed(5);
  nn::MLP first({4, 6, 3});
  auto straight_opt = make(straight);
  train(straight, *straight_opt, 5);

  auto first_opt = make(first);
  train(first, *first_opt, 3);
  save_safetensors(dir.file("model.safetensors"), first.state_dict());
  save_safetensors(dir.file("optimizer.safetensors"), first_opt->state_dict());

  manual_seed(99);  // different initial weights: everything must come from the files
  nn::MLP resumed({4, 6, 3});
  resumed.load_state_dict(load_safetensors(dir.file("model.safetensors")));
  auto resumed_opt = make(resumed);
  resumed_opt->load_state_dict(load_safetensors(dir.file("optimizer.safetensors")));
  train(resumed, *resumed_opt, 2);
  const TensorDict expected = straight.state_dict();
  for (const auto& [name, tensor] : resumed.state_dict()) {
    testing::expect_close(tensor, expected.at(name), 0, 0);
  }
}

TEST(NnLosses, ModulesCallTheirOpsAndKeepWeightsAsBuffers) {
  const Tensor logits = randn({5, 3}), target = from_vector<int64_t>({0, 2, 1, 1, -100});
  CrossEntropyOptions options;
  options.weight = from_vector<double>({1.0, 2.0, 0.5}).to(kFloat32);
  options.label_smoothing = 0.1;
  nn::CrossEntropyLoss ce(options);
  testing::expect_close(ce(logits, target), cross_entropy(logits, target, options), 0, 0);
  EXPECT_EQ(ce.state_dict().keys(), std::vector<std::string>{"weight"});
  ce.to(kFloat64);
  EXPECT_EQ(ce.options.weight.dtype(), kFloat64);
  EXPECT_THROW(nn::CrossEntropyLoss(CrossEntropyOptions{.label_smoothing = 1.5}), Error);
  nn::NLLLoss nll;
  testing::expect_close(nll(log_softmax(logits, 1), target.clamp(0, std::nullopt)),
                        nll_loss(log_softmax(logits, 1), target.clamp(0, std::nullopt)), 0, 0);
  const Tensor probabilities = rand({5, 3});
  BCEWithLogitsOptions bce_options;
  bce_options.pos_weight = full({3}, 2.0);
  nn::BCEWithLogitsLoss bce(bce_options);
  testing::expect_close(bce(logits, probabilities),
                        binary_cross_entropy_with_logits(logits, probabilities, bce_options), 0, 0);
  EXPECT_EQ(bce.state_dict().keys(), std::vector<std::string>{"pos_weight"});
  nn::MSELoss mse(Reduction::sum);
  testing::expect_close(mse(logits, probabilities), ((logits - probabilities).pow(2)).sum(), 1e-6,
                        1e-6);
  EXPECT_EQ(mse.extra_repr(), "reduction=sum");
  EXPECT_THROW(ce(logits, from_vector<int64_t>({0, 1, 2, 3, 0})), Error);
}

}  // namespace
}  // namespace toadstool
