#include "toadstool/nn/clip_grad.h"

#include <algorithm>
#include <cmath>

#include "toadstool/autograd/grad_mode.h"
#include "toadstool/autograd/ops.h"
#include "toadstool/tensor/error.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/native_ops.h"

namespace toadstool::nn {
Tensor vector_norm(const Tensor& values, double norm_type) {
  if (std::isinf(norm_type)) return values.abs().amax();
  // One pass, no [n] temporary of squares (79 MB a step for the IMDB
  // example's gradients).
  if (norm_type == 2.0) return native::sum_squares(values).sqrt();
  if (norm_type == 1.0) return values.abs().sum();
  return values.abs().pow(norm_type).sum().pow(1.0 / norm_type);
}

// One norm per gradient, as float64 values, then the norm of those: the
// same value as the norm of all gradients concatenated, read from the device
// once.
Tensor total_grad_norm(const std::vector<Tensor>& params, double norm_type) {
  const NoGradGuard no_grad;
  std::vector<Tensor> norms;
  for (const Tensor& param : params) {
    const Tensor& grad = param.grad();
    // An empty gradient adds nothing to any norm (and has no max).
    if (grad.defined() && grad.numel() > 0) {
      norms.push_back(vector_norm(grad, norm_type).to(kFloat64).reshape({1}));
    }
  }
  if (norms.empty()) return zeros({}, kFloat64);
  return vector_norm(cat(norms, 0), norm_type);
}

void scale_grads_to_norm(const std::vector<Tensor>& params, double max_norm, double total_norm) {
  const NoGradGuard no_grad;
  const double coef = max_norm / (total_norm + 1e-6);
  // `!(coef >= 1)` rather than `coef < 1`: a NaN factor is applied, as in PyTorch.
  if (coef >= 1.0) return;
  for (const Tensor& param : params) {
    if (param.grad().defined()) param.mutable_grad().mul_(coef);
  }
}

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  TS_CHECK(max_norm >= 0, "clip_grad_norm_: max_norm must be >= 0, got ", max_norm);
  TS_CHECK(norm_type > 0, "clip_grad_norm_: norm_type must be > 0 (or inf), got ", norm_type);
  const double total = total_grad_norm(params, norm_type).item<double>();
  TS_CHECK(!error_if_nonfinite || std::isfinite(total), "clip_grad_norm_: the total ", norm_type,
           "-norm of the gradients of ",
           std::count_if(params.begin(), params.end(),
                         [](const Tensor& p) { return p.grad().defined(); }),
           " parameters is ", total, " (error_if_nonfinite is set)");
  scale_grads_to_norm(params, max_norm, total);
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  TS_CHECK(clip_value >= 0, "clip_grad_value_: clip_value must be >= 0, got ", clip_value);
  const NoGradGuard no_grad;
  for (const Tensor& param : params) {
    if (param.grad().defined()) param.mutable_grad().clamp_(-clip_value, clip_value);
  }
}

}  // namespace toadstool::nn
