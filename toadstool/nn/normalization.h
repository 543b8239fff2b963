#pragma once
// Batch and group normalisation, PyTorch's (LayerNorm is nn/layer_norm.h):
//
//   BatchNorm1d  input [N, C] or [N, C, L]
//   BatchNorm2d  input [N, C, H, W]
//     normalise each channel c by its mean and biased variance over every
//     other dim of the batch (training, or without running statistics) or
//     by running_mean / running_var (eval), then weight[c] x + bias[c]. In
//     training the running statistics move by `momentum` towards the
//     batch's mean and unbiased variance (PyTorch's update) and
//     num_batches_tracked counts the batches; all three are buffers in the
//     state dict under PyTorch's names.
//   GroupNorm    input [N, C, *]: the C channels in num_groups groups, each
//     group of each example normalised by its own mean and biased variance,
//     then weight[c] x + bias[c]; no running statistics.
//
// weight starts at ones and bias at zeros; the running mean at zeros, the
// running variance at ones. Compositions of tensor ops: autograd gives the
// gradients.
#include <string>

#include "toadstool/nn/module.h"

namespace toadstool::nn {

struct BatchNormOptions {
  double eps = 1e-5;
  double momentum = 0.1;
  bool affine = true;
  bool track_running_stats = true;
};

// What BatchNorm1d and BatchNorm2d share.
class BatchNormBase : public UnaryModule {
 public:
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  // Running mean 0, variance 1, batches 0.
  void reset_running_stats();

  int64_t num_features;
  BatchNormOptions options;
  Tensor weight;               // [C], undefined without affine
  Tensor bias;                 // [C], undefined without affine
  Tensor running_mean;         // [C], undefined without track_running_stats
  Tensor running_var;          // [C], undefined without track_running_stats
  Tensor num_batches_tracked;  // 0-d int64, undefined without track_running_stats

 protected:
  // Errors: num_features < 1, eps <= 0, momentum outside [0, 1].
  BatchNormBase(const char* name, int64_t num_features, BatchNormOptions options,
                std::vector<int64_t> input_dims);

 private:
  std::vector<int64_t> input_dims_;  // the input ranks taken
};

class BatchNorm1d : public BatchNormBase {
 public:
  explicit BatchNorm1d(int64_t num_features, BatchNormOptions options = {});
};

class BatchNorm2d : public BatchNormBase {
 public:
  explicit BatchNorm2d(int64_t num_features, BatchNormOptions options = {});
};

class GroupNorm : public UnaryModule {
 public:
  // Errors: num_groups not dividing num_channels, a size < 1, eps <= 0.
  GroupNorm(int64_t num_groups, int64_t num_channels, double eps = 1e-5, bool affine = true);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;

  int64_t num_groups;
  int64_t num_channels;
  double eps;
  Tensor weight;  // [C], undefined without affine
  Tensor bias;    // [C], undefined without affine
};

}  // namespace toadstool::nn
