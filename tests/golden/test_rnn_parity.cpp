// nn::LSTM and nn::GRU against PyTorch's (tests/golden/data/rnn.txt, made by
// tests/golden/make_rnn_golden.py): PyTorch's weights loaded by name, the
// output, h_n, c_n and the gradients of the input, the initial state and
// every parameter, with and without lengths (pack_padded_sequence).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "golden.h"
#include "nn_parity.h"
#include "test_util.h"
#include "toadstool/nn/rnn.h"

namespace toadstool {
namespace {

using testing::expect_matches;
using testing::GoldenCase;

bool flag(const GoldenCase& c, const std::string& label) {
  return c.at(label).item<int64_t>() != 0;
}

Tensor optional_at(const GoldenCase& c, const std::string& label) {
  const auto it = c.find(label);
  return it == c.end() ? Tensor() : it->second;
}

TEST(RnnParity, LstmAndGruOutputsStatesAndEveryGradientMatchPyTorch) {
  const auto cases = testing::load_golden("rnn.txt");
  int checked = 0, with_lengths = 0;
  for (const auto& [name, c] : cases) {
    SCOPED_TRACE(name);
    const bool is_lstm = name.rfind("lstm/", 0) == 0;
    nn::RNNOptions options;
    options.num_layers = c.at("num_layers").item<int64_t>();
    options.bidirectional = flag(c, "bidirectional");
    options.batch_first = flag(c, "batch_first");
    options.bias = flag(c, "bias");
    const int64_t input_size = c.at("input_size").item<int64_t>();
    const int64_t hidden_size = c.at("hidden_size").item<int64_t>();
    std::shared_ptr<nn::RNNBase> module;
    if (is_lstm) {
      module = std::make_shared<nn::LSTM>(input_size, hidden_size, options);
    } else {
      module = std::make_shared<nn::GRU>(input_size, hidden_size, options);
    }
    TensorDict params;
    for (const auto& [label, tensor] : c) {
      if (label.rfind("param.", 0) == 0) params.insert(label.substr(6), tensor);
    }
    auto ours = module->state_dict().keys();
    std::sort(ours.begin(), ours.end());
    EXPECT_EQ(ours, params.keys());
    module->load_state_dict(params);

    const Tensor x = c.at("x").clone().requires_grad_();
    Tensor h0 = optional_at(c, "h0"), c0 = optional_at(c, "c0");
    if (h0.defined()) h0 = h0.clone().requires_grad_();
    if (c0.defined()) c0 = c0.clone().requires_grad_();
    const Tensor lengths = optional_at(c, "lengths");
    with_lengths += lengths.defined();
    Tensor out, h_n, c_n;
    if (is_lstm) {
      auto& lstm = static_cast<nn::LSTM&>(*module);
      std::optional<nn::LSTMState> state;
      if (h0.defined()) state = nn::LSTMState{h0, c0};
      auto [output, final_state] = lstm.forward(x, state, lengths);
      out = output;
      h_n = final_state.h;
      c_n = final_state.c;
    } else {
      std::tie(out, h_n) = static_cast<nn::GRU&>(*module).forward(x, h0, lengths);
    }
    expect_matches(out, c.at("out"), 1e-5, "out");
    expect_matches(h_n, c.at("h_n"), 1e-5, "h_n");
    Tensor loss = (out * c.at("r_out")).sum() + (h_n * c.at("r_h")).sum();
    if (is_lstm) {
      expect_matches(c_n, c.at("c_n"), 1e-5, "c_n");
      loss = loss + (c_n * c.at("r_c")).sum();
    }
    loss.backward();
    expect_matches(x.grad(), c.at("grad_x"), 1e-5, "grad of x");
    if (h0.defined()) expect_matches(h0.grad(), c.at("grad_h0"), 1e-5, "grad of h0");
    if (c0.defined()) expect_matches(c0.grad(), c.at("grad_c0"), 1e-5, "grad of c0");
    for (const auto& [param_name, param] : module->named_parameters()) {
      expect_matches(param.grad(), c.at("grad." + param_name), 1e-5, "grad of " + param_name);
    }
    ++checked;
  }
  EXPECT_EQ(checked, 6);
  EXPECT_EQ(with_lengths, 4);
}

}  // namespace
}  // namespace toadstool
