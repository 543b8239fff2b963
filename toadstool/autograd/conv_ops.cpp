// Convolutions and pooling: the window ops im2col and col2im with their
// derivatives; conv1d / conv2d in one kernel at stride 1, else as a matrix
// product with im2col's columns; max and average pooling as a reduction
// over the columns.
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "toadstool/autograd/autocast.h"
#include "toadstool/autograd/ops.h"
#include "toadstool/autograd/record.h"
#include "toadstool/tensor/error.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/per_dim.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool {

using autograd::Grads;
using autograd::needs_grad;
using autograd::Op;
using autograd::record;
using autograd::SavedTensor;

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

// A stride-1 convolution in one kernel (tensor/conv_windows.h); its
// backward is the kernel's too (not differentiable again).
Tensor conv_kernel(const Tensor& x, const Tensor& weight, const Tensor& bias,
                   const ConvWindowOptions& windows, int64_t groups) {
  Tensor out = native::conv_forward(x, weight, bias, windows, groups);
  if (needs_grad(x, weight, bias)) {
    record(Op::conv, out, {x, weight, bias},
           [windows, groups, x = SavedTensor(x), weight = SavedTensor(weight),
            need_input = x.requires_grad(), need_weight = weight.requires_grad(),
            need_bias = bias.defined() && bias.requires_grad()](const Tensor& g) -> Grads {
             native::ConvGrads grads = native::conv_backward(
                 g, x.get(), weight.get(), windows, groups, need_input, need_weight, need_bias);
             return {grads.input, grads.weight, grads.bias};
           });
  }
  return out;
}

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
    const Shape dilation =
        detail::per_dim(options.dilation, static_cast<size_t>(dims), 1, op, "dilation");
    windows.padding.clear();
    for (int64_t d = 0; d < dims; ++d) {
      const int64_t total = dilation[d] * (windows.kernel_size[d] - 1);
      windows.padding.push_back(total / 2);
      windows.padding_end.push_back(total - total / 2);
    }
  }
  const Shape spatial(x.shape().begin() + 2, x.shape().end());
  const Shape out_size = conv_output_size(spatial, windows, op);

  if (native::conv_kernel_suits(x, windows) && !autocast::casts(autocast::Op::matmul, x, weight)) {
    Tensor out = conv_kernel(x, weight, bias, windows, groups);
    return batched ? out : squeeze(out, 0);
  }
  // Strided (or autocast to 16 bits): [N, G, (C / G) K, P] columns against
  // [G, O / G, (C / G) K] weights.
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

// ---- pooling ----

// The windows of a pooling over the last `dims` dims of x [N, C, *spatial],
// every option checked, and the output's spatial sizes.
struct PoolWindows {
  ConvWindowOptions windows;
  Shape out_size;
};

PoolWindows pool_windows(const Tensor& x, const PoolOptions& options, int64_t dims, bool dilated,
                         const char* op) {
  const auto n = static_cast<size_t>(dims);
  auto per_dim = [&](const Shape& values, const char* name) {
    TS_CHECK(!values.empty(), op, ": ", name, " is empty");
    return detail::per_dim(values, n, 0, op, name);
  };
  ConvWindowOptions windows;
  windows.kernel_size = per_dim(options.kernel_size, "kernel_size");
  windows.stride = options.stride.empty() ? windows.kernel_size : per_dim(options.stride, "stride");
  windows.padding = per_dim(options.padding, "padding");
  windows.dilation = dilated ? per_dim(options.dilation, "dilation") : Shape(n, 1);
  TS_CHECK(dilated || options.dilation == Shape{1}, op, ": average pooling has no dilation, got ",
           options.dilation);
  for (size_t d = 0; d < n; ++d) {
    // As PyTorch: padding beyond half the (dilated) kernel would make
    // windows of padding alone.
    const int64_t span = windows.dilation[d] * (windows.kernel_size[d] - 1) + 1;
    TS_CHECK(
        windows.kernel_size[d] >= 1 && windows.padding[d] >= 0 && windows.padding[d] <= span / 2,
        op, ": padding ", options.padding, " must be at most half the kernel ", windows.kernel_size,
        " (dilation ", windows.dilation, ")");
  }
  const Shape spatial(x.shape().begin() + 2, x.shape().end());
  Shape out_size = conv_output_size(spatial, windows, op);  // checks the rest
  return {std::move(windows), std::move(out_size)};
}

// input [N, C, *spatial] or [C, *spatial] as [N, C, *spatial].
Tensor batched_input(const Tensor& input, int64_t dims, const char* op) {
  detail::check_defined(input, op);
  TS_CHECK(input.dim() == dims + 1 || input.dim() == dims + 2, op, ": input must be [N, C, ",
           dims == 2 ? "H, W" : "L", "] or [C, ", dims == 2 ? "H, W" : "L", "], got ",
           detail::describe(input));
  return input.dim() == dims + 2 ? input : unsqueeze(input, 0);
}

// The pooled [N, C, P] as the input's layout: [N, C, *out] or [C, *out].
Tensor unflatten_pooled(const Tensor& pooled, const Tensor& input, const Tensor& x,
                        const Shape& out_size) {
  Shape shape = {x.size(0), x.size(1)};
  shape.insert(shape.end(), out_size.begin(), out_size.end());
  const Tensor result = reshape(pooled, shape);
  return input.dim() == x.dim() ? result : squeeze(result, 0);
}

// The taps of every window: [N, C, K, P]; with `in_bounds`, also which taps
// are inside the input (not padding): [1, 1, K, P] float, 1 or 0.
Tensor window_taps(const Tensor& x, const ConvWindowOptions& windows, Tensor* in_bounds) {
  const Tensor columns = im2col(x, windows);
  const int64_t n = x.size(0), c = x.size(1);
  const int64_t taps = columns.size(1) / c, positions = columns.size(2);
  if (in_bounds != nullptr) {
    Shape plane = {1, 1};
    plane.insert(plane.end(), x.shape().begin() + 2, x.shape().end());
    *in_bounds = reshape(native::im2col(ones(plane, x.dtype()).to(x.device()), windows),
                         {1, 1, taps, positions});
  }
  return reshape(columns, {n, c, taps, positions});
}

Tensor max_pool(const Tensor& input, const PoolOptions& options, int64_t dims, const char* op) {
  const Tensor x = batched_input(input, dims, op);
  const PoolWindows pool = pool_windows(x, options, dims, true, op);
  Tensor in_bounds;
  Tensor taps = window_taps(x, pool.windows, &in_bounds);
  taps = where(in_bounds > 0, taps, -std::numeric_limits<double>::infinity());
  return unflatten_pooled(max(taps, 2).first, input, x, pool.out_size);
}

Tensor avg_pool(const Tensor& input, const PoolOptions& options, int64_t dims, const char* op) {
  const Tensor x = batched_input(input, dims, op);
  const PoolWindows pool = pool_windows(x, options, dims, false, op);
  Tensor in_bounds;
  const Tensor taps =
      window_taps(x, pool.windows, options.count_include_pad ? nullptr : &in_bounds);
  const Tensor sums = sum(taps, {2});
  const Tensor mean = options.count_include_pad ? div(sums, static_cast<double>(taps.size(2)))
                                                : div(sums, sum(in_bounds, {2}));
  return unflatten_pooled(mean, input, x, pool.out_size);
}

// Adaptive average pooling along one dim: output i averages input
// [floor(i in / out), ceil((i + 1) in / out)).
Tensor adaptive_mean(const Tensor& x, int64_t dim, int64_t out, const char* op) {
  const int64_t in = x.size(dim);
  TS_CHECK(out >= 1 && in >= 1, op, ": output size ", out, " and input size ", in,
           " must be >= 1 (input ", detail::describe(x), ")");
  if (out == in) return x;
  std::vector<Tensor> parts;
  parts.reserve(out);
  for (int64_t i = 0; i < out; ++i) {
    const int64_t start = i * in / out, end = ((i + 1) * in + out - 1) / out;
    parts.push_back(mean(narrow(x, dim, start, end - start), {dim}, true));
  }
  return cat(parts, dim);
}

}  // namespace

Tensor max_pool1d(const Tensor& input, const PoolOptions& options) {
  return max_pool(input, options, 1, "max_pool1d");
}
Tensor max_pool2d(const Tensor& input, const PoolOptions& options) {
  return max_pool(input, options, 2, "max_pool2d");
}
Tensor avg_pool1d(const Tensor& input, const PoolOptions& options) {
  return avg_pool(input, options, 1, "avg_pool1d");
}
Tensor avg_pool2d(const Tensor& input, const PoolOptions& options) {
  return avg_pool(input, options, 2, "avg_pool2d");
}

Tensor adaptive_avg_pool1d(const Tensor& input, int64_t output_size) {
  const char* op = "adaptive_avg_pool1d";
  detail::check_defined(input, op);
  TS_CHECK(input.dim() == 2 || input.dim() == 3, op, ": input must be [N, C, L] or [C, L], got ",
           detail::describe(input));
  return adaptive_mean(input, -1, output_size, op);
}

Tensor adaptive_avg_pool2d(const Tensor& input, const Shape& output_size) {
  const char* op = "adaptive_avg_pool2d";
  detail::check_defined(input, op);
  TS_CHECK(input.dim() == 3 || input.dim() == 4, op,
           ": input must be [N, C, H, W] or [C, H, W], got ", detail::describe(input));
  TS_CHECK(output_size.size() == 1 || output_size.size() == 2, op,
           ": output_size must be {s} or {H, W}, got ", output_size);
  const int64_t out_h = output_size[0], out_w = output_size.back();
  return adaptive_mean(adaptive_mean(input, -2, out_h, op), -1, out_w, op);
}

Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias,
              const ConvOptions& options) {
  return convolution(input, weight, bias, options, 1, "conv1d");
}

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
              const ConvOptions& options) {
  return convolution(input, weight, bias, options, 2, "conv2d");
}

}  // namespace toadstool
