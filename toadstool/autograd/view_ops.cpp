// Views and copies, with their derivatives. A view's gradient is the
// gradient laid back into the input's shape: reshaped, permuted back, or
// written into zeros at the viewed positions.
#include "toadstool/autograd/ops.h"
#include "toadstool/autograd/record.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool {

using autograd::Grads;
using autograd::needs_grad;
using autograd::Op;
using autograd::record;

namespace {

// For ops that only rearrange the shape: the gradient reshaped back.
Tensor reshaped_back(Op op, Tensor out, const Tensor& t) {
  if (needs_grad(t)) {
    record(op, out, {t},
           [shape = t.shape()](const Tensor& g) -> Grads { return {reshape(g, shape)}; });
  }
  return out;
}

// For ops that view part of the input: zeros of the input's shape with the
// gradient written into the same part, `part(zeros)` being that view.
template <class Part>
Tensor placed_back(Op op, Tensor out, const Tensor& t, Part part) {
  if (needs_grad(t)) {
    record(op, out, {t}, [shape = t.shape(), dtype = t.dtype(), part](const Tensor& g) -> Grads {
      Tensor grad = zeros(shape, TensorOptions(dtype).device(g.device()));
      Tensor window = part(grad);
      native::copy_(window, g);
      return {grad};
    });
  }
  return out;
}

}  // namespace

Tensor view(const Tensor& t, const Shape& shape) {
  return reshaped_back(Op::view, native::view(t, shape), t);
}
Tensor reshape(const Tensor& t, const Shape& shape) {
  return reshaped_back(Op::reshape, native::reshape(t, shape), t);
}
Tensor flatten(const Tensor& t, int64_t start_dim, int64_t end_dim) {
  return reshaped_back(Op::flatten, native::flatten(t, start_dim, end_dim), t);
}
Tensor squeeze(const Tensor& t) { return reshaped_back(Op::squeeze, native::squeeze(t), t); }
Tensor squeeze(const Tensor& t, int64_t dim) {
  return reshaped_back(Op::squeeze, native::squeeze(t, dim), t);
}
Tensor unsqueeze(const Tensor& t, int64_t dim) {
  return reshaped_back(Op::unsqueeze, native::unsqueeze(t, dim), t);
}

Tensor permute(const Tensor& t, const Shape& dims) {
  Tensor out = native::permute(t, dims);
  if (needs_grad(t)) {
    // inverse[dims[i]] = i undoes the permutation.
    Shape inverse(dims.size());
    for (size_t i = 0; i < dims.size(); ++i) {
      inverse[detail::wrap_dim(dims[i], t.dim(), "permute")] = static_cast<int64_t>(i);
    }
    record(Op::permute, out, {t},
           [inverse](const Tensor& g) -> Grads { return {permute(g, inverse)}; });
  }
  return out;
}

Tensor transpose(const Tensor& t, int64_t dim0, int64_t dim1) {
  Tensor out = native::transpose(t, dim0, dim1);
  if (needs_grad(t)) {
    record(Op::transpose, out, {t},
           [dim0, dim1](const Tensor& g) -> Grads { return {transpose(g, dim0, dim1)}; });
  }
  return out;
}

Tensor narrow(const Tensor& t, int64_t dim, int64_t start, int64_t length) {
  return placed_back(Op::narrow, native::narrow(t, dim, start, length), t,
                     [=](const Tensor& z) { return native::narrow(z, dim, start, length); });
}

Tensor slice(const Tensor& t, int64_t dim, std::optional<int64_t> start, std::optional<int64_t> end,
             int64_t step) {
  return placed_back(Op::slice, native::slice(t, dim, start, end, step), t,
                     [=](const Tensor& z) { return native::slice(z, dim, start, end, step); });
}

Tensor select(const Tensor& t, int64_t dim, int64_t index) {
  return placed_back(Op::select, native::select(t, dim, index), t,
                     [=](const Tensor& z) { return native::select(z, dim, index); });
}

// expand, contiguous, clone, to_dtype: the gradient passes through as it is;
// the engine sums it over the expanded dims and casts it to the input's dtype.
Tensor expand(const Tensor& t, const Shape& shape) {
  Tensor out = native::expand(t, shape);
  if (needs_grad(t)) record(Op::expand, out, {t}, [](const Tensor& g) -> Grads { return {g}; });
  return out;
}

Tensor contiguous(const Tensor& t) {
  Tensor out = native::contiguous(t);
  if (out.is_same(t)) return out;  // already contiguous: the same tensor
  if (needs_grad(t)) record(Op::contiguous, out, {t}, [](const Tensor& g) -> Grads { return {g}; });
  return out;
}

Tensor clone(const Tensor& t) {
  Tensor out = native::clone(t);
  if (needs_grad(t)) record(Op::clone, out, {t}, [](const Tensor& g) -> Grads { return {g}; });
  return out;
}

Tensor to_dtype(const Tensor& t, DType dtype) {
  Tensor out = native::to_dtype(t, dtype);
  if (out.is_same(t)) return out;
  if (needs_grad(t) && is_floating(dtype)) {
    record(Op::to_dtype, out, {t}, [](const Tensor& g) -> Grads { return {g}; });
  }
  return out;
}

Tensor to_device(const Tensor& t, Device device, bool non_blocking) {
  Tensor out = native::to_device(t, device, non_blocking);
  if (out.is_same(t)) return out;
  if (needs_grad(t)) {
    record(Op::to_device, out, {t},
           [from = t.device()](const Tensor& g) -> Grads { return {to_device(g, from)}; });
  }
  return out;
}

// A copy on the same device (the CPU): recorded as a move to the CPU, whose
// gradient is the gradient itself.
Tensor pin_memory(const Tensor& t) {
  Tensor out = native::pin_memory(t);
  if (out.is_same(t)) return out;
  if (needs_grad(t)) {
    record(Op::to_device, out, {t}, [](const Tensor& g) -> Grads { return {to_device(g, kCPU)}; });
  }
  return out;
}

}  // namespace toadstool
