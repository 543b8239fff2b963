#include "toadstool/nn/conv.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "toadstool/nn/init.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/per_dim.h"

namespace toadstool::nn {

namespace {

std::string tuple_text(const Shape& values) {
  std::string text = "(";
  for (size_t i = 0; i < values.size(); ++i) {
    text += (i ? ", " : "") + std::to_string(values[i]);
  }
  return text + (values.size() == 1 ? ",)" : ")");
}

// One value per spatial dim, as PyTorch's repr shows them.
Shape per_dim(const Shape& values, size_t dims) {
  return detail::per_dim(values, dims, 0, "ConvNd::extra_repr", "an option");
}

// Conv2d's {k} or {kH, kW} as {kH, kW}.
Shape kernel_2d(const Shape& kernel_size) {
  TS_CHECK(kernel_size.size() == 1 || kernel_size.size() == 2,
           "Conv2d: kernel_size must be {k} or {kH, kW}, got ", kernel_size);
  return kernel_size.size() == 1 ? Shape{kernel_size[0], kernel_size[0]} : kernel_size;
}

}  // namespace

ConvNd::ConvNd(const char* name, int64_t in_channels, int64_t out_channels, Shape kernel_size,
               const ConvOptions& options, bool bias)
    : UnaryModule(name),
      in_channels(in_channels),
      out_channels(out_channels),
      kernel_size(std::move(kernel_size)),
      options(options) {
  const int64_t groups = options.groups;
  TS_CHECK(in_channels > 0 && out_channels > 0 && groups > 0, name,
           ": in_channels, out_channels and groups must be positive, got ", in_channels, ", ",
           out_channels, " and ", groups);
  TS_CHECK(in_channels % groups == 0 && out_channels % groups == 0, name, ": groups ", groups,
           " must divide in_channels ", in_channels, " and out_channels ", out_channels);
  for (int64_t k : this->kernel_size) {
    TS_CHECK(k > 0, name, ": kernel_size must be positive, got ", this->kernel_size);
  }
  Shape shape = {out_channels, in_channels / groups};
  shape.insert(shape.end(), this->kernel_size.begin(), this->kernel_size.end());
  weight = register_parameter("weight", empty(shape));
  if (bias) this->bias = register_parameter("bias", empty({out_channels}));
  reset_parameters();
}

void ConvNd::reset_parameters() {
  // kaiming_uniform_(a = sqrt(5)) gives bound 1 / sqrt(fan_in), as PyTorch.
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const int64_t fan_in = std::accumulate(kernel_size.begin(), kernel_size.end(),
                                           in_channels / options.groups, std::multiplies<>());
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    init::uniform_(bias, -bound, bound);
  }
}

Tensor ConvNd::forward(const Tensor& input) {
  return kernel_size.size() == 1 ? conv1d(input, weight, bias, options)
                                 : conv2d(input, weight, bias, options);
}

std::string ConvNd::extra_repr() const {
  const size_t dims = kernel_size.size();
  std::string text =
      detail::concat(in_channels, ", ", out_channels, ", kernel_size=", tuple_text(kernel_size),
                     ", stride=", tuple_text(per_dim(options.stride, dims)));
  const Shape padding = per_dim(options.padding, dims);
  const Shape dilation = per_dim(options.dilation, dims);
  if (options.padding_same) {
    text += ", padding=same";
  } else if (std::ranges::any_of(padding, [](int64_t p) { return p != 0; })) {
    text += ", padding=" + tuple_text(padding);
  }
  if (std::ranges::any_of(dilation, [](int64_t d) { return d != 1; })) {
    text += ", dilation=" + tuple_text(dilation);
  }
  if (options.groups != 1) text += detail::concat(", groups=", options.groups);
  if (!bias.defined()) text += ", bias=False";
  return text;
}

Conv1d::Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size,
               const ConvOptions& options, bool bias)
    : ConvNd("Conv1d", in_channels, out_channels, {kernel_size}, options, bias) {}

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, const Shape& kernel_size,
               const ConvOptions& options, bool bias)
    : ConvNd("Conv2d", in_channels, out_channels, kernel_2d(kernel_size), options, bias) {}

}  // namespace toadstool::nn
