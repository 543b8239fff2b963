#pragma once
// Pooling of a sequence model's per-token vectors, shared by the zoo's
// sequence classifiers (an internal header: not installed).
#include "toadstool/tensor/tensor.h"

namespace toadstool::nn {

// Mean over the real tokens of t [B, L, d] -> [B, d]; padding [B, L] bool
// (true = padding) weighs 0; an all-padding row gives 0.
Tensor mean_over_tokens(const Tensor& t, const Tensor& padding);

}  // namespace toadstool::nn
