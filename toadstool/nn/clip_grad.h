#pragma once
// Gradient clipping, as torch.nn.utils.clip_grad_norm_ and clip_grad_value_
// (torch 1.13): both change the parameters' gradients in place and skip
// parameters without a gradient. GradClipCallback (train/callbacks) calls
// them before each optimizer step.
#include <limits>
#include <vector>

#include "toadstool/tensor/tensor.h"

namespace toadstool::nn {

inline constexpr double kInfNorm = std::numeric_limits<double>::infinity();

// Scales every gradient by min(1, max_norm / (total_norm + 1e-6)), where
// total_norm is the norm_type-norm of all gradients together (as if they were
// one vector; kInfNorm: the largest absolute value). Returns total_norm,
// before clipping; 0 when no parameter has a gradient. A non-finite total
// norm is an Error with error_if_nonfinite; otherwise, as in PyTorch, the
// gradients are scaled by the resulting NaN or 0 factor. Errors: max_norm
// negative or NaN, norm_type not > 0.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

// The pieces of clip_grad_norm_, for a caller whose gradients are spread
// over processes (distributed::ZeroRedundancyOptimizer): the norm_type-norm
// of `values` (any shape; kInfNorm: the largest absolute value) as a 0-d
// tensor of its dtype (no autograd), so that the norm of per-part norms is
// the norm of the whole; the total norm of the params' gradients (0-d float64, 0 when none
// has one); and the scaling of their gradients by min(1, max_norm /
// (total_norm + 1e-6)).
Tensor vector_norm(const Tensor& values, double norm_type);
Tensor total_grad_norm(const std::vector<Tensor>& params, double norm_type);
void scale_grads_to_norm(const std::vector<Tensor>& params, double max_norm, double total_norm);

// Clamps every gradient element into [-clip_value, clip_value]. Error:
// clip_value negative or NaN.
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace toadstool::nn
