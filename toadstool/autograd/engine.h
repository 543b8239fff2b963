#pragma once
// The backward pass (Tensor::backward calls it).
#include <functional>

#include "toadstool/tensor/tensor.h"

namespace toadstool::autograd {

// Backpropagates `gradient` (d(loss)/d(root), root's shape; undefined means 1
// for a one-element root) through the graph that produced `root`, adding
// into grad() of every leaf that requires grad. Without retain_graph each
// node frees what it saved as soon as it has run.
void backward(const Tensor& root, const Tensor& gradient, bool retain_graph);

// Queues `callback` to run once the backward() in progress on this thread
// has passed every gradient (after the last leaf's accumulation and its
// post-accumulate hooks, before backward() returns): PyTorch's
// Variable._execution_engine.queue_callback. Callbacks run in the order
// queued; one queued by a callback runs in the same pass. An Error outside
// a backward (call it from a hook). When backward throws, the callbacks
// not yet run are dropped.
void queue_callback(std::function<void()> callback);
// Whether a backward() is running on this thread.
bool in_backward();

// `grad` summed over the dims that broadcasting added or stretched, so that
// it has `shape`: the gradient of an input that was broadcast to grad's shape.
Tensor sum_to(const Tensor& grad, const Shape& shape);

}  // namespace toadstool::autograd
