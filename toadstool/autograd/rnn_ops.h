#pragma once
// The time loop of one recurrent layer in one direction, as two
// differentiable ops (nn::LSTM and nn::GRU, nn/rnn.h, are built on them):
//
//   lstm_layer(xproj [T, B, 4H], w_hh [4H, H], b_hh [4H], h0 [B, H], c0 [B, H],
//              mask [T, B], reverse) -> [T + 2, B, H]
//     rows 0..T-1: the outputs h_t; row T: h_n; row T + 1: c_n
//   gru_layer(xproj [T, B, 3H], w_hh [3H, H], b_hh [3H], h0 [B, H],
//             mask [T, B], reverse) -> [T + 1, B, H]
//     rows 0..T-1: the outputs h_t; row T: h_n
//
// xproj is x W_ih^T + b_ih of every step, made by the caller with one GEMM
// (any strides: a transposed batch-first projection is read in place). Each
// step is one GEMM h W_hh^T + b_hh and the gates' element-wise work, with
// PyTorch's gate order and formulas:
//   LSTM  i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of xproj_t + h W_hh^T + b_hh
//         c' = f c + i g,  h' = o tanh(c')
//   GRU   r = sigmoid(x_r + h_r), z = sigmoid(x_z + h_z),
//         n = tanh(x_n + r (h W_hn^T + b_hn)),  h' = (1 - z) n + z h
// mask (bool, true = a real step; undefined = every step is real): where it
// is false the step keeps h (and c) as they were and outputs 0. A sequence
// of length len has mask true for t < len, so h_n is its state after step
// len - 1 and the reverse direction (t = T-1 .. 0) starts at len - 1: the
// results of PyTorch's pack_padded_sequence.
//
// Why one op per layer rather than the composition of tensor ops: the
// backward is the hand-written backpropagation through time, one GEMM per
// step for dL/dh_{t-1} and ONE GEMM over all steps for dL/dW_hh
// (dgates [T B, G H]^T h_prev [T B, H]), where a composition records about
// fifteen nodes a step and computes and accumulates a [G H, H] weight
// gradient at every step. The LSTM's step is one GEMM and one fused
// element-wise kernel each way (native::lstm_cell_forward / _backward,
// tensor/lstm_cell.h, on the CPU and CUDA backends), writing straight into
// the tensors the backward reads; the GRU's step is written with the
// native element-wise ops. h0, c0 and b_hh may be undefined (zeros / no
// bias). float32 and float64.
#include "toadstool/tensor/tensor.h"

namespace toadstool {

Tensor lstm_layer(const Tensor& xproj, const Tensor& w_hh, const Tensor& b_hh, const Tensor& h0,
                  const Tensor& c0, const Tensor& mask, bool reverse);
Tensor gru_layer(const Tensor& xproj, const Tensor& w_hh, const Tensor& b_hh, const Tensor& h0,
                 const Tensor& mask, bool reverse);

}  // namespace toadstool
