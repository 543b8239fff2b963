// Fused NN kernels: softmax, log_softmax, layer_norm.
#include "kernels/cpu/layer_norm.h"
#include "kernels/cpu/softmax.h"
#include "tensor/elementwise.h"
#include "tensor/ops.h"

namespace toadstool {

namespace {

Tensor softmax_impl(const Tensor& t, int64_t dim, bool log, const char* op) {
  detail::check_cpu(t, op);
  const int64_t d = detail::wrap_dim(dim, t.dim(), op);
  const DType result = is_floating(t.dtype()) ? t.dtype() : DType::Float32;
  // [outer, size, inner] around dim, over a contiguous copy when needed.
  const Tensor in = contiguous(to_dtype(t, detail::compute_dtype(result)));
  int64_t outer = 1, size = 1, inner = 1;
  for (int64_t k = 0; k < t.dim(); ++k) {
    if (k < d)
      outer *= t.shape()[k];
    else if (k == d)
      size = t.shape()[k];
    else
      inner *= t.shape()[k];
  }
  Tensor out = detail::make_tensor(t.shape(), in.dtype());
  dispatch_float(in.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::cpu::softmax_forward(static_cast<const T*>(in.data_ptr()),
                                  static_cast<T*>(out.data_ptr()), outer, size, inner, log);
  });
  return detail::finish_result(out, result);
}

}  // namespace

Tensor softmax(const Tensor& t, int64_t dim) { return softmax_impl(t, dim, false, "softmax"); }
Tensor log_softmax(const Tensor& t, int64_t dim) {
  return softmax_impl(t, dim, true, "log_softmax");
}

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps) {
  const char* op = "layer_norm";
  detail::check_cpu(x, op);
  TS_CHECK(is_floating(x.dtype()), op, ": expected a floating input, got ", detail::describe(x));
  const int64_t nd = static_cast<int64_t>(normalized_shape.size());
  TS_CHECK(
      nd >= 1 && nd <= x.dim() && Shape(x.shape().end() - nd, x.shape().end()) == normalized_shape,
      op, ": normalized_shape ", normalized_shape, " does not match the trailing dims of ",
      detail::describe(x));
  for (const Tensor* p : {&weight, &bias}) {
    if (!p->defined()) continue;
    detail::check_cpu(*p, op);
    TS_CHECK(p->shape() == normalized_shape && p->dtype() == x.dtype(), op,
             ": weight and bias must be ", normalized_shape, " ", dtype_name(x.dtype()), ", got ",
             detail::describe(*p));
  }
  TS_CHECK(eps >= 0, op, ": eps must be non-negative, got ", eps);
  const DType compute = detail::compute_dtype(x.dtype());
  const Tensor in = contiguous(to_dtype(x, compute));
  const Tensor w = weight.defined() ? contiguous(to_dtype(weight, compute)) : Tensor();
  const Tensor b = bias.defined() ? contiguous(to_dtype(bias, compute)) : Tensor();
  const int64_t cols = detail::shape_numel(normalized_shape);
  const int64_t rows = cols == 0 ? 0 : x.numel() / cols;
  Tensor out = detail::make_tensor(x.shape(), compute);
  dispatch_float(compute, op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto ptr = [](const Tensor& t) {
      return t.defined() ? static_cast<const T*>(t.data_ptr()) : nullptr;
    };
    kernels::cpu::layer_norm_forward(ptr(in), ptr(w), ptr(b), static_cast<T*>(out.data_ptr()),
                                     static_cast<T*>(nullptr), static_cast<T*>(nullptr), rows, cols,
                                     eps);
  });
  return detail::finish_result(out, x.dtype());
}

}  // namespace toadstool
