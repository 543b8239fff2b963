// Bad-input rows of modules, losses, state dicts, optimizers and LR
// schedules (docs/bad_input.md).
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>

#include "bad_input_rows.h"
#include "toadstool/toadstool.h"

namespace toadstool::testing {

namespace {

std::vector<Tensor> one_param() { return {zeros({2, 2}).requires_grad_()}; }

}  // namespace

std::vector<BadInputRow> nn_bad_input_rows() {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  return {
      // --- modules ----------------------------------------------------------------------------
      {"LinearInFeatures",
       "nn",
       "Linear(4, 2) on input [3, 5]",
       [] {
         nn::Linear(4, 2).forward(zeros({3, 5}));
       },
       {"Linear", "[3, 5]", "4"}},
      {"LinearUndefinedInput",
       "nn",
       "Linear on an undefined tensor",
       [] { nn::Linear(4, 2).forward(Tensor()); },
       {"Linear", "undefined"}},
      {"LinearZeroFeatures", "nn", "Linear(0, 2)", [] { nn::Linear(0, 2); }, {"Linear", "0"}},
      {"LinearIntegerInput",
       "nn",
       "Linear on an int64 input",
       [] {
         nn::Linear(2, 2).forward(zeros({3, 2}, kInt64));
       },
       {"linear", "int64"}},
      {"EmbeddingIdOutOfRange",
       "nn",
       "Embedding(10, 4) on id 10",
       [] {
         nn::Embedding(10, 4).forward(from_vector<int64_t>({1, 10}));
       },
       {"embedding", "10"}},
      {"EmbeddingNegativeId",
       "nn",
       "Embedding(10, 4) on id -1",
       [] { nn::Embedding(10, 4).forward(from_vector<int64_t>({-1})); },
       {"embedding", "-1", "10"}},
      {"EmbeddingFloatIds",
       "nn",
       "Embedding on float32 ids",
       [] { nn::Embedding(10, 4).forward(zeros({3})); },
       {"embedding", "int64", "float32"}},
      {"EmbeddingPaddingIdx",
       "nn",
       "Embedding(10, 4, padding_idx 10)",
       [] { nn::Embedding(10, 4, 10); },
       {"Embedding", "padding_idx", "10"}},
      {"LayerNormShape",
       "nn",
       "LayerNorm([8]) on input [2, 6]",
       [] {
         nn::LayerNorm({8}).forward(zeros({2, 6}));
       },
       {"layer_norm", "[8]", "[2, 6]"}},
      {"AttentionHeadsDivide",
       "nn",
       "MultiheadAttention(10, 3): 10 not a multiple of 3",
       [] { nn::MultiheadAttention(10, 3); },
       {"MultiheadAttention", "10", "3"}},
      {"AttentionEmbedDim",
       "nn",
       "MultiheadAttention(8, 2) on input [2, 5, 6]",
       [] {
         nn::MultiheadAttention(8, 2).forward(zeros({2, 5, 6}));
       },
       {"MultiheadAttention", "[2, 5, 6]", "8"}},
      {"AttentionPaddingMaskShape",
       "nn",
       "key_padding_mask [2, 4] for keys [2, 5]",
       [] {
         nn::MultiheadAttentionMasks masks;
         masks.key_padding_mask = zeros({2, 4}, kBool);
         nn::MultiheadAttention(8, 2).forward(zeros({2, 5, 8}), masks);
       },
       {"MultiheadAttention", "key_padding_mask", "[2, 5]", "[2, 4]"}},
      {"AttentionMaskShape",
       "nn",
       "attn_mask [3, 3] for 5 queries and keys",
       [] {
         nn::MultiheadAttentionMasks masks;
         masks.attn_mask = zeros({3, 3}, kBool);
         nn::MultiheadAttention(8, 2).forward(zeros({2, 5, 8}), masks);
       },
       {"MultiheadAttention", "attn_mask", "[5, 5]", "[3, 3]"}},
      {"AttentionCausalAndMask",
       "nn",
       "is_causal together with an attn_mask",
       [] {
         nn::MultiheadAttentionMasks masks;
         masks.attn_mask = zeros({5, 5}, kBool);
         masks.is_causal = true;
         nn::MultiheadAttention(8, 2).forward(zeros({2, 5, 8}), masks);
       },
       {"is_causal", "attn_mask"}},
      {"MlpTooFewSizes",
       "nn",
       "MLP with one size",
       [] { nn::MLP(std::vector<int64_t>{4}); },
       {"MLP", "sizes"}},
      // --- losses -----------------------------------------------------------------------------
      {"CrossEntropyTargetOutOfRange",
       "nn",
       "cross_entropy with class 3 of 3 classes",
       [] {
         cross_entropy(zeros({2, 3}), from_vector<int64_t>({0, 3}));
       },
       {"cross_entropy", "target 3", "3"}},
      {"CrossEntropyNegativeTarget",
       "nn",
       "cross_entropy with class -2 (not ignore_index)",
       [] {
         cross_entropy(zeros({2, 3}), from_vector<int64_t>({-2, 0}));
       },
       {"cross_entropy", "-2"}},
      {"CrossEntropyTargetShape",
       "nn",
       "cross_entropy logits [4, 3], targets [5]",
       [] {
         cross_entropy(zeros({4, 3}), zeros({5}, kInt64));
       },
       {"cross_entropy", "[5]", "[4]"}},
      {"CrossEntropyFloatTargets",
       "nn",
       "cross_entropy with float32 targets",
       [] {
         cross_entropy(zeros({4, 3}), zeros({4}));
       },
       {"cross_entropy", "int64", "float32"}},
      {"CrossEntropyLabelSmoothing",
       "nn",
       "cross_entropy label_smoothing 1.5",
       [] {
         cross_entropy(zeros({4, 3}), zeros({4}, kInt64), {.label_smoothing = 1.5});
       },
       {"cross_entropy", "label_smoothing", "1.5"}},
      {"CrossEntropyClassWeights",
       "nn",
       "cross_entropy class weights [2] for 3 classes",
       [] {
         cross_entropy(zeros({4, 3}), zeros({4}, kInt64), {.weight = ones({2})});
       },
       {"cross_entropy", "weight", "[2]"}},
      {"MseShapes",
       "nn",
       "mse_loss of [4, 1] and [3, 1]",
       [] {
         mse_loss(zeros({4, 1}), zeros({3, 1}));
       },
       {"mse_loss", "[4, 1]", "[3, 1]"}},
      {"BceShapes",
       "nn",
       "binary_cross_entropy_with_logits of [4] and [4, 1]",
       [] {
         binary_cross_entropy_with_logits(zeros({4}), zeros({4, 1}));
       },
       {"binary_cross_entropy_with_logits", "[4]", "[4, 1]"}},
      // --- state dicts ------------------------------------------------------------------------
      {"StateDictMissingKey",
       "state dict",
       "strict load without 'bias'",
       [] {
         nn::Linear model(3, 2);
         TensorDict d = model.state_dict();
         TensorDict partial;
         partial.insert("weight", d.at("weight"));
         model.load_state_dict(partial);
       },
       {"load_state_dict", "Missing", "'bias'"}},
      {"StateDictExtraKey",
       "state dict",
       "strict load with an extra 'scale'",
       [] {
         nn::Linear model(3, 2);
         TensorDict d = model.state_dict();
         d.insert("scale", ones({1}));
         model.load_state_dict(d);
       },
       {"load_state_dict", "Unexpected", "'scale'"}},
      {"StateDictWrongShape",
       "state dict",
       "'weight' [2, 4] into Linear(3, 2), strict",
       [] {
         nn::Linear model(3, 2);
         TensorDict d = model.state_dict();
         d.set("weight", zeros({2, 4}));
         model.load_state_dict(d);
       },
       {"load_state_dict", "'weight'", "[2, 4]", "[2, 3]"}},
      {"StateDictWrongShapeNotStrict",
       "state dict",
       "the same with strict = false (as PyTorch: still an Error)",
       [] {
         nn::Linear model(3, 2);
         TensorDict d = model.state_dict();
         d.set("weight", zeros({2, 4}));
         model.load_state_dict(d, /*strict=*/false);
       },
       {"load_state_dict", "'weight'", "[2, 4]", "[2, 3]"}},
      {"StateDictUndefinedEntry",
       "state dict",
       "'weight' an undefined tensor",
       [] {
         nn::Linear model(3, 2);
         TensorDict d = model.state_dict();
         d.set("weight", Tensor());
         model.load_state_dict(d);
       },
       {"load_state_dict", "'weight'", "undefined"}},
      {"OptimizerStateDictOtherModel",
       "state dict",
       "an SGD state dict into an optimizer with 2 params",
       [] {
         optim::SGD a(one_param(), {.lr = 0.1, .momentum = 0.9});
         optim::SGD b({zeros({2}).requires_grad_(), zeros({2}).requires_grad_()},
                      {.lr = 0.1, .momentum = 0.9});
         b.load_state_dict(a.state_dict());
       },
       {"SGD", "load_state_dict", "1", "2"}},
      // --- optimizers -------------------------------------------------------------------------
      {"SgdNegativeLr",
       "optim",
       "SGD lr -0.1",
       [] { optim::SGD(one_param(), {.lr = -0.1}); },
       {"SGD", "learning rate", "-0.1"}},
      {"SgdNanLr",
       "optim",
       "SGD lr NaN",
       [=] { optim::SGD(one_param(), {.lr = nan}); },
       {"SGD", "learning rate", "nan"}},
      {"SgdNegativeMomentum",
       "optim",
       "SGD momentum -0.5",
       [] { optim::SGD(one_param(), {.lr = 0.1, .momentum = -0.5}); },
       {"SGD", "momentum", "-0.5"}},
      {"AdamBeta1",
       "optim",
       "Adam betas (1.0, 0.999)",
       [] {
         optim::Adam(one_param(), {.betas = {1.0, 0.999}});
       },
       {"Adam", "beta", "index 0", "1"}},
      {"AdamBeta2",
       "optim",
       "Adam betas (0.9, -0.1)",
       [] {
         optim::Adam(one_param(), {.betas = {0.9, -0.1}});
       },
       {"Adam", "beta", "index 1", "-0.1"}},
      {"AdamWeightDecay",
       "optim",
       "AdamW weight_decay -0.01",
       [] {
         optim::AdamWOptions o;
         o.weight_decay = -0.01;
         optim::AdamW(one_param(), o);
       },
       {"AdamW", "weight_decay", "-0.01"}},
      {"AdamNegativeEps",
       "optim",
       "Adam eps -1e-8",
       [] { optim::Adam(one_param(), {.eps = -1e-8}); },
       {"Adam", "epsilon", "-1e-08"}},
      {"OptimizerNoParams",
       "optim",
       "Adam over an empty parameter list",
       [] { optim::Adam(std::vector<Tensor>{}); },
       {"Adam", "at least one parameter"}},
      {"OptimizerIntegerParam",
       "optim",
       "SGD over an int64 tensor",
       [] { optim::SGD({zeros({2}, kInt64)}, {.lr = 0.1}); },
       {"SGD", "parameter 0", "int64"}},
      {"OptimizerDuplicateParam",
       "optim",
       "the same parameter twice",
       [] {
         Tensor p = zeros({2}).requires_grad_();
         optim::SGD({p, p}, {.lr = 0.1});
       },
       {"SGD", "parameter 1", "[2]"}},
      {"ClipGradNegativeNorm",
       "optim",
       "clip_grad_norm_ with max_norm -1",
       [] { nn::clip_grad_norm_(one_param(), -1.0); },
       {"clip_grad_norm_", "-1"}},
      {"ClipGradNonFinite",
       "optim",
       "clip_grad_norm_ of a NaN gradient with error_if_nonfinite",
       [=] {
         Tensor p = zeros({2}).requires_grad_();
         p.set_grad(full({2}, nan));
         nn::clip_grad_norm_({p}, 1.0, 2.0, /*error_if_nonfinite=*/true);
       },
       {"clip_grad_norm_", "nan", "error_if_nonfinite"}},
      // --- LR schedules -----------------------------------------------------------------------
      {"StepLrZeroStep",
       "lr schedule",
       "StepLR step_size 0",
       [] {
         optim::SGD sgd(one_param(), {.lr = 0.1});
         optim::StepLR(sgd, 0);
       },
       {"StepLR", "step_size", "0"}},
      {"CosineZeroTmax",
       "lr schedule",
       "CosineAnnealingLR T_max 0",
       [] {
         optim::SGD sgd(one_param(), {.lr = 0.1});
         optim::CosineAnnealingLR(sgd, 0);
       },
       {"CosineAnnealingLR", "T_max", "0"}},
      {"LinearLrFactor",
       "lr schedule",
       "LinearLR start_factor 0",
       [] {
         optim::SGD sgd(one_param(), {.lr = 0.1});
         optim::LinearLR(sgd, 0.0);
       },
       {"LinearLR", "start_factor", "0"}},
      {"OneCycleNoSteps",
       "lr schedule",
       "OneCycleLR without total_steps or epochs",
       [] {
         optim::SGD sgd(one_param(), {.lr = 0.1, .momentum = 0.9});
         optim::OneCycleLR(sgd, {.max_lr = {0.1}});
       },
       {"OneCycleLR", "epochs", "steps_per_epoch"}},
      {"OneCyclePastTheEnd",
       "lr schedule",
       "OneCycleLR stepped past total_steps",
       [] {
         optim::SGD sgd(one_param(), {.lr = 0.1, .momentum = 0.9});
         optim::OneCycleLR schedule(sgd, {.max_lr = {0.1}, .total_steps = 2});
         for (int i = 0; i < 3; ++i) schedule.step();
       },
       {"OneCycleLR", "step", "2"}},
      {"PlateauFactor",
       "lr schedule",
       "ReduceLROnPlateau factor 1.5",
       [] {
         optim::SGD sgd(one_param(), {.lr = 0.1});
         optim::ReduceLROnPlateau(sgd, {.factor = 1.5});
       },
       {"ReduceLROnPlateau", "factor", "1.5"}},
      {"PlateauMode",
       "lr schedule",
       "ReduceLROnPlateau mode \"up\"",
       [] {
         optim::SGD sgd(one_param(), {.lr = 0.1});
         optim::ReduceLROnPlateau(sgd, {.mode = "up"});
       },
       {"ReduceLROnPlateau", "mode", "up"}},
  };
}

}  // namespace toadstool::testing
