#include "toadstool/nn/normalization.h"

#include <algorithm>
#include <utility>

#include "toadstool/autograd/grad_mode.h"
#include "toadstool/autograd/ops.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool::nn {

namespace {

// [C] as [1, C, 1, ...] for an input of `dims` dims.
Tensor per_channel(const Tensor& t, int64_t dims) {
  Shape shape(static_cast<size_t>(dims), 1);
  shape[1] = t.size(0);
  return reshape(t, shape);
}

Tensor affine(const Tensor& normalized, const Tensor& weight, const Tensor& bias) {
  if (!weight.defined()) return normalized;
  return add(mul(normalized, per_channel(weight, normalized.dim())),
             per_channel(bias, normalized.dim()));
}

}  // namespace

BatchNormBase::BatchNormBase(const char* name, int64_t num_features, BatchNormOptions options,
                             std::vector<int64_t> input_dims)
    : UnaryModule(name),
      num_features(num_features),
      options(options),
      input_dims_(std::move(input_dims)) {
  TS_CHECK(num_features >= 1 && options.eps > 0 && options.momentum >= 0 && options.momentum <= 1,
           name, ": num_features must be >= 1, eps > 0 and momentum in [0, 1], got ", num_features,
           ", ", options.eps, " and ", options.momentum);
  if (options.affine) {
    weight = register_parameter("weight", ones({num_features}));
    bias = register_parameter("bias", zeros({num_features}));
  }
  if (options.track_running_stats) {
    running_mean = register_buffer("running_mean", zeros({num_features}));
    running_var = register_buffer("running_var", ones({num_features}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, kInt64));
  }
}

void BatchNormBase::reset_running_stats() {
  if (!options.track_running_stats) return;
  const NoGradGuard no_grad;
  running_mean.zero_();
  running_var.fill_(1);
  num_batches_tracked.zero_();
}

Tensor BatchNormBase::forward(const Tensor& input) {
  const std::string& name = type_name();
  TS_CHECK(input.defined() &&
               std::find(input_dims_.begin(), input_dims_.end(), input.dim()) != input_dims_.end(),
           name, ": input must be ",
           input_dims_.size() == 2 ? "[N, C] or [N, C, L]" : "[N, C, H, W]", ", got ",
           detail::describe(input));
  TS_CHECK(input.size(1) == num_features, name, ": the input ", detail::describe(input), " has ",
           input.size(1), " channels, the layer ", num_features);
  // Every dim but the channels'.
  Shape dims = {0};
  for (int64_t d = 2; d < input.dim(); ++d) dims.push_back(d);
  const bool batch_stats = is_training() || !options.track_running_stats;
  Tensor mean, var;
  if (batch_stats) {
    const int64_t count = input.numel() / num_features;
    TS_CHECK(count > 1 || !is_training(), name,
             ": training needs more than one value per channel, got input ",
             detail::describe(input));
    mean = toadstool::mean(input, dims, true);
    var = toadstool::var(input, dims, 0, true);
    if (is_training() && options.track_running_stats) {
      const NoGradGuard no_grad;
      const double m = options.momentum;
      const double unbiased = static_cast<double>(count) / static_cast<double>(count - 1);
      running_mean.mul_(1 - m).add_(mean.detach().reshape({num_features}), m);
      running_var.mul_(1 - m).add_(var.detach().reshape({num_features}), m * unbiased);
      num_batches_tracked.add_(1);
    }
  } else {
    mean = per_channel(running_mean, input.dim());
    var = per_channel(running_var, input.dim());
  }
  return affine(div(sub(input, mean), sqrt(add(var, options.eps))), weight, bias);
}

std::string BatchNormBase::extra_repr() const {
  return detail::concat(num_features, ", eps=", options.eps, ", momentum=", options.momentum,
                        ", affine=", options.affine ? "True" : "False",
                        ", track_running_stats=", options.track_running_stats ? "True" : "False");
}

BatchNorm1d::BatchNorm1d(int64_t num_features, BatchNormOptions options)
    : BatchNormBase("BatchNorm1d", num_features, options, {2, 3}) {}

BatchNorm2d::BatchNorm2d(int64_t num_features, BatchNormOptions options)
    : BatchNormBase("BatchNorm2d", num_features, options, {4}) {}

GroupNorm::GroupNorm(int64_t num_groups, int64_t num_channels, double eps, bool affine)
    : UnaryModule("GroupNorm"), num_groups(num_groups), num_channels(num_channels), eps(eps) {
  TS_CHECK(num_groups >= 1 && num_channels >= 1 && num_channels % num_groups == 0 && eps > 0,
           "GroupNorm: num_groups ", num_groups, " must divide num_channels ", num_channels,
           " (both >= 1) and eps must be > 0, got ", eps);
  if (affine) {
    weight = register_parameter("weight", ones({num_channels}));
    bias = register_parameter("bias", zeros({num_channels}));
  }
}

Tensor GroupNorm::forward(const Tensor& input) {
  TS_CHECK(input.defined() && input.dim() >= 2 && input.size(1) == num_channels,
           "GroupNorm: input must be [N, ", num_channels, ", *], got ", detail::describe(input));
  const Tensor grouped = reshape(input, {input.size(0), num_groups, -1});
  const Tensor mean = toadstool::mean(grouped, {2}, true);
  const Tensor var = toadstool::var(grouped, {2}, 0, true);
  const Tensor normalized = reshape(div(sub(grouped, mean), sqrt(add(var, eps))), input.shape());
  return affine(normalized, weight, bias);
}

std::string GroupNorm::extra_repr() const {
  return detail::concat(num_groups, ", ", num_channels, ", eps=", eps,
                        ", affine=", weight.defined() ? "True" : "False");
}

}  // namespace toadstool::nn
