// nn::LSTM and nn::GRU: parameter names and shapes, the default init, output
// shapes in every layout, a step computed by hand (the gate order), the
// lengths' masking (each padded sequence gives what it gives alone), and
// finite-difference gradient checks of small modules. PyTorch parity is in
// tests/golden/test_rnn_parity.cpp; the ops' own gradchecks in
// tests/autograd/test_gradcheck_ops.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "test_util.h"
#include "toadstool/autograd/gradcheck.h"
#include "toadstool/nn/rnn.h"

namespace toadstool {
namespace {

using testing::expect_close;
using testing::expect_values;

std::vector<std::string> parameter_names(const nn::Module& module) {
  std::vector<std::string> names;
  for (const auto& [name, p] : module.named_parameters()) names.push_back(name);
  return names;
}

TEST(LSTM, ParameterNamesAndShapesArePyTorchs) {
  nn::LSTM lstm(3, 5, {.num_layers = 2, .bidirectional = true});
  EXPECT_EQ(parameter_names(lstm),
            (std::vector<std::string>{
                "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l0_reverse",
                "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse", "weight_ih_l1",
                "weight_hh_l1", "bias_ih_l1", "bias_hh_l1", "weight_ih_l1_reverse",
                "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse"}));
  EXPECT_EQ(lstm.weight_ih[0].shape(), (Shape{20, 3}));
  EXPECT_EQ(lstm.weight_ih[2].shape(), (Shape{20, 10}));  // layer 1 reads both directions
  EXPECT_EQ(lstm.weight_hh[3].shape(), (Shape{20, 5}));
  EXPECT_EQ(lstm.bias_hh[1].shape(), (Shape{20}));
  EXPECT_EQ(lstm.extra_repr(), "3, 5, num_layers=2, bidirectional=True");
}

TEST(GRU, ParameterNamesWithoutBias) {
  nn::GRU gru(4, 2, {.bias = false});
  EXPECT_EQ(parameter_names(gru), (std::vector<std::string>{"weight_ih_l0", "weight_hh_l0"}));
  EXPECT_EQ(gru.weight_ih[0].shape(), (Shape{6, 4}));
  EXPECT_EQ(gru.extra_repr(), "4, 2, bias=False");
}

TEST(LSTM, DefaultInitIsUniformWithinOneOverSqrtHidden) {
  nn::LSTM lstm(8, 16, {.num_layers = 2});
  const double bound = 1.0 / std::sqrt(16.0);
  for (const auto& [name, p] : lstm.named_parameters()) {
    SCOPED_TRACE(name);
    EXPECT_LE(p.abs().amax().item<float>(), bound);
    // Spread over the interval, not a constant: a uniform draw of hundreds
    // of values has its standard deviation near bound / sqrt(3).
    if (p.numel() >= 64) {
      EXPECT_NEAR(p.std().item<float>(), bound / std::sqrt(3.0), 0.25 * bound);
    }
  }
}

TEST(LSTM, OutputShapesInEveryLayout) {
  nn::LSTM lstm(3, 4, {.num_layers = 2, .bidirectional = true});
  auto [out, state] = lstm.forward(randn({6, 2, 3}));
  EXPECT_EQ(out.shape(), (Shape{6, 2, 8}));
  EXPECT_EQ(state.h.shape(), (Shape{4, 2, 4}));
  EXPECT_EQ(state.c.shape(), (Shape{4, 2, 4}));
  // Unbatched [T, I].
  auto [out1, state1] = lstm.forward(randn({6, 3}));
  EXPECT_EQ(out1.shape(), (Shape{6, 8}));
  EXPECT_EQ(state1.h.shape(), (Shape{4, 4}));
  nn::GRU gru(3, 4, {.batch_first = true});
  auto [out2, h_n] = gru.forward(randn({2, 6, 3}));
  EXPECT_EQ(out2.shape(), (Shape{2, 6, 4}));
  EXPECT_EQ(h_n.shape(), (Shape{1, 2, 4}));
  // The last output of a one-layer forward module is its h_n.
  expect_close(out2.select(1, 5), h_n.select(0, 0));
}

// One LSTM step with H = I = 1 and every weight set, so that each gate
// sees a different pre-activation: i, f, g, o in PyTorch's order.
TEST(LSTM, OneStepFollowsPyTorchsGateOrderAndFormulas) {
  nn::LSTM lstm(1, 1);
  {
    NoGradGuard no_grad;
    lstm.weight_ih[0].copy_(testing::make({0.1, 0.2, 0.3, 0.4}, {4, 1}));
    lstm.weight_hh[0].copy_(testing::make({-0.5, 0.6, -0.7, 0.8}, {4, 1}));
    lstm.bias_ih[0].copy_(testing::make({0.01, 0.02, 0.03, 0.04}, {4}));
    lstm.bias_hh[0].copy_(testing::make({0.1, -0.1, 0.2, -0.2}, {4}));
  }
  const double x = 2.0, h0 = 0.5, c0 = -1.5;
  auto [out, state] =
      lstm.forward(testing::make({x}, {1, 1, 1}),
                   nn::LSTMState{testing::make({h0}, {1, 1, 1}), testing::make({c0}, {1, 1, 1})});
  auto sigmoid = [](double v) { return 1 / (1 + std::exp(-v)); };
  const double i = sigmoid(0.1 * x + 0.01 - 0.5 * h0 + 0.1);
  const double f = sigmoid(0.2 * x + 0.02 + 0.6 * h0 - 0.1);
  const double g = std::tanh(0.3 * x + 0.03 - 0.7 * h0 + 0.2);
  const double o = sigmoid(0.4 * x + 0.04 + 0.8 * h0 - 0.2);
  const double c = f * c0 + i * g;
  const double h = o * std::tanh(c);
  expect_values(out, {h}, {1, 1, 1}, 1e-5, 1e-6);
  expect_values(state.h, {h}, {1, 1, 1}, 1e-5, 1e-6);
  expect_values(state.c, {c}, {1, 1, 1}, 1e-5, 1e-6);
}

// One GRU step, H = I = 1: r, z, n in PyTorch's order, with b_hn inside r's
// product.
TEST(GRU, OneStepFollowsPyTorchsGateOrderAndFormulas) {
  nn::GRU gru(1, 1);
  {
    NoGradGuard no_grad;
    gru.weight_ih[0].copy_(testing::make({0.1, 0.2, 0.3}, {3, 1}));
    gru.weight_hh[0].copy_(testing::make({-0.5, 0.6, -0.7}, {3, 1}));
    gru.bias_ih[0].copy_(testing::make({0.01, 0.02, 0.03}, {3}));
    gru.bias_hh[0].copy_(testing::make({0.1, -0.1, 0.2}, {3}));
  }
  const double x = 2.0, h0 = 0.5;
  auto [out, h_n] = gru.forward(testing::make({x}, {1, 1, 1}), testing::make({h0}, {1, 1, 1}));
  auto sigmoid = [](double v) { return 1 / (1 + std::exp(-v)); };
  const double r = sigmoid(0.1 * x + 0.01 - 0.5 * h0 + 0.1);
  const double z = sigmoid(0.2 * x + 0.02 + 0.6 * h0 - 0.1);
  const double n = std::tanh(0.3 * x + 0.03 + r * (-0.7 * h0 + 0.2));
  const double h = (1 - z) * n + z * h0;
  expect_values(out, {h}, {1, 1, 1}, 1e-5, 1e-6);
  expect_values(h_n, {h}, {1, 1, 1}, 1e-5, 1e-6);
}

// With lengths, each sequence of a padded batch gives what it gives alone,
// cut to its length: outputs (both directions) and h_n, c_n; zero outputs
// past the length, whatever the padding holds.
template <class Run>
void expect_each_sequence_as_alone(const Run& run, bool batch_first) {
  const std::vector<int64_t> lengths = {5, 2, 4};
  const int64_t steps = 5, batch = 3;
  Generator gen(3);
  const Tensor x = batch_first ? randn({batch, steps, 3}, kFloat32, &gen)
                               : randn({steps, batch, 3}, kFloat32, &gen);
  const int time_dim = batch_first ? 1 : 0, batch_dim = batch_first ? 0 : 1;
  Tensor out, h_n, c_n;
  std::tie(out, h_n, c_n) = run(x, from_vector(lengths));
  for (int64_t b = 0; b < batch; ++b) {
    SCOPED_TRACE("sequence " + std::to_string(b));
    const int64_t len = lengths[static_cast<size_t>(b)];
    const Tensor alone = x.narrow(batch_dim, b, 1).narrow(time_dim, 0, len).contiguous();
    Tensor out_b, h_b, c_b;
    std::tie(out_b, h_b, c_b) = run(alone, Tensor());
    expect_close(out.narrow(batch_dim, b, 1).narrow(time_dim, 0, len), out_b, 1e-5, 1e-6);
    expect_close(h_n.narrow(1, b, 1), h_b, 1e-5, 1e-6);
    if (c_n.defined()) expect_close(c_n.narrow(1, b, 1), c_b, 1e-5, 1e-6);
    if (len < steps) {
      EXPECT_EQ(
          out.narrow(batch_dim, b, 1).narrow(time_dim, len, steps - len).abs().amax().item<float>(),
          0.0f);
    }
  }
}

TEST(LSTM, LengthsGiveEachSequenceItsOwnResultInBothDirections) {
  nn::LSTM lstm(3, 4, {.num_layers = 2, .batch_first = true, .bidirectional = true});
  expect_each_sequence_as_alone(
      [&](const Tensor& x, const Tensor& lengths) {
        auto [out, state] = lstm.forward(x, std::nullopt, lengths);
        return std::tuple{out, state.h, state.c};
      },
      true);
}

TEST(GRU, LengthsGiveEachSequenceItsOwnResultInBothDirections) {
  nn::GRU gru(3, 4, {.num_layers = 2, .bidirectional = true});
  expect_each_sequence_as_alone(
      [&](const Tensor& x, const Tensor& lengths) {
        auto [out, h_n] = gru.forward(x, {}, lengths);
        return std::tuple{out, h_n, Tensor()};
      },
      false);
}

TEST(LSTM, DropoutActsBetweenLayersInTrainingOnly) {
  manual_seed(5);
  nn::LSTM lstm(3, 4, {.num_layers = 2, .dropout = 0.5});
  const Tensor x = randn({4, 2, 3});
  const Tensor a = lstm.forward(x).first;
  const Tensor b = lstm.forward(x).first;
  EXPECT_GT((a - b).abs().amax().item<float>(), 1e-4);  // two different masks
  lstm.eval();
  expect_close(lstm.forward(x).first, lstm.forward(x).first);
  // One layer: nothing to drop between, training or not.
  nn::LSTM one(3, 4, {.dropout = 0.5});
  expect_close(one.forward(x).first, one.forward(x).first);
}

// Under bfloat16 autocast the input projection's GEMM runs in bfloat16 and
// the time loop in the weights' float32: the output is float32, close to
// the float32 run's (bfloat16 keeps 8 bits of mantissa), and every
// parameter gets a float32 gradient.
TEST(LSTM, RunsUnderAutocast) {
  manual_seed(9);
  nn::LSTM lstm(8, 16, {.batch_first = true});
  const Tensor x = randn({4, 6, 8});
  const Tensor reference = lstm.forward(x).first.detach();
  Tensor out;
  {
    Autocast autocast(DeviceType::CPU, kBFloat16);
    out = lstm.forward(x).first;
  }
  EXPECT_EQ(out.dtype(), kFloat32);
  const float difference = (out.detach() - reference).abs().amax().item<float>();
  EXPECT_GT(difference, 0.0f);  // the projection did run in bfloat16
  EXPECT_LT(difference, 0.05f);
  out.sum().backward();
  for (const auto& [name, p] : lstm.named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    EXPECT_EQ(p.grad().dtype(), kFloat32) << name;
  }
}

// Finite differences of small float64 modules, bidirectional, 2 layers,
// with lengths: the input, the initial state and every parameter.
template <class Module, class Forward>
void check_module_gradients(Module& module, const Forward& forward, int64_t state_count) {
  module.to(kFloat64);
  Generator gen(11);
  std::vector<Tensor> inputs = {randn({3, 4, 2}, kFloat64, &gen).requires_grad_()};
  for (int64_t s = 0; s < state_count; ++s) {
    inputs.push_back(randn({4, 3, 2}, kFloat64, &gen).requires_grad_());
  }
  const size_t leading = inputs.size();
  for (const Tensor& p : module.parameters()) inputs.push_back(p);
  const Tensor lengths = from_vector<int64_t>({4, 1, 3});
  const auto result = autograd::gradcheck(
      [&](const std::vector<Tensor>& in) {
        return forward(in[0], std::vector<Tensor>(in.begin() + 1, in.begin() + leading), lengths);
      },
      inputs);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(LSTM, GradientsMatchFiniteDifferences) {
  nn::LSTM lstm(2, 2, {.num_layers = 2, .batch_first = true, .bidirectional = true});
  check_module_gradients(
      lstm,
      [&](const Tensor& x, const std::vector<Tensor>& state, const Tensor& lengths) {
        auto [out, final_state] = lstm.forward(x, nn::LSTMState{state[0], state[1]}, lengths);
        return cat({out.flatten(), final_state.h.flatten(), final_state.c.flatten()});
      },
      2);
}

TEST(GRU, GradientsMatchFiniteDifferences) {
  nn::GRU gru(2, 2, {.num_layers = 2, .batch_first = true, .bidirectional = true});
  check_module_gradients(
      gru,
      [&](const Tensor& x, const std::vector<Tensor>& state, const Tensor& lengths) {
        auto [out, h_n] = gru.forward(x, state[0], lengths);
        return cat({out.flatten(), h_n.flatten()});
      },
      1);
}

}  // namespace
}  // namespace toadstool
