#include "toadstool/tensor/conv_windows.h"

#include <algorithm>

#include "toadstool/kernels/kernel_args.h"
#include "toadstool/tensor/error.h"
#include "toadstool/tensor/kernel_args.h"
#include "toadstool/tensor/per_dim.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool {

namespace {

// The kernel geometry for a [batch, channels, *input_size] input; every
// option checked.
kernels::ConvWindows windows_of(int64_t batch, int64_t channels, const Shape& input_size,
                                const ConvWindowOptions& options, const char* op) {
  const size_t dims = options.kernel_size.size();
  TS_CHECK(dims == 1 || dims == 2, op, ": kernel_size must have 1 or 2 dims, got ",
           options.kernel_size);
  TS_CHECK(input_size.size() == dims, op, ": a ", dims, "-D kernel ", options.kernel_size,
           " needs ", dims, " spatial dims, got ", input_size);
  const Shape stride = detail::per_dim(options.stride, dims, 1, op, "stride");
  const Shape pad_begin = detail::per_dim(options.padding, dims, 0, op, "padding");
  const Shape pad_end = options.padding_end.empty()
                            ? pad_begin
                            : detail::per_dim(options.padding_end, dims, 0, op, "padding_end");
  const Shape dilation = detail::per_dim(options.dilation, dims, 1, op, "dilation");
  kernels::ConvWindows w;
  w.batch = batch;
  w.channels = channels;
  // A 1-D window is the second dim of a 2-D one with a height of 1.
  const size_t first = 2 - dims;
  for (size_t d = 0; d < dims; ++d) {
    const size_t k = first + d;
    TS_CHECK(options.kernel_size[d] >= 1 && stride[d] >= 1 && dilation[d] >= 1 &&
                 pad_begin[d] >= 0 && pad_end[d] >= 0,
             op, ": kernel_size ", options.kernel_size, ", stride ", stride, " and dilation ",
             dilation, " must be >= 1 and padding ", pad_begin, " / ", pad_end, " >= 0");
    const int64_t span = dilation[d] * (options.kernel_size[d] - 1) + 1;
    const int64_t padded = input_size[d] + pad_begin[d] + pad_end[d];
    TS_CHECK(padded >= span, op, ": the kernel ", options.kernel_size, " (dilation ", dilation,
             ") is larger than the padded input ", input_size, " (padding ", pad_begin, ")");
    w.in[k] = input_size[d];
    w.kernel[k] = options.kernel_size[d];
    w.stride[k] = stride[d];
    w.pad_begin[k] = pad_begin[d];
    w.dilation[k] = dilation[d];
    w.out[k] = (padded - span) / stride[d] + 1;
  }
  return w;
}

Shape spatial_out(const kernels::ConvWindows& w, size_t dims) {
  return dims == 1 ? Shape{w.out[1]} : Shape{w.out[0], w.out[1]};
}

void check_float(const Tensor& t, const char* op, const char* what) {
  TS_CHECK(t.dtype() == kFloat32 || t.dtype() == kFloat64, op, ": ", what,
           " must be float32 or float64, got ", detail::describe(t));
}

}  // namespace

Shape conv_output_size(const Shape& input_size, const ConvWindowOptions& options, const char* op) {
  return spatial_out(windows_of(1, 1, input_size, options, op), options.kernel_size.size());
}

namespace native {

Tensor im2col(const Tensor& input, const ConvWindowOptions& options) {
  const char* op = "im2col";
  detail::check_defined(input, op);
  check_float(input, op, "the input");
  const auto dims = static_cast<int64_t>(options.kernel_size.size());
  TS_CHECK(input.dim() == dims + 2, op, ": the input must be [N, C, ", dims == 2 ? "H, W" : "L",
           "] for the kernel ", options.kernel_size, ", got ", detail::describe(input));
  const Shape spatial(input.shape().begin() + 2, input.shape().end());
  const kernels::ConvWindows w = windows_of(input.size(0), input.size(1), spatial, options, op);
  const int64_t taps = w.kernel[0] * w.kernel[1];
  const Tensor in = contiguous(input);
  Tensor columns = detail::make_tensor({w.batch, w.channels * taps, w.out[0] * w.out[1]},
                                       input.dtype(), input.device(), op);
  TS_KERNEL(input.device(), im2col, input.dtype(), w, in.data_ptr(), columns.data_ptr());
  return columns;
}

Tensor col2im(const Tensor& columns, const Shape& input_size, const ConvWindowOptions& options) {
  const char* op = "col2im";
  detail::check_defined(columns, op);
  check_float(columns, op, "the columns");
  TS_CHECK(columns.dim() == 3, op, ": the columns must be [N, C * K, P], got ",
           detail::describe(columns));
  const int64_t batch = columns.size(0);
  kernels::ConvWindows w = windows_of(batch, 1, input_size, options, op);
  const int64_t taps = w.kernel[0] * w.kernel[1];
  const int64_t positions = w.out[0] * w.out[1];
  TS_CHECK(columns.size(1) % taps == 0 && columns.size(2) == positions, op, ": columns ",
           detail::describe(columns), " do not hold the ", taps, " taps x ", positions,
           " windows of the kernel ", options.kernel_size, " over ", input_size);
  w.channels = columns.size(1) / taps;
  const Tensor cols = contiguous(columns);
  Shape shape = {batch, w.channels};
  shape.insert(shape.end(), input_size.begin(), input_size.end());
  Tensor input = detail::make_tensor(shape, columns.dtype(), columns.device(), op);
  TS_KERNEL(columns.device(), col2im, columns.dtype(), w, cols.data_ptr(), input.data_ptr());
  return input;
}

namespace {

// The kernel arguments of a convolution whose shapes the caller checked.
kernels::ConvArgs conv_args(const Tensor& input, const Tensor& weight,
                            const ConvWindowOptions& options, int64_t groups, const char* op) {
  TS_CHECK(conv_kernel_suits(input, options), op,
           ": needs stride 1 and a float32 or float64 input, got ", detail::describe(input),
           " and stride ", options.stride);
  TS_CHECK(input.dim() == weight.dim() &&
               input.dim() - 2 == static_cast<int64_t>(options.kernel_size.size()) && groups >= 1 &&
               input.size(1) == weight.size(1) * groups && weight.size(0) % groups == 0 &&
               input.dtype() == weight.dtype(),
           op, ": input ", detail::describe(input), ", weight ", detail::describe(weight),
           " and groups ", groups, " do not fit");
  const Shape spatial(input.shape().begin() + 2, input.shape().end());
  kernels::ConvArgs args;
  args.windows = windows_of(input.size(0), input.size(1), spatial, options, op);
  args.out_channels = weight.size(0);
  args.groups = groups;
  return args;
}

Shape conv_out_shape(const kernels::ConvArgs& args, size_t dims) {
  Shape shape = {args.windows.batch, args.out_channels};
  const Shape out = spatial_out(args.windows, dims);
  shape.insert(shape.end(), out.begin(), out.end());
  return shape;
}

}  // namespace

bool conv_kernel_suits(const Tensor& input, const ConvWindowOptions& options) {
  const bool strided =
      std::any_of(options.stride.begin(), options.stride.end(), [](int64_t s) { return s != 1; });
  return !strided && (input.dtype() == kFloat32 || input.dtype() == kFloat64);
}

Tensor conv_forward(const Tensor& input, const Tensor& weight, const Tensor& bias,
                    const ConvWindowOptions& options, int64_t groups) {
  const char* op = "conv_forward";
  const kernels::ConvArgs args = conv_args(input, weight, options, groups, op);
  const Tensor x = contiguous(input), w = contiguous(weight);
  const Tensor b = bias.defined() ? contiguous(bias) : Tensor();
  Tensor out = detail::make_tensor(conv_out_shape(args, options.kernel_size.size()), input.dtype(),
                                   input.device(), op);
  TS_KERNEL(input.device(), conv_forward, input.dtype(), args, x.data_ptr(), w.data_ptr(),
            b.defined() ? b.data_ptr() : nullptr, out.data_ptr());
  return out;
}

ConvGrads conv_backward(const Tensor& grad_out, const Tensor& input, const Tensor& weight,
                        const ConvWindowOptions& options, int64_t groups, bool need_input,
                        bool need_weight, bool need_bias) {
  const char* op = "conv_backward";
  const kernels::ConvArgs args = conv_args(input, weight, options, groups, op);
  TS_CHECK(grad_out.shape() == conv_out_shape(args, options.kernel_size.size()) &&
               grad_out.dtype() == input.dtype(),
           op, ": grad_out ", detail::describe(grad_out), " does not match the output of input ",
           detail::describe(input), " and weight ", detail::describe(weight));
  const Tensor g = contiguous(grad_out), x = contiguous(input), w = contiguous(weight);
  ConvGrads grads;
  auto make = [&](bool need, const Shape& shape) {
    return need ? detail::make_tensor(shape, input.dtype(), input.device(), op) : Tensor();
  };
  grads.input = make(need_input, input.shape());
  grads.weight = make(need_weight, weight.shape());
  grads.bias = make(need_bias, {weight.size(0)});
  auto data = [](const Tensor& t) { return t.defined() ? t.data_ptr() : nullptr; };
  TS_KERNEL(input.device(), conv_backward, input.dtype(), args, g.data_ptr(), x.data_ptr(),
            w.data_ptr(), data(grads.input), data(grads.weight), data(grads.bias));
  return grads;
}

}  // namespace native
}  // namespace toadstool
