#pragma once
// Convolution at stride 1 on the CPU without im2col's columns
// (kernels/backend.h has the contract of conv_forward / conv_backward).
//
// The input is copied once per image into a zero-bordered grid [C, Hp, Wp]
// (the padded input; a row's trailing zeros may double as the next row's
// leading ones, so Wp can be one less than the padded width). Output
// position q = oh * Wp + ow of the same grid width then reads tap (i, j) of
// channel c at grid element c * Hp * Wp + q + i * dilation_h * Wp +
// j * dilation_w: for each tap and channel, the row of B the product needs
// is the grid itself at a fixed offset. So the forward is one GEMM
// out_grid [O, out_h * Wp] = weight [O, taps * C] x B whose register tiles
// read B where it is, in the grid (L2), instead of a [C * taps, P] column
// matrix per image (7 MB on a ResNet stage) written, packed and read back.
// The Wp - out_w columns past each output row are junk, dropped when the
// product is copied out.
//
// The input gradient is the same product over the output gradient's grid
// with the weights flipped and transposed (a stride-1 transposed
// convolution). The weight gradient is weight_grad^T [C * taps, O] =
// B [C * taps, Q] x grad_grid^T [Q, O], A read in place from the input's
// grid and the output gradient packed once per block of positions for
// every tap.
//
// Each image (and group) is one task, on one thread, with its own scratch;
// with fewer tasks than threads each product splits its columns over the
// team. The weight gradient adds the images' products in image order and
// every image's product is computed the same way whatever the team: the
// same bits at any thread count. float32 goes through the register tiles
// of gemm_micro_kernel.h; float64 (gradient checks) through plain loops
// over the same grids.
#include "toadstool/kernels/kernel_args.h"

namespace toadstool::kernels::cpu {

// out [N, O, out...] from input [N, C, in...], weight and bias (may be null).
template <class T>
void conv_forward(const ConvArgs& args, const T* input, const T* weight, const T* bias, T* out);

// The gradients of conv_forward from grad_out [N, O, out...]; each of
// grad_input, grad_weight, grad_bias may be null (not wanted).
template <class T>
void conv_backward(const ConvArgs& args, const T* grad_out, const T* input, const T* weight,
                   T* grad_input, T* grad_weight, T* grad_bias);

}  // namespace toadstool::kernels::cpu
