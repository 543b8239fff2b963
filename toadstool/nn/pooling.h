#pragma once
// Pooling layers, PyTorch's (no parameters): MaxPool1d / 2d and AvgPool1d /
// 2d over the windows of autograd/ops.h's PoolOptions (kernel, stride
// defaulting to the kernel, padding, dilation for max, count_include_pad
// for average), and AdaptiveAvgPool1d / 2d to a fixed output size. Inputs
// [N, C, L] / [N, C, H, W] or without N.
#include <string>
#include <utility>

#include "toadstool/autograd/ops.h"
#include "toadstool/nn/module.h"

namespace toadstool::nn {

// What the four window poolings share: the options, the function, the repr.
class PoolNd : public UnaryModule {
 public:
  using PoolFn = Tensor (*)(const Tensor& input, const PoolOptions& options);
  Tensor forward(const Tensor& input) override { return pool_(input, options); }
  std::string extra_repr() const override;
  PoolOptions options;

 protected:
  // Errors: an empty or non-positive kernel_size, a negative padding.
  PoolNd(const char* name, PoolFn pool, bool max, PoolOptions options);

 private:
  PoolFn pool_;
  bool max_;  // max pooling (dilation) or average (count_include_pad)
};

class MaxPool1d : public PoolNd {
 public:
  explicit MaxPool1d(PoolOptions options)
      : PoolNd("MaxPool1d", max_pool1d, true, std::move(options)) {}
};

class MaxPool2d : public PoolNd {
 public:
  explicit MaxPool2d(PoolOptions options)
      : PoolNd("MaxPool2d", max_pool2d, true, std::move(options)) {}
};

class AvgPool1d : public PoolNd {
 public:
  explicit AvgPool1d(PoolOptions options)
      : PoolNd("AvgPool1d", avg_pool1d, false, std::move(options)) {}
};

class AvgPool2d : public PoolNd {
 public:
  explicit AvgPool2d(PoolOptions options)
      : PoolNd("AvgPool2d", avg_pool2d, false, std::move(options)) {}
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
