#pragma once
// nn::LSTM and nn::GRU, PyTorch's (torch.nn.LSTM / torch.nn.GRU):
//
//   input [T, B, I] ([B, T, I] with batch_first, or unbatched [T, I])
//   -> output [T, B, D H] ([B, T, D H] with batch_first; [T, D H] unbatched),
//      h_n (and the LSTM's c_n) [L D, B, H] ([L D, H] unbatched)
//
// with L = num_layers and D = 2 when bidirectional, else 1. Layer k > 0
// reads layer k - 1's output, through dropout (training only) between
// layers, not after the last; the backward direction's output is the second
// half of each output row, its state the odd rows of h_n. Gate order and
// formulas are PyTorch's (LSTM i, f, g, o; GRU r, z, n with
// n = tanh(W_in x + b_in + r (W_hn h + b_hn))), and so are the parameter
// names, in PyTorch's order: weight_ih_l{k}[_reverse] [G H, I or D H],
// weight_hh_l{k}[_reverse] [G H, H], bias_ih_l{k}[_reverse] [G H],
// bias_hh_l{k}[_reverse] [G H], G = 4 (LSTM) or 3 (GRU), all drawn from
// U(-1/sqrt(H), 1/sqrt(H)); safetensors state dicts move both ways.
//
// lengths (int64 [B], each in [1, T], any device): sequence b is
// input[:len_b] (batch-first input[b, :len_b]); its outputs past len_b are
// zero, h_n / c_n are its state after step len_b - 1, and the backward
// direction starts at step len_b - 1: PyTorch's results for
// pack_padded_sequence(enforce_sorted=False) and pad_packed_sequence with
// total_length T.
//
// Each layer and direction is one GEMM for x W_ih^T + b_ih over all steps,
// then lstm_layer / gru_layer (autograd/rnn_ops.h): one GEMM h W_hh^T + b_hh
// per step and the gates' element-wise work, with a hand-written backward.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "toadstool/nn/module.h"
#include "toadstool/tensor/generator.h"

namespace toadstool::nn {

struct RNNOptions {
  int64_t num_layers = 1;
  bool bias = true;
  bool batch_first = false;
  double dropout = 0.0;  // between layers, in training; in [0, 1)
  bool bidirectional = false;
  Generator* generator = nullptr;  // for dropout (default: the global one)
};

// What LSTM and GRU share: options, parameters, the layer loop.
class RNNBase : public Module {
 public:
  std::string extra_repr() const override;
  // Re-draws every parameter from U(-1/sqrt(H), 1/sqrt(H)).
  void reset_parameters();
  int64_t num_directions() const { return options.bidirectional ? 2 : 1; }

  int64_t input_size;
  int64_t hidden_size;
  RNNOptions options;
  // Per layer and direction (index layer * D + direction), as registered.
  std::vector<Tensor> weight_ih, weight_hh, bias_ih, bias_hh;

 protected:
  // gates: 4 (LSTM) or 3 (GRU). Errors: input_size or hidden_size < 1,
  // num_layers < 1, dropout outside [0, 1).
  RNNBase(const char* name, int64_t gates, int64_t input_size, int64_t hidden_size,
          const RNNOptions& options);

  struct Result {
    Tensor output, h_n, c_n;
  };
  // h0 and c0 [L D, B, H] (or [L D, H] unbatched) or undefined (zeros);
  // c0 only for the LSTM.
  Result run(const Tensor& input, const Tensor& h0, const Tensor& c0, const Tensor& lengths);

 private:
  int64_t gates_;
};

struct LSTMState {
  Tensor h;  // h_n / h0: [L D, B, H]
  Tensor c;  // c_n / c0: [L D, B, H]
};

class LSTM : public RNNBase {
 public:
  LSTM(int64_t input_size, int64_t hidden_size, const RNNOptions& options = {});
  // {output, {h_n, c_n}}; state (h0, c0) defaults to zeros.
  std::pair<Tensor, LSTMState> forward(const Tensor& input,
                                       const std::optional<LSTMState>& state = std::nullopt,
                                       const Tensor& lengths = {});
};

class GRU : public RNNBase {
 public:
  GRU(int64_t input_size, int64_t hidden_size, const RNNOptions& options = {});
  // {output, h_n}; h0 defaults to zeros.
  std::pair<Tensor, Tensor> forward(const Tensor& input, const Tensor& h0 = {},
                                    const Tensor& lengths = {});
};

}  // namespace toadstool::nn
