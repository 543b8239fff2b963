#pragma once
// The sliding windows of a convolution: im2col, which copies every window
// of an input into a column, and its adjoint col2im, which sums columns back
// onto the input (PyTorch's nn.Unfold and nn.Fold for 2-D). A convolution is
// a matrix product with im2col's columns, or at stride 1 one kernel that
// needs no columns (autograd/ops.h's conv1d, conv2d); the differentiable
// ops are autograd/ops.h's.
#include <string>

#include "toadstool/tensor/tensor.h"

namespace toadstool {

// Windows over the last `kernel_size.size()` dims (1 or 2) of an input
// [N, C, *spatial]. Each other field is empty (its default), one value for
// every dim, or one value per dim. `padding` zeros are added at both ends of
// a dim; `padding_end`, when given, sets the end's separately (PyTorch's
// "same" padding with an even kernel puts the extra zero there).
// The members' `{}` initialisers let a designated initialiser name only the
// fields it sets without -Wmissing-field-initializers.
struct ConvWindowOptions {
  Shape kernel_size{};
  Shape stride{};       // default 1
  Shape padding{};      // default 0
  Shape padding_end{};  // default: as padding
  Shape dilation{};     // default 1
};

// The output's spatial sizes: (in + pad_begin + pad_end - dilation (k - 1)
// - 1) / stride + 1 per dim. An Error naming `op` when a list has the wrong
// length or a bad value, or when a window does not fit in the padded input.
Shape conv_output_size(const Shape& input_size, const ConvWindowOptions& options,
                       const char* op = "conv_output_size");

namespace native {

// input [N, C, *in] (float32 or float64) -> columns [N, C * K, P], K the
// kernel's elements and P the output's (row c * K + tap, column p).
Tensor im2col(const Tensor& input, const ConvWindowOptions& options);
// columns [N, C * K, P] -> [N, C, *input_size]: each element the sum of
// the column elements im2col would copy from it.
Tensor col2im(const Tensor& columns, const Shape& input_size, const ConvWindowOptions& options);

// A convolution at stride 1 in one kernel (kernels/backend.h's
// conv_forward / conv_backward, no column matrix): input [N, C, *in],
// weight [O, C / groups, *kernel], bias [O] or undefined, float32 or
// float64 -> [N, O, *out]. conv_kernel_suits says whether they serve a
// convolution (every stride 1, float32 or float64); autograd/ops.h's
// conv1d / conv2d take the columns' way otherwise.
bool conv_kernel_suits(const Tensor& input, const ConvWindowOptions& options);
Tensor conv_forward(const Tensor& input, const Tensor& weight, const Tensor& bias,
                    const ConvWindowOptions& options, int64_t groups);
struct ConvGrads {
  Tensor input, weight, bias;  // undefined where not asked for
};
ConvGrads conv_backward(const Tensor& grad_out, const Tensor& input, const Tensor& weight,
                        const ConvWindowOptions& options, int64_t groups, bool need_input,
                        bool need_weight, bool need_bias);

}  // namespace native
}  // namespace toadstool
