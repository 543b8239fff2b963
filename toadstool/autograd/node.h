#pragma once
// The tape's data structures. A tensor that takes part in autograd carries a
// Meta (TensorImpl::autograd); the op that produced it is a Node, which links
// to the Nodes of its inputs. The graph is owned from the outputs back:
// Meta -> grad_fn Node -> input Nodes -> ... -> leaf accumulators. Nothing
// points forward, so dropping the last output frees the whole graph.
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "toadstool/autograd/op_table.h"
#include "toadstool/tensor/tensor.h"

namespace toadstool::autograd {

using Hook = std::function<Tensor(const Tensor&)>;

// The gradient hooks of one tensor, run in registration order.
class HookList {
 public:
  size_t add(Hook hook);
  void remove(size_t id);
  // Each hook sees the gradient; one that returns a defined tensor replaces it.
  void run(Tensor& grad) const;

 private:
  std::vector<std::pair<size_t, Hook>> hooks_;
  size_t next_id_ = 0;
};

// Hooks run after a leaf's gradient has been accumulated into its grad()
// (Tensor::register_post_accumulate_grad_hook), in registration order. Each
// gets the leaf itself and returns nothing: it may read grad() but not
// replace the gradient in flight (HookList's hooks do that, before).
using PostAccumulateHook = std::function<void(const Tensor& leaf)>;

class PostAccumulateHookList {
 public:
  size_t add(PostAccumulateHook hook);
  void remove(size_t id);
  bool empty() const { return hooks_.empty(); }
  void run(const Tensor& leaf) const;

 private:
  std::vector<std::pair<size_t, PostAccumulateHook>> hooks_;
  size_t next_id_ = 0;
};

// A leaf's (a float32 parameter's) 16-bit copy for autocast's
// LowerPrecision ops (autograd/autocast.h, "cached copies"): current while
// the leaf's storage version is `source_version` and nothing wrote into the
// copy since it was made (its version still `value_version`).
struct LowPrecisionCopy {
  Tensor value;
  uint64_t source_version = 0;
  uint64_t value_version = 0;
};

// Autograd state of one tensor (not shared by its views).
struct Meta {
  bool requires_grad = false;       // leaves: set by requires_grad_()
  Tensor grad;                      // leaves, and non-leaves that retain_grad()
  std::shared_ptr<Node> grad_fn;    // non-leaves: the op that produced the tensor
  std::weak_ptr<Node> accumulator;  // leaves: the node that adds into `grad`
  HookList leaf_hooks;              // leaves (a non-leaf's hooks live on its grad_fn)
  // Leaves: hooks run after accumulation, and the leaf they are handed
  // (held weakly: the Meta is owned by that TensorImpl).
  PostAccumulateHookList post_accumulate_hooks;
  std::weak_ptr<TensorImpl> leaf_impl;
  LowPrecisionCopy low_precision;  // leaves under autocast
  bool retains_grad = false;
};

// A tensor kept for the backward pass. It holds the data without its
// autograd state (so a node saving its own output makes no cycle) and the
// storage version at save time: backward refuses it if it was written since.
class SavedTensor {
 public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor& t);
  // The saved tensor; Error when it was modified in place after saving.
  const Tensor& get() const;

 private:
  Tensor data_;
  uint64_t version_ = 0;
};

// Where an input's gradient goes, and the shape and dtype it must have there
// (a broadcast input gets its gradient summed back to its own shape, a
// float32 input of a float64 op gets it cast back).
struct Edge {
  std::shared_ptr<Node> node;  // null: no gradient flows to this input
  Shape shape;
  DType dtype = DType::Float32;
};

// d(loss)/d(inputs) from d(loss)/d(output): one tensor per input, in order;
// an undefined tensor means "no gradient" for that input.
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

// One recorded op (or, for a leaf, the sink that accumulates its gradient).
struct Node {
  Op op = Op::view;
  bool is_accumulator = false;  // a leaf's sink: no backward, adds into the leaf's grad
  std::vector<Edge> inputs;
  BackwardFn backward;        // what the op saved lives in its captures
  bool released = false;      // backward ran without retain_graph: captures are freed
  std::weak_ptr<Meta> owner;  // the tensor this node produced (or accumulates into)
  // Hooks registered on the produced tensor: they live as long as the graph
  // does, even when the tensor itself is gone.
  HookList hooks;

  // Scratch of one backward() pass.
  Tensor pending_grad;
  int64_t waiting_for = 0;  // consumers that have not yet passed their gradient
  uint64_t visit_pass = 0;  // the backward() pass that last reached this node

  std::string_view name() const { return is_accumulator ? "accumulate_grad" : op_name(op); }
};

}  // namespace toadstool::autograd
