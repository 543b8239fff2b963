#include "toadstool/nn/rnn.h"

#include <cmath>

#include "toadstool/autograd/ops.h"
#include "toadstool/autograd/rnn_ops.h"
#include "toadstool/nn/init.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool::nn {

namespace {

// [T, B] bool, true for t < lengths[b]: the steps that are part of each
// sequence. Errors name `op` and the shapes or the value out of range.
Tensor length_mask(const std::string& op, const Tensor& lengths, int64_t steps, int64_t batch,
                   Device device) {
  TS_CHECK(lengths.dtype() == kInt64 && lengths.shape() == Shape{batch}, op,
           ": lengths must be int64 [batch] = [", batch, "], got ", detail::describe(lengths));
  const auto shortest = lengths.amin().item<int64_t>();
  const auto longest = lengths.amax().item<int64_t>();
  TS_CHECK(shortest >= 1 && longest <= steps, op, ": lengths must be in [1, ", steps,
           "] (the input's sequence length), got values from ", shortest, " to ", longest);
  const Tensor on_device = lengths.to(device);
  return lt(arange(steps, TensorOptions(kInt64).device(device)).unsqueeze(1),
            on_device.unsqueeze(0));
}

}  // namespace

RNNBase::RNNBase(const char* name, int64_t gates, int64_t input_size, int64_t hidden_size,
                 const RNNOptions& options)
    : Module(name),
      input_size(input_size),
      hidden_size(hidden_size),
      options(options),
      gates_(gates) {
  TS_CHECK(input_size >= 1 && hidden_size >= 1 && options.num_layers >= 1, name,
           ": input_size, hidden_size and num_layers must be >= 1, got ", input_size, ", ",
           hidden_size, " and ", options.num_layers);
  TS_CHECK(options.dropout >= 0 && options.dropout < 1, name, ": dropout must be in [0, 1), got ",
           options.dropout);
  const int64_t directions = num_directions();
  for (int64_t layer = 0; layer < options.num_layers; ++layer) {
    const int64_t layer_input = layer == 0 ? input_size : directions * hidden_size;
    for (int64_t direction = 0; direction < directions; ++direction) {
      const std::string suffix = "_l" + std::to_string(layer) + (direction == 1 ? "_reverse" : "");
      weight_ih.push_back(
          register_parameter("weight_ih" + suffix, empty({gates * hidden_size, layer_input})));
      weight_hh.push_back(
          register_parameter("weight_hh" + suffix, empty({gates * hidden_size, hidden_size})));
      if (options.bias) {
        bias_ih.push_back(register_parameter("bias_ih" + suffix, empty({gates * hidden_size})));
        bias_hh.push_back(register_parameter("bias_hh" + suffix, empty({gates * hidden_size})));
      } else {
        bias_ih.emplace_back();
        bias_hh.emplace_back();
      }
    }
  }
  reset_parameters();
}

void RNNBase::reset_parameters() {
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden_size));
  for (const Tensor& p : parameters()) init::uniform_(p, -bound, bound);
}

RNNBase::Result RNNBase::run(const Tensor& input, const Tensor& h0, const Tensor& c0,
                             const Tensor& lengths) {
  const std::string& name = type_name();
  TS_CHECK(input.defined() && (input.dim() == 2 || input.dim() == 3) && input.is_floating_point() &&
               input.size(-1) == input_size,
           name, ": input must be floating [T, B, ", input_size, "] ([B, T, ", input_size,
           "] with batch_first, or [T, ", input_size, "] unbatched), got ",
           detail::describe(input));
  const bool batched = input.dim() == 3;
  const bool batch_first = batched && options.batch_first;
  TS_CHECK(batched || !lengths.defined(), name, ": lengths need a batched input, got ",
           detail::describe(input));
  // Time-major from here on: x [T, B, I].
  const Tensor x = batched ? (batch_first ? input.transpose(0, 1) : input) : input.unsqueeze(1);
  const int64_t steps = x.size(0), batch = x.size(1);
  TS_CHECK(steps >= 1 && batch >= 1, name, ": input needs at least one step and one sequence, ",
           "got ", detail::describe(input));
  const int64_t directions = num_directions(), layers = options.num_layers;
  const Shape state_shape = batched ? Shape{layers * directions, batch, hidden_size}
                                    : Shape{layers * directions, hidden_size};
  for (const auto& [state, label] : {std::pair{h0, "h0"}, std::pair{c0, "c0"}}) {
    if (!state.defined()) continue;
    TS_CHECK(state.shape() == state_shape && state.dtype() == input.dtype() &&
                 state.device() == input.device(),
             name, ": ", label, " must be ", detail::describe(empty(state_shape, input.dtype())),
             " for input ", detail::describe(input), ", got ", detail::describe(state));
  }
  const Tensor h0_batched = h0.defined() && !batched ? h0.unsqueeze(1) : h0;
  const Tensor c0_batched = c0.defined() && !batched ? c0.unsqueeze(1) : c0;
  const Tensor mask =
      lengths.defined() ? length_mask(name, lengths, steps, batch, input.device()) : Tensor();

  // [T, B, I] then [T, B, D H]. A batch-first input is made time-major
  // once (a copy of [B, T, I]), so that the projections and their
  // gradients, G = 4 or 3 times wider, are contiguous [T, B, G H].
  Tensor layer_input = batch_first ? x.contiguous() : x;
  std::vector<Tensor> h_n, c_n;
  for (int64_t layer = 0; layer < layers; ++layer) {
    std::vector<Tensor> outputs;
    for (int64_t direction = 0; direction < directions; ++direction) {
      const int64_t k = layer * directions + direction;
      const Tensor h0_k = h0_batched.defined() ? h0_batched.select(0, k) : Tensor();
      const bool reverse = direction == 1;
      if (gates_ == 4) {
        // x W_ih^T + b_ih + b_hh for every step in one GEMM: [T, B, 4H].
        // Both biases go to every gate, so they are added here once (their
        // gradient is then one sum over [T B, 4H], not two).
        const Tensor bias = options.bias ? add(bias_ih[k], bias_hh[k]) : Tensor();
        // Under autocast the projection comes back in 16 bits; the loop
        // runs in the weights' dtype.
        const Tensor xproj = linear(layer_input, weight_ih[k], bias).to(weight_hh[k].dtype());
        const Tensor c0_k = c0_batched.defined() ? c0_batched.select(0, k) : Tensor();
        // [T + 2, B, H]: outputs, h_n, c_n.
        const Tensor all = lstm_layer(xproj, weight_hh[k], {}, h0_k, c0_k, mask, reverse);
        // Two views, not three: each view's backward materializes a zero
        // [T + 2, B, H] gradient for the engine to add up.
        outputs.push_back(all.narrow(0, 0, steps));
        const Tensor states = all.narrow(0, steps, 2);
        h_n.push_back(states.select(0, 0));
        c_n.push_back(states.select(0, 1));
      } else {
        // x W_ih^T + b_ih in one GEMM: [T, B, 3H]; b_hh stays in the loop (r
        // multiplies b_hn). [T + 1, B, H]: outputs, h_n.
        const Tensor xproj = linear(layer_input, weight_ih[k], bias_ih[k]).to(weight_hh[k].dtype());
        const Tensor all = gru_layer(xproj, weight_hh[k], bias_hh[k], h0_k, mask, reverse);
        outputs.push_back(all.narrow(0, 0, steps));
        h_n.push_back(all.select(0, steps));
      }
    }
    layer_input = directions == 1 ? outputs[0] : cat(outputs, 2);
    if (layer + 1 < layers && options.dropout > 0) {
      layer_input = dropout(layer_input, options.dropout, is_training(), options.generator);
    }
  }
  Result result;
  result.output =
      batched ? (batch_first ? layer_input.transpose(0, 1) : layer_input) : layer_input.squeeze(1);
  result.h_n = stack(h_n, 0);
  if (!c_n.empty()) result.c_n = stack(c_n, 0);
  if (!batched) {
    result.h_n = result.h_n.squeeze(1);
    if (result.c_n.defined()) result.c_n = result.c_n.squeeze(1);
  }
  return result;
}

std::string RNNBase::extra_repr() const {
  std::string text = detail::concat(input_size, ", ", hidden_size);
  if (options.num_layers != 1) text += detail::concat(", num_layers=", options.num_layers);
  if (!options.bias) text += ", bias=False";
  if (options.batch_first) text += ", batch_first=True";
  if (options.dropout != 0) text += detail::concat(", dropout=", options.dropout);
  if (options.bidirectional) text += ", bidirectional=True";
  return text;
}

LSTM::LSTM(int64_t input_size, int64_t hidden_size, const RNNOptions& options)
    : RNNBase("LSTM", 4, input_size, hidden_size, options) {}

std::pair<Tensor, LSTMState> LSTM::forward(const Tensor& input,
                                           const std::optional<LSTMState>& state,
                                           const Tensor& lengths) {
  const Result result =
      run(input, state ? state->h : Tensor(), state ? state->c : Tensor(), lengths);
  return {result.output, {result.h_n, result.c_n}};
}

GRU::GRU(int64_t input_size, int64_t hidden_size, const RNNOptions& options)
    : RNNBase("GRU", 3, input_size, hidden_size, options) {}

std::pair<Tensor, Tensor> GRU::forward(const Tensor& input, const Tensor& h0,
                                       const Tensor& lengths) {
  const Result result = run(input, h0, Tensor(), lengths);
  return {result.output, result.h_n};
}

}  // namespace toadstool::nn
