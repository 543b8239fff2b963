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

// Clamps every gradient element into [-clip_value, clip_value]. Error:
// clip_value negative or NaN.
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace toadstool::nn
