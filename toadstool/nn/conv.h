#pragma once
// nn::Conv1d and nn::Conv2d (PyTorch's, zero padding): input [N, C_in, L] /
// [N, C_in, H, W] (or without N) -> [N, C_out, L_out] / [N, C_out, H_out,
// W_out] through conv1d / conv2d (autograd/ops.h: im2col and a matrix
// product). weight [C_out, C_in / groups, *kernel_size] and bias [C_out]
// start as PyTorch's: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in =
// C_in / groups x the kernel's elements.
#include <string>

#include "toadstool/autograd/ops.h"
#include "toadstool/nn/module.h"

namespace toadstool::nn {

// What the two share: the parameters, the options and the forward.
class ConvNd : public UnaryModule {
 public:
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  // Re-draws weight and bias from the default distribution.
  void reset_parameters();

  int64_t in_channels;
  int64_t out_channels;
  Shape kernel_size;  // one value per spatial dim
  ConvOptions options;
  Tensor weight;  // [out_channels, in_channels / groups, *kernel_size]
  Tensor bias;    // [out_channels], undefined without bias

 protected:
  // Errors: a size or option that is not positive, groups not dividing both
  // channel counts, a kernel_size of the wrong length.
  ConvNd(const char* name, int64_t in_channels, int64_t out_channels, Shape kernel_size,
         const ConvOptions& options, bool bias);
};

class Conv1d : public ConvNd {
 public:
  Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size,
         const ConvOptions& options = {}, bool bias = true);
};

class Conv2d : public ConvNd {
 public:
  // kernel_size: {k} (k x k) or {kH, kW}.
  Conv2d(int64_t in_channels, int64_t out_channels, const Shape& kernel_size,
         const ConvOptions& options = {}, bool bias = true);
};

}  // namespace toadstool::nn
