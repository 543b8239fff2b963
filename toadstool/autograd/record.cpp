#include "toadstool/autograd/record.h"

namespace toadstool::autograd {

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!is_grad_enabled()) return false;
  for (const Tensor& t : inputs) {
    if (t.requires_grad()) return true;
  }
  return false;
}

Tensor alias(const Tensor& t) {
  const TensorImpl& from = *t.impl_ptr();
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = from.storage;
  impl->shape = from.shape;
  impl->strides = from.strides;
  impl->offset = from.offset;
  impl->dtype = from.dtype;
  return Tensor(std::move(impl));
}

std::shared_ptr<Node> gradient_sink(const Tensor& t) {
  if (!t.defined()) return nullptr;
  const std::shared_ptr<Meta>& meta = t.impl_ptr()->autograd;
  if (!meta) return nullptr;
  if (meta->grad_fn) return meta->grad_fn;
  if (!meta->requires_grad) return nullptr;
  std::shared_ptr<Node> sink = meta->accumulator.lock();
  if (!sink) {
    sink = std::make_shared<Node>();
    sink->is_accumulator = true;
    sink->owner = meta;
    meta->accumulator = sink;
  }
  return sink;
}

void record(Op op, Tensor& out, const std::vector<Tensor>& inputs, BackwardFn backward) {
  auto node = std::make_shared<Node>();
  node->op = op;
  node->backward = std::move(backward);
  node->inputs.resize(inputs.size());
  bool out_is_input = false;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& in = inputs[i];
    if (!in.defined()) continue;
    node->inputs[i] = Edge{gradient_sink(in), in.shape(), in.dtype()};
    out_is_input = out_is_input || out.is_same(in);
  }
  if (out_is_input || out.impl_ptr()->autograd) out = alias(out);
  auto meta = std::make_shared<Meta>();
  meta->grad_fn = node;
  node->owner = meta;
  out.impl_ptr()->autograd = std::move(meta);
}

SavedTensor::SavedTensor(const Tensor& t) {
  if (!t.defined()) return;
  // Always a fresh handle: an op saves its output before record() attaches
  // the node to it, and the saved handle must not become that output (the
  // node would then own itself through its captures and never be freed).
  data_ = alias(t);
  version_ = t.version();
}

const Tensor& SavedTensor::get() const {
  TS_CHECK(!data_.defined() || data_.version() == version_, "a tensor saved for backward (shape ",
           data_.shape(), ") was modified by an in-place op ",
           "after it was saved (its version is ", data_.version(), ", saved at ", version_,
           "); use an out-of-place op or clone() it first");
  return data_;
}

}  // namespace toadstool::autograd
