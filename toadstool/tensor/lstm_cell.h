#pragma once
// One LSTM step's element-wise work as a native front-end (the kernel's
// math: kernels/lstm_cell.h): autograd/rnn_ops.h's lstm_layer runs its time
// loop with it, one call a step forward and one backward, writing straight
// into the rows of the tensors it saves. Not differentiable by itself.
#include "toadstool/tensor/tensor.h"

namespace toadstool::native {

// gates = xproj + hproj [B, 4H] (i, f, g, o); c' = f c_prev + i g,
// h' = o tanh(c'). Writes acts [B, 4H] (the gates after activation), tanh_c
// [B, H], the state h, c [B, H] (h_prev, c_prev where mask [B] is false)
// and the output y [B, H] (0 there). mask: bool [B] or undefined.
void lstm_cell_forward(const Tensor& xproj, const Tensor& hproj, const Tensor& h_prev,
                       const Tensor& c_prev, const Tensor& mask, const Tensor& acts,
                       const Tensor& tanh_c, const Tensor& h, const Tensor& c, const Tensor& y);

// The step's derivative from dh, dc (after the step) and dy (its output):
// writes dgates [B, 4H], dc_prev [B, H] and, with a mask, dh_skip [B, H]
// (dh where the step is not real, else 0), so that dL/dh_prev = dgates
// W_hh + dh_skip.
void lstm_cell_backward(const Tensor& acts, const Tensor& tanh_c, const Tensor& c_prev,
                        const Tensor& mask, const Tensor& dh, const Tensor& dc, const Tensor& dy,
                        const Tensor& dgates, const Tensor& dc_prev, const Tensor& dh_skip);

}  // namespace toadstool::native
