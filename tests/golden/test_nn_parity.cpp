// Parity with PyTorch, in the manner of llm.c's test against its PyTorch
// twin: PyTorch's modules with PyTorch's weights (tests/golden/data/nn_modules.txt,
// made by tests/golden/make_nn_golden.py) loaded into ours by parameter name.
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

TEST(NnParity, TransformerEncoderLayerOutputAndEveryGradientMatchPyTorch) {
  const auto cases = testing::load_golden("nn_modules.txt");
  int checked = 0;
  for (const auto& [name, c] : cases) {
    if (name.rfind("encoder_layer/", 0) != 0) continue;
    SCOPED_TRACE(name);
    nn::TransformerEncoderLayerOptions options;
    options.d_model = static_cast<int64_t>(scalar(c, "d_model"));
    options.nhead = static_cast<int64_t>(scalar(c, "nhead"));
    options.dim_feedforward = static_cast<int64_t>(scalar(c, "dim_feedforward"));
    options.activation = scalar(c, "gelu") != 0 ? "gelu" : "relu";
    options.norm_first = scalar(c, "norm_first") != 0;
    options.dropout = 0.0;
    nn::TransformerEncoderLayer layer(options);
    const TensorDict params = golden_params(c);
    // Same names as PyTorch's, all of them (the golden reader sorts them).
    auto ours = layer.state_dict().keys();
    std::sort(ours.begin(), ours.end());
    EXPECT_EQ(ours, params.keys());
    layer.load_state_dict(params);

    nn::MultiheadAttentionMasks masks;
    masks.key_padding_mask = c.at("padding");
    const Tensor out = layer.forward(c.at("x"), masks);
    expect_matches(out, c.at("out"), 1e-5, "out");
    (out * c.at("r")).sum().backward();
    for (const auto& [param_name, param] : layer.named_parameters()) {
      expect_matches(param.grad(), c.at("grad." + param_name), 1e-5, "grad of " + param_name);
    }
    ++checked;
  }
  EXPECT_EQ(checked, 2);
}

// PyTorch's Conv1d / Conv2d (tests/golden/make_conv_golden.py: stride,
// padding, "same", dilation, groups, no bias) with their weights loaded into
// ours: the output and the gradients of input, weight and bias.
TEST(NnParity, ConvolutionsOutputAndEveryGradientMatchPyTorch) {
  const auto cases = testing::load_golden("conv.txt");
  int checked = 0;
  for (const auto& [name, c] : cases) {
    SCOPED_TRACE(name);
    ConvOptions options;
    options.stride = testing::int_values(c.at("stride"));
    options.padding = testing::int_values(c.at("padding"));
    options.padding_same = scalar(c, "same") != 0;
    options.dilation = testing::int_values(c.at("dilation"));
    options.groups = static_cast<int64_t>(scalar(c, "groups"));
    const auto in = static_cast<int64_t>(scalar(c, "in_channels"));
    const auto out_channels = static_cast<int64_t>(scalar(c, "out_channels"));
    const Shape kernel = testing::int_values(c.at("kernel_size"));
    const bool bias = scalar(c, "bias") != 0;
    std::shared_ptr<nn::ConvNd> conv;
    if (name.rfind("conv1d/", 0) == 0) {
      conv = std::make_shared<nn::Conv1d>(in, out_channels, kernel.at(0), options, bias);
    } else {
      conv = std::make_shared<nn::Conv2d>(in, out_channels, kernel, options, bias);
    }
    const TensorDict params = golden_params(c);
    auto ours = conv->state_dict().keys();
    std::sort(ours.begin(), ours.end());
    EXPECT_EQ(ours, params.keys());
    conv->load_state_dict(params);

    const Tensor x = c.at("x").clone().requires_grad_(true);
    const Tensor out = conv->forward(x);
    expect_matches(out, c.at("out"), 1e-5, "out");
    (out * c.at("r")).sum().backward();
    expect_matches(x.grad(), c.at("grad_x"), 1e-5, "grad of x");
    for (const auto& [param_name, param] : conv->named_parameters()) {
      expect_matches(param.grad(), c.at("grad." + param_name), 1e-5, "grad of " + param_name);
    }
    ++checked;
  }
  EXPECT_EQ(checked, 6);
}

// PyTorch's pooling functions (tests/golden/make_conv_golden.py): the output
// and the input's gradient.
TEST(NnParity, PoolingOutputAndGradientMatchPyTorch) {
  const auto cases = testing::load_golden("pooling.txt");
  int checked = 0;
  for (const auto& [name, c] : cases) {
    SCOPED_TRACE(name);
    const std::string op = name.substr(0, name.find('/'));
    const GoldenCase& golden = c;  // a lambda cannot capture a structured binding here
    auto list = [&golden](const char* label) { return testing::int_values(golden.at(label)); };
    PoolOptions options;
    if (c.count("kernel_size") != 0) {
      options.kernel_size = list("kernel_size");
      options.stride = list("stride");
      options.padding = list("padding");
    }
    if (c.count("dilation") != 0) options.dilation = list("dilation");
    if (c.count("count_include_pad") != 0) options.count_include_pad = list("count_include_pad")[0];
    const Tensor x = c.at("x").clone().requires_grad_(true);
    Tensor out;
    if (op == "max_pool1d") out = max_pool1d(x, options);
    if (op == "max_pool2d") out = max_pool2d(x, options);
    if (op == "avg_pool1d") out = avg_pool1d(x, options);
    if (op == "avg_pool2d") out = avg_pool2d(x, options);
    if (op == "adaptive_avg_pool1d") out = adaptive_avg_pool1d(x, list("output_size")[0]);
    if (op == "adaptive_avg_pool2d") out = adaptive_avg_pool2d(x, list("output_size"));
    ASSERT_TRUE(out.defined()) << "no runner for " << op;
    expect_matches(out, c.at("out"), 1e-6, "out");
    (out * c.at("r")).sum().backward();
    expect_matches(x.grad(), c.at("grad_x"), 1e-6, "grad of x");
    ++checked;
  }
  EXPECT_EQ(checked, 7);
}

// PyTorch's BatchNorm1d / 2d and GroupNorm with its (perturbed) affine
// parameters: a training forward's output and gradients; for batch norm the
// running statistics after a second training batch, and an eval forward.
TEST(NnParity, NormalizationLayersMatchPyTorch) {
  const auto cases = testing::load_golden("normalization.txt");
  int checked = 0;
  for (const auto& [name, c] : cases) {
    SCOPED_TRACE(name);
    const Tensor x = c.at("x").clone().requires_grad_(true);
    const int64_t channels = x.size(1);
    std::shared_ptr<nn::UnaryModule> layer;
    if (name.rfind("group_norm/", 0) == 0) {
      layer =
          std::make_shared<nn::GroupNorm>(static_cast<int64_t>(scalar(c, "num_groups")), channels);
    } else {
      // momentum 0.3 in the second 1-d case (make_conv_golden.py).
      const double momentum = name == "batch_norm1d/1" ? 0.3 : 0.1;
      if (name.rfind("batch_norm2d/", 0) == 0) {
        layer =
            std::make_shared<nn::BatchNorm2d>(channels, nn::BatchNormOptions{.momentum = momentum});
      } else {
        layer =
            std::make_shared<nn::BatchNorm1d>(channels, nn::BatchNormOptions{.momentum = momentum});
      }
    }
    // The parameters; the buffers start as PyTorch's (zeros, ones, 0).
    layer->load_state_dict(golden_params(c), /*strict=*/false);
    const Tensor out = layer->forward(x);
    expect_matches(out, c.at("out"), 1e-5, "out");
    (out * c.at("r")).sum().backward();
    expect_matches(x.grad(), c.at("grad_x"), 1e-5, "grad of x");
    for (const auto& [param_name, param] : layer->named_parameters()) {
      expect_matches(param.grad(), c.at("grad." + param_name), 1e-5, "grad of " + param_name);
    }
    if (c.count("eval_out") != 0) {
      layer->forward(c.at("x2"));
      for (const auto& [buffer_name, buffer] : layer->named_buffers()) {
        const Tensor& theirs = c.at("buffer." + buffer_name);
        if (buffer.dtype() == kInt64) {
          EXPECT_EQ(buffer.item<int64_t>(), theirs.item<int64_t>()) << buffer_name;
        } else {
          expect_matches(buffer, theirs, 1e-6, buffer_name);
        }
      }
      layer->eval();
      expect_matches(layer->forward(c.at("x")), c.at("eval_out"), 1e-5, "eval out");
    }
    ++checked;
  }
  EXPECT_EQ(checked, 5);
}

}  // namespace
}  // namespace toadstool

namespace toadstool {
namespace {

// Ten AdamW steps of cross-entropy on one fixed batch, from PyTorch's initial
// weights, reproduce PyTorch's ten losses (dropout 0: the two frameworks'
// random streams differ).
TEST(NnParity, TransformerClassifierTenAdamWStepsReproducePyTorchsLosses) {
  const auto cases = testing::load_golden("nn_modules.txt");
  int checked = 0;
  for (const auto& [name, c] : cases) {
    if (name.rfind("classifier/", 0) != 0) continue;
    SCOPED_TRACE(name);
    nn::TransformerClassifierOptions options;
    options.vocab_size = static_cast<int64_t>(scalar(c, "vocab_size"));
    options.d_model = static_cast<int64_t>(scalar(c, "d_model"));
    options.nhead = static_cast<int64_t>(scalar(c, "nhead"));
    options.num_layers = static_cast<int64_t>(scalar(c, "num_layers"));
    options.dim_feedforward = static_cast<int64_t>(scalar(c, "dim_feedforward"));
    options.max_len = static_cast<int64_t>(scalar(c, "max_len"));
    options.num_classes = static_cast<int64_t>(scalar(c, "num_classes"));
    options.pooling = scalar(c, "cls") != 0 ? "cls" : "mean";
    options.positional = scalar(c, "learned") != 0 ? "learned" : "sinusoidal";
    options.activation = scalar(c, "gelu") != 0 ? "gelu" : "relu";
    options.norm_first = scalar(c, "norm_first") != 0;
    options.dropout = 0.0;
    nn::TransformerClassifier model(options);
    model.load_state_dict(golden_params(c));

    optim::AdamWOptions adamw;
    adamw.lr = scalar(c, "lr");
    adamw.weight_decay = scalar(c, "weight_decay");
    optim::AdamW optimizer(model.parameters(), adamw);
    nn::CrossEntropyLoss loss_fn;
    const auto expected = testing::values(c.at("losses"));
    ASSERT_EQ(expected.size(), 10U);
    for (size_t step = 0; step < expected.size(); ++step) {
      optimizer.zero_grad();
      const Tensor loss = loss_fn(model(c.at("ids")), c.at("labels"));
      loss.backward();
      optimizer.step();
      EXPECT_NEAR(loss.item<double>(), expected[step], 1e-4 * std::fabs(expected[step]))
          << "step " << step;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 2);
}

}  // namespace
}  // namespace toadstool
