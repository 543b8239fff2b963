#pragma once
// Pooling layers, PyTorch's (no parameters): MaxPool1d / 2d and AvgPool1d /
// 2d over the windows of autograd/ops.h's PoolOptions (kernel, stride
// defaulting to the kernel, padding, dilation for max, count_include_pad
// for average), and AdaptiveAvgPool1d / 2d to a fixed output size. Inputs
// [N, C, L] / [N, C, H, W] or without N.
#include <string>

#include "toadstool/autograd/ops.h"
#include "toadstool/nn/module.h"

namespace toadstool::nn {

class MaxPool1d : public UnaryModule {
 public:
  explicit MaxPool1d(PoolOptions options);
  Tensor forward(const Tensor& input) override { return max_pool1d(input, options); }
  std::string extra_repr() const override;
  PoolOptions options;
};

class MaxPool2d : public UnaryModule {
 public:
  explicit MaxPool2d(PoolOptions options);
  Tensor forward(const Tensor& input) override { return max_pool2d(input, options); }
  std::string extra_repr() const override;
  PoolOptions options;
};

class AvgPool1d : public UnaryModule {
 public:
  explicit AvgPool1d(PoolOptions options);
  Tensor forward(const Tensor& input) override { return avg_pool1d(input, options); }
  std::string extra_repr() const override;
  PoolOptions options;
};

class AvgPool2d : public UnaryModule {
 public:
  explicit AvgPool2d(PoolOptions options);
  Tensor forward(const Tensor& input) override { return avg_pool2d(input, options); }
  std::string extra_repr() const override;
  PoolOptions options;
};

class AdaptiveAvgPool1d : public UnaryModule {
 public:
  explicit AdaptiveAvgPool1d(int64_t output_size);
  Tensor forward(const Tensor& input) override { return adaptive_avg_pool1d(input, output_size); }
  std::string extra_repr() const override;
  int64_t output_size;
};

class AdaptiveAvgPool2d : public UnaryModule {
 public:
  // {s} (s x s) or {H, W}.
  explicit AdaptiveAvgPool2d(Shape output_size);
  Tensor forward(const Tensor& input) override { return adaptive_avg_pool2d(input, output_size); }
  std::string extra_repr() const override;
  Shape output_size;
};

}  // namespace toadstool::nn
