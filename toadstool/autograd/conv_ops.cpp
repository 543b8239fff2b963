// Convolutions: the window ops im2col and col2im with their derivatives, and
// conv1d / conv2d as a matrix product with im2col's columns.
#include <string>

#include "toadstool/autograd/ops.h"
#include "toadstool/autograd/record.h"
#include "toadstool/tensor/error.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool {

using autograd::Grads;
using autograd::needs_grad;
using autograd::Op;
using autograd::record;

Tensor im2col(const Tensor& input, const ConvWindowOptions& options) {
  Tensor out = native::im2col(input, options);
  if (needs_grad(input)) {
    // Each input element's gradient: the sum of its copies' gradients.
    const Shape size(input.shape().begin() + 2, input.shape().end());
    record(Op::im2col, out, {input},
           [size, options](const Tensor& g) -> Grads { return {col2im(g, size, options)}; });
  }
  return out;
}

Tensor col2im(const Tensor& columns, const Shape& input_size, const ConvWindowOptions& options) {
  Tensor out = native::col2im(columns, input_size, options);
  if (needs_grad(columns)) {
    record(Op::col2im, out, {columns},
           [options](const Tensor& g) -> Grads { return {im2col(g, options)}; });
  }
  return out;
}

namespace {

// conv1d (dims 1) and conv2d (dims 2).
Tensor convolution(const Tensor& input, const Tensor& weight, const Tensor& bias,
                   const ConvOptions& options, int64_t dims, const char* op) {
  detail::check_defined(input, op);
  detail::check_defined(weight, op);
  TS_CHECK(weight.dim() == dims + 2, op, ": weight must be [out_channels, in_channels / groups",
           dims == 2 ? ", kH, kW" : ", k", "], got ", detail::describe(weight));
  // Unbatched input [C, *spatial]: a batch of one.
  const bool batched = input.dim() == dims + 2;
  TS_CHECK(batched || input.dim() == dims + 1, op, ": input must be [N, C, ",
           dims == 2 ? "H, W" : "L", "] or [C, ", dims == 2 ? "H, W" : "L", "], got ",
           detail::describe(input));
  const Tensor x = batched ? input : unsqueeze(input, 0);
  const int64_t groups = options.groups;
  const int64_t channels = x.size(1), out_channels = weight.size(0);
  TS_CHECK(groups >= 1 && channels % groups == 0 && out_channels % groups == 0, op, ": groups ",
           groups, " must divide the input's ", channels, " channels and the weight's ",
           out_channels, " output channels (input ", detail::describe(input), ", weight ",
           detail::describe(weight), ")");
  TS_CHECK(weight.size(1) * groups == channels, op, ": the weight ", detail::describe(weight),
           " expects ", weight.size(1) * groups, " input channels (groups ", groups,
           "), the input ", detail::describe(input), " has ", channels);
  TS_CHECK(x.dtype() == weight.dtype() && x.device() == weight.device(), op,
           ": input and weight must share dtype and device, got ", detail::describe(input), " and ",
           detail::describe(weight));
  if (bias.defined()) {
    TS_CHECK(bias.shape() == Shape{out_channels} && bias.dtype() == weight.dtype(), op,
             ": bias must be [", out_channels, "] of the weight's dtype, got ",
             detail::describe(bias));
  }

  ConvWindowOptions windows;
  windows.kernel_size = Shape(weight.shape().begin() + 2, weight.shape().end());
  windows.stride = options.stride;
  windows.dilation = options.dilation;
  windows.padding = options.padding;
  if (options.padding_same) {
    for (int64_t s : options.stride) {
      TS_CHECK(s == 1, op, ": padding \"same\" needs stride 1, got ", options.stride);
    }
    const Shape dilation = options.dilation.size() == 1
                               ? Shape(static_cast<size_t>(dims), options.dilation[0])
                               : options.dilation;
    TS_CHECK(dilation.size() == static_cast<size_t>(dims), op, ": dilation ", options.dilation,
             " for a ", dims, "-D kernel");
    windows.padding.clear();
    for (int64_t d = 0; d < dims; ++d) {
      const int64_t total = dilation[d] * (windows.kernel_size[d] - 1);
      windows.padding.push_back(total / 2);
      windows.padding_end.push_back(total - total / 2);
    }
  }
  const Shape spatial(x.shape().begin() + 2, x.shape().end());
  const Shape out_size = conv_output_size(spatial, windows, op);

  // [N, G, (C / G) K, P] columns against [G, O / G, (C / G) K] weights.
  const int64_t n = x.size(0);
  const Tensor columns = im2col(x, windows);
  const int64_t per_group = columns.size(1) / groups, positions = columns.size(2);
  Tensor out = matmul(reshape(weight, {groups, out_channels / groups, per_group}),
                      reshape(columns, {n, groups, per_group, positions}));
  Shape shape = {n, out_channels};
  shape.insert(shape.end(), out_size.begin(), out_size.end());
  out = reshape(out, shape);
  if (bias.defined()) {
    Shape bias_shape(static_cast<size_t>(dims) + 2, 1);
    bias_shape[1] = out_channels;
    out = add(out, reshape(bias, bias_shape));
  }
  return batched ? out : squeeze(out, 0);
}

}  // namespace

Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias,
              const ConvOptions& options) {
  return convolution(input, weight, bias, options, 1, "conv1d");
}

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
              const ConvOptions& options) {
  return convolution(input, weight, bias, options, 2, "conv2d");
}

}  // namespace toadstool
