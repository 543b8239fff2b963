// Parity with PyTorch for the decoder side of the Transformer and
// MultiheadAttention's returned weights: PyTorch's modules with PyTorch's
// weights (tests/golden/data/decoder.txt, made by
// tests/golden/make_decoder_golden.py) loaded into ours by parameter name;
// outputs, input gradients and every parameter's gradient compared.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "golden.h"
#include "nn_parity.h"
#include "test_util.h"

namespace toadstool {
namespace {

using testing::expect_matches;
using testing::golden_params;
using testing::GoldenCase;
using testing::scalar;

int64_t integer(const GoldenCase& c, const std::string& label) {
  return static_cast<int64_t>(scalar(c, label));
}

// Loads the case's parameters into `module` after checking that the names
// are PyTorch's, all of them.
void load_pytorch_params(nn::Module& module, const GoldenCase& c) {
  const TensorDict params = golden_params(c);
  auto ours = module.state_dict().keys();
  std::sort(ours.begin(), ours.end());
  EXPECT_EQ(ours, params.keys());
  module.load_state_dict(params);
}

void expect_parameter_grads_match(const nn::Module& module, const GoldenCase& c) {
  for (const auto& [name, param] : module.named_parameters()) {
    expect_matches(param.grad(), c.at("grad." + name), 1e-5, "grad of " + name);
  }
}

// A leaf copy of a stored input, to collect its gradient.
Tensor leaf(const Tensor& stored) { return stored.clone().requires_grad_(); }

// The cases named prefix/<n>.
std::vector<const GoldenCase*> cases_named(const std::string& prefix) {
  static const auto all = testing::load_golden("decoder.txt");
  std::vector<const GoldenCase*> found;
  for (const auto& [name, c] : all) {
    if (name.rfind(prefix + "/", 0) == 0) found.push_back(&c);
  }
  return found;
}

TEST(NnParity, TransformerDecoderLayerOutputAndEveryGradientMatchPyTorch) {
  const auto found = cases_named("decoder_layer");
  ASSERT_EQ(found.size(), 2U);
  for (const GoldenCase* c : found) {
    nn::TransformerDecoderLayerOptions options;
    options.d_model = integer(*c, "d_model");
    options.nhead = integer(*c, "nhead");
    options.dim_feedforward = integer(*c, "dim_feedforward");
    options.activation = scalar(*c, "gelu") != 0 ? "gelu" : "relu";
    options.norm_first = scalar(*c, "norm_first") != 0;
    options.dropout = 0.0;
    SCOPED_TRACE(options.activation);
    nn::TransformerDecoderLayer layer(options);
    load_pytorch_params(layer, *c);

    nn::MultiheadAttentionMasks tgt_masks, memory_masks;
    if (c->count("memory_mask")) {
      memory_masks.attn_mask = c->at("memory_mask");
    } else {
      tgt_masks.is_causal = true;
      tgt_masks.key_padding_mask = c->at("tgt_padding");
      memory_masks.key_padding_mask = c->at("memory_padding");
    }
    const Tensor tgt = leaf(c->at("tgt"));
    const Tensor memory = leaf(c->at("memory"));
    const Tensor out = layer.forward(tgt, memory, tgt_masks, memory_masks);
    expect_matches(out, c->at("out"), 1e-5, "out");
    (out * c->at("r")).sum().backward();
    expect_matches(tgt.grad(), c->at("grad_tgt"), 1e-5, "grad of tgt");
    expect_matches(memory.grad(), c->at("grad_memory"), 1e-5, "grad of memory");
    expect_parameter_grads_match(layer, *c);
  }
}

TEST(NnParity, TransformerOutputAndEveryGradientMatchPyTorch) {
  const auto found = cases_named("transformer");
  ASSERT_EQ(found.size(), 2U);
  for (const GoldenCase* c : found) {
    nn::TransformerOptions options;
    options.d_model = integer(*c, "d_model");
    options.nhead = integer(*c, "nhead");
    options.dim_feedforward = integer(*c, "dim_feedforward");
    options.num_encoder_layers = integer(*c, "num_encoder_layers");
    options.num_decoder_layers = integer(*c, "num_decoder_layers");
    options.norm_first = scalar(*c, "norm_first") != 0;
    options.dropout = 0.0;
    SCOPED_TRACE(options.norm_first ? "pre-norm" : "post-norm");
    nn::Transformer model(options);
    load_pytorch_params(model, *c);

    nn::TransformerMasks masks;
    masks.src.key_padding_mask = c->at("src_padding");
    masks.memory.key_padding_mask = c->at("src_padding");
    masks.tgt.is_causal = true;
    const Tensor src = leaf(c->at("src"));
    const Tensor tgt = leaf(c->at("tgt"));
    const Tensor out = model.forward(src, tgt, masks);
    expect_matches(out, c->at("out"), 1e-5, "out");
    (out * c->at("r")).sum().backward();
    expect_matches(src.grad(), c->at("grad_src"), 1e-5, "grad of src");
    expect_matches(tgt.grad(), c->at("grad_tgt"), 1e-5, "grad of tgt");
    expect_parameter_grads_match(model, *c);
  }
}

TEST(NnParity, MultiheadAttentionReturnedWeightsMatchPyTorch) {
  const auto found = cases_named("mha_weights");
  ASSERT_EQ(found.size(), 2U);
  for (const GoldenCase* c : found) {
    const Tensor& query = c->at("query");
    const bool average = scalar(*c, "average") != 0;
    SCOPED_TRACE(average ? "averaged" : "per head");
    nn::MultiheadAttention mha(query.size(2), integer(*c, "num_heads"));
    load_pytorch_params(mha, *c);
    nn::MultiheadAttentionMasks masks;
    masks.key_padding_mask = c->at("padding");
    const auto [out, weights] =
        mha.forward_with_weights(query, c->at("key"), c->at("key"), masks, average);
    expect_matches(out, c->at("out"), 1e-5, "out");
    expect_matches(weights, c->at("weights"), 1e-5, "weights");
    ((out * c->at("r")).sum() + (weights * c->at("rw")).sum()).backward();
    expect_parameter_grads_match(mha, *c);
  }
}

}  // namespace
}  // namespace toadstool
