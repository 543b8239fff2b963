#pragma once
// The modules and the optimizer behind the state_dict corpus and
// fuzz_state_dict: the corpus is their own state dicts (fuzz_tool
// make-corpus), and every fuzzed state dict is loaded into fresh copies, so
// a valid corpus file matches them exactly. Tiny (a load costs
// microseconds), but with every kind of entry a state dict holds: weights
// and biases, embeddings (token, hashed bigram, learned positions), a class
// token, layer norms, attention projections, and Adam's step counts and
// buffers in two parameter groups (one with amsgrad's third buffer).
#include <memory>
#include <vector>

#include "toadstool/toadstool.h"

namespace toadstool::fuzz {

struct StateDictModels {
  std::shared_ptr<nn::MLP> mlp;
  std::shared_ptr<nn::TransformerClassifier> transformer;
  std::shared_ptr<optim::Adam> optimizer;  // over mlp's parameters

  // Initialised from the default generator (make-corpus seeds it first).
  StateDictModels() {
    mlp = std::make_shared<nn::MLP>(std::vector<int64_t>{3, 4, 2});
    transformer = std::make_shared<nn::TransformerClassifier>(
        nn::TransformerClassifierOptions{.vocab_size = 8,
                                         .d_model = 4,
                                         .nhead = 2,
                                         .num_layers = 1,
                                         .dim_feedforward = 4,
                                         .max_len = 6,
                                         .pooling = "cls",
                                         .positional = "learned",
                                         .norm_first = true,
                                         .bigram_buckets = 4,
                                         .bigram_dim = 2});
    std::vector<Tensor> first, rest;
    for (const auto& [name, tensor] : mlp->named_parameters()) {
      (name.starts_with("layers.0.") ? first : rest).push_back(tensor);
    }
    optimizer = std::make_shared<optim::Adam>(
        std::vector<optim::ParamGroup>{{first, {{"amsgrad", 1.0}}}, {rest}},
        optim::AdamOptions{.lr = 1e-2});
  }

  // One optimizer step with every gradient 1, so that the optimizer has state.
  void step() {
    for (const Tensor& p : mlp->parameters()) p.set_grad(ones_like(p));
    optimizer->step();
  }
};

}  // namespace toadstool::fuzz
