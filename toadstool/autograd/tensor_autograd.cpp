// The autograd methods of Tensor (declared in tensor/tensor.h).
#include "toadstool/autograd/engine.h"
#include "toadstool/autograd/node.h"
#include "toadstool/autograd/record.h"
#include "toadstool/tensor/native_ops.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool {

namespace {

autograd::Meta* meta_of(const Tensor& t) {
  return t.defined() ? t.impl_ptr()->autograd.get() : nullptr;
}

// The tensor's Meta, created when it has none yet.
autograd::Meta& ensure_meta(const Tensor& t) {
  TS_CHECK(t.defined(), "autograd: use of an undefined tensor");
  std::shared_ptr<autograd::Meta>& meta = t.impl_ptr()->autograd;
  if (!meta) meta = std::make_shared<autograd::Meta>();
  return *meta;
}

const Tensor kNoGrad;

}  // namespace

bool Tensor::requires_grad() const {
  const autograd::Meta* meta = meta_of(*this);
  return meta != nullptr && (meta->requires_grad || meta->grad_fn != nullptr);
}

Tensor& Tensor::requires_grad_(bool requires_grad) {
  TS_CHECK(defined(), "requires_grad_: called on an undefined tensor");
  if (!is_leaf()) {
    TS_CHECK(requires_grad, "requires_grad_: cannot turn gradients off for a non-leaf tensor ",
             "(the result of '", grad_fn()->name(), "'); use detach()");
    return *this;
  }
  TS_CHECK(!requires_grad || is_floating_point(), "requires_grad_: only floating tensors can ",
           "require grad, got ", detail::describe(*this));
  ensure_meta(*this).requires_grad = requires_grad;
  return *this;
}

bool Tensor::is_leaf() const {
  const autograd::Meta* meta = meta_of(*this);
  return meta == nullptr || meta->grad_fn == nullptr;
}

const Tensor& Tensor::grad() const {
  const autograd::Meta* meta = meta_of(*this);
  return meta != nullptr ? meta->grad : kNoGrad;
}

Tensor& Tensor::mutable_grad() const { return ensure_meta(*this).grad; }

void Tensor::set_grad(const Tensor& grad) const {
  TS_CHECK(!grad.defined() || grad.shape() == shape(), "set_grad: a gradient of shape ",
           grad.defined() ? grad.shape() : Shape{}, " for a tensor of shape ", shape());
  ensure_meta(*this).grad = grad;
}

void Tensor::zero_grad(bool set_to_none) const {
  autograd::Meta* meta = meta_of(*this);
  if (meta == nullptr || !meta->grad.defined()) return;
  if (set_to_none) {
    meta->grad = Tensor();
  } else {
    native::zero_(meta->grad);
  }
}

void Tensor::set_data(const Tensor& data) const {
  TS_CHECK(defined() && data.defined(), "set_data: undefined tensor");
  TS_CHECK(is_leaf(), "set_data: only a leaf can take new data; this tensor is the result of '",
           grad_fn()->name(), "'");
  TS_CHECK(!requires_grad() || data.is_floating_point(),
           "set_data: a tensor that requires grad needs floating data, got ",
           detail::describe(data));
  TensorImpl& self = *impl_ptr();
  const TensorImpl& source = *data.impl_ptr();
  const bool same_layout = self.shape == source.shape && self.dtype == source.dtype &&
                           self.storage->device() == source.storage->device();
  self.storage = source.storage;
  self.shape = source.shape;
  self.strides = source.strides;
  self.offset = source.offset;
  self.dtype = source.dtype;
  if (!same_layout) zero_grad(/*set_to_none=*/true);
}

std::shared_ptr<autograd::Node> Tensor::grad_fn() const {
  const autograd::Meta* meta = meta_of(*this);
  return meta != nullptr ? meta->grad_fn : nullptr;
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  autograd::backward(*this, gradient, retain_graph);
}

Tensor Tensor::detach() const { return autograd::alias(*this); }

void Tensor::retain_grad() const {
  TS_CHECK(requires_grad(), "retain_grad: the tensor does not require grad");
  if (is_leaf()) return;  // leaves keep their gradient anyway
  ensure_meta(*this).retains_grad = true;
}

bool Tensor::retains_grad() const {
  const autograd::Meta* meta = meta_of(*this);
  return meta != nullptr && meta->retains_grad;
}

size_t Tensor::register_hook(std::function<Tensor(const Tensor&)> hook) const {
  TS_CHECK(requires_grad(), "register_hook: the tensor does not require grad, so no gradient ",
           "will reach the hook");
  if (!is_leaf()) return grad_fn()->hooks.add(std::move(hook));
  return ensure_meta(*this).leaf_hooks.add(std::move(hook));
}

size_t Tensor::register_post_accumulate_grad_hook(std::function<void(const Tensor&)> hook) const {
  TS_CHECK(requires_grad() && is_leaf(), "register_post_accumulate_grad_hook: only a leaf that ",
           "requires grad accumulates a gradient; got ", detail::describe(*this),
           requires_grad() ? " (the result of an op)" : " (does not require grad)");
  TS_CHECK(hook != nullptr, "register_post_accumulate_grad_hook: the hook is empty");
  autograd::Meta& meta = ensure_meta(*this);
  meta.leaf_impl = impl_ptr();
  return meta.post_accumulate_hooks.add(std::move(hook));
}

void Tensor::remove_post_accumulate_grad_hook(size_t id) const {
  if (autograd::Meta* meta = meta_of(*this)) meta->post_accumulate_hooks.remove(id);
}

void Tensor::remove_hook(size_t id) const {
  if (!is_leaf()) {
    grad_fn()->hooks.remove(id);
  } else if (autograd::Meta* meta = meta_of(*this)) {
    meta->leaf_hooks.remove(id);
  }
}

}  // namespace toadstool
