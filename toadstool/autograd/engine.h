#pragma once
// The backward pass (Tensor::backward calls it).
#include "toadstool/tensor/tensor.h"

namespace toadstool::autograd {

// Backpropagates `gradient` (d(loss)/d(root), root's shape; undefined means 1
// for a one-element root) through the graph that produced `root`, adding
// into grad() of every leaf that requires grad. Without retain_graph each
// node frees what it saved as soon as it has run.
void backward(const Tensor& root, const Tensor& gradient, bool retain_graph);

// `grad` summed over the dims that broadcasting added or stretched, so that
// it has `shape`: the gradient of an input that was broadcast to grad's shape.
Tensor sum_to(const Tensor& grad, const Shape& shape);

}  // namespace toadstool::autograd
