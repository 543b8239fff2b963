// The backward pass, in micrograd's shape: find the nodes that lead to the
// root and how many consumers each has, then walk them so that a node runs
// only after every consumer has passed it its gradient.
#include "toadstool/autograd/engine.h"

#include <atomic>
#include <functional>
#include <utility>
#include <vector>

#include "toadstool/autograd/autocast.h"
#include "toadstool/autograd/node.h"
#include "toadstool/autograd/record.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/native_ops.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool::autograd {

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  const int64_t lead = grad.dim() - static_cast<int64_t>(shape.size());
  TS_CHECK(lead >= 0, "backward: cannot reduce a gradient of shape ", grad.shape(), " to ", shape);
  Shape dims;
  for (int64_t d = 0; d < grad.dim(); ++d) {
    if (d < lead) {
      dims.push_back(d);
    } else if (shape[d - lead] != grad.shape()[d]) {
      TS_CHECK(shape[d - lead] == 1, "backward: cannot reduce a gradient of shape ", grad.shape(),
               " to ", shape);
      dims.push_back(d);
    }
  }
  return native::reshape(native::sum(grad, dims, /*keepdim=*/true), shape);
}

namespace {

// The gradient arriving at an input, in that input's shape and dtype.
Tensor fit_to_input(const Tensor& grad, const Edge& edge) {
  Tensor g = sum_to(grad, edge.shape);
  return g.dtype() == edge.dtype ? g : native::to_dtype(g, edge.dtype);
}

// grad += g, taking g itself when nothing else holds it (the usual case: the
// gradient was made for this leaf), else a copy, so that two leaves never
// share one gradient buffer.
void accumulate(Tensor& grad, Tensor g) {
  if (grad.defined()) {
    native::add_(grad, g);
    return;
  }
  const bool sole_owner = g.impl_ptr().use_count() == 1 && g.impl_ptr()->storage.use_count() == 1;
  grad = sole_owner && g.is_contiguous() ? std::move(g) : native::clone(g);
}

// Every node reachable from `root`, with `waiting_for` set to its number of
// consumers in that graph and `pending_grad` cleared.
std::vector<Node*> collect(Node* root) {
  static std::atomic<uint64_t> last_pass{0};
  const uint64_t pass = ++last_pass;
  std::vector<Node*> nodes{root};
  std::vector<Node*> stack{root};
  root->visit_pass = pass;
  root->waiting_for = 0;
  root->pending_grad = Tensor();
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    for (const Edge& edge : node->inputs) {
      Node* next = edge.node.get();
      if (next == nullptr) continue;
      if (next->visit_pass != pass) {
        next->visit_pass = pass;
        next->waiting_for = 0;
        next->pending_grad = Tensor();
        nodes.push_back(next);
        stack.push_back(next);
      }
      ++next->waiting_for;
    }
  }
  return nodes;
}

// Runs the tensor's hooks on its gradient, then adds it into a leaf's grad
// (and runs the leaf's post-accumulate hooks on it), or keeps a copy for a
// non-leaf that retains grad.
void visit_owner(const Node& node, Tensor& grad) {
  node.hooks.run(grad);
  const std::shared_ptr<Meta> meta = node.owner.lock();
  if (!meta) return;
  if (node.is_accumulator) {
    meta->leaf_hooks.run(grad);
    accumulate(meta->grad, std::move(grad));
    if (meta->post_accumulate_hooks.empty()) return;
    // The leaf handle may be gone (a graph outliving its parameter): then
    // no one can read its grad() and the hooks have nothing to see.
    if (std::shared_ptr<TensorImpl> leaf = meta->leaf_impl.lock()) {
      meta->post_accumulate_hooks.run(Tensor(std::move(leaf)));
    }
  } else if (meta->retains_grad) {
    accumulate(meta->grad, native::clone(grad));
  }
}

std::vector<Tensor> run_node(Node& node, const Tensor& grad) {
  TS_CHECK(!node.released, "backward: trying to backward through the graph a second time: '",
           node.name(), "' has already freed the tensors it saved; pass retain_graph=true to ",
           "the first backward() to keep them");
  std::vector<Tensor> grads;
  try {
    grads = node.backward(grad);
  } catch (const Error& e) {
    throw Error(detail::concat("backward of '", node.name(), "': ", e.what()));
  }
  TS_CHECK(grads.size() == node.inputs.size(), "backward of '", node.name(), "' returned ",
           grads.size(), " gradients for ", node.inputs.size(), " inputs");
  return grads;
}

// The callbacks queued during the backward() running on this thread
// (queue_callback). A backward started from inside a hook or callback gets
// its own list and restores the outer one when it ends, however it ends.
class BackwardPass {
 public:
  BackwardPass() : outer_(current_) { current_ = this; }
  ~BackwardPass() { current_ = outer_; }
  BackwardPass(const BackwardPass&) = delete;
  BackwardPass& operator=(const BackwardPass&) = delete;

  static BackwardPass* current() { return current_; }
  void queue(std::function<void()> callback) { callbacks_.push_back(std::move(callback)); }
  // Runs the callbacks in order, including those they queue themselves.
  void run_callbacks() {
    for (size_t i = 0; i < callbacks_.size(); ++i) {
      std::function<void()> callback = std::move(callbacks_[i]);
      callback();
    }
    callbacks_.clear();
  }

 private:
  static thread_local BackwardPass* current_;
  BackwardPass* outer_;
  std::vector<std::function<void()>> callbacks_;
};

thread_local BackwardPass* BackwardPass::current_ = nullptr;

}  // namespace

void queue_callback(std::function<void()> callback) {
  BackwardPass* pass = BackwardPass::current();
  TS_CHECK(pass != nullptr, "queue_callback: no backward() is running on this thread; queue ",
           "end-of-backward callbacks from a hook that backward runs");
  TS_CHECK(callback != nullptr, "queue_callback: the callback is empty");
  pass->queue(std::move(callback));
}

bool in_backward() { return BackwardPass::current() != nullptr; }

size_t PostAccumulateHookList::add(PostAccumulateHook hook) {
  hooks_.emplace_back(next_id_, std::move(hook));
  return next_id_++;
}

void PostAccumulateHookList::remove(size_t id) {
  std::erase_if(hooks_, [id](const auto& entry) { return entry.first == id; });
}

void PostAccumulateHookList::run(const Tensor& leaf) const {
  // A copy: a hook may register or remove hooks of this leaf while it runs.
  const auto hooks = hooks_;
  for (const auto& [id, hook] : hooks) hook(leaf);
}

size_t HookList::add(Hook hook) {
  hooks_.emplace_back(next_id_, std::move(hook));
  return next_id_++;
}

void HookList::remove(size_t id) {
  std::erase_if(hooks_, [id](const auto& entry) { return entry.first == id; });
}

void HookList::run(Tensor& grad) const {
  for (const auto& [id, hook] : hooks_) {
    Tensor replaced = hook(grad);
    if (!replaced.defined()) continue;
    TS_CHECK(replaced.shape() == grad.shape(), "backward: a hook returned a gradient of shape ",
             replaced.shape(), " for a tensor of shape ", grad.shape());
    grad = std::move(replaced);
  }
}

void backward(const Tensor& root, const Tensor& gradient, bool retain_graph) {
  TS_CHECK(root.defined(), "backward: called on an undefined tensor");
  TS_CHECK(root.requires_grad(), "backward: the tensor (", detail::describe(root),
           ") does not require grad: it is neither a leaf with requires_grad nor the result of ",
           "an op on one");
  Tensor seed;
  if (gradient.defined()) {
    TS_CHECK(gradient.shape() == root.shape(), "backward: the gradient has shape ",
             gradient.shape(), " but the tensor has shape ", root.shape());
    seed = gradient.dtype() == root.dtype() ? gradient : native::to_dtype(gradient, root.dtype());
  } else {
    TS_CHECK(root.numel() == 1, "backward: a gradient can be implied only for a one-element ",
             "tensor, got shape ", root.shape(), "; pass the gradient: backward(gradient)");
    seed = ones_like(root);
  }
  NoGradGuard no_grad;
  // Derivatives run in the dtypes their forward ran in, even when backward
  // is called inside an Autocast scope.
  const Autocast no_cpu_autocast(DeviceType::CPU, std::nullopt, /*enabled=*/false);
  const Autocast no_cuda_autocast(DeviceType::CUDA, std::nullopt, /*enabled=*/false);
  BackwardPass pass;
  const std::shared_ptr<Node> root_node = gradient_sink(root);
  collect(root_node.get());
  root_node->pending_grad = std::move(seed);
  std::vector<Node*> ready{root_node.get()};
  while (!ready.empty()) {
    Node& node = *ready.back();
    ready.pop_back();
    Tensor grad = std::move(node.pending_grad);
    std::vector<Tensor> grads(node.inputs.size());
    if (grad.defined()) {
      visit_owner(node, grad);
      if (!node.is_accumulator) grads = run_node(node, grad);
    }
    if (!retain_graph && !node.is_accumulator) {
      node.backward = nullptr;
      node.released = true;
    }
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const Edge& edge = node.inputs[i];
      if (!edge.node) continue;
      if (grads[i].defined()) {
        Tensor g = fit_to_input(grads[i], edge);
        Tensor& pending = edge.node->pending_grad;
        pending = pending.defined() ? native::add(pending, g) : std::move(g);
      }
      if (--edge.node->waiting_for == 0) ready.push_back(edge.node.get());
    }
  }
  pass.run_callbacks();
}

}  // namespace toadstool::autograd
