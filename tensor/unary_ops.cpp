// Unary element-wise ops.
#include "kernels/math.h"
#include "tensor/elementwise.h"
#include "tensor/native_ops.h"

namespace toadstool::native {

namespace {

// Float ops (exp, tanh...) turn integer and bool inputs into float32; the
// 16-bit floats compute in float32 and round once at the end.
template <class Op>
Tensor float_unary(const char* op, const Tensor& t) {
  detail::check_cpu(t, op);
  const DType result = is_floating(t.dtype()) ? t.dtype() : DType::Float32;
  const DType compute = detail::compute_dtype(result);
  const Tensor in = to_dtype(t, compute);
  Tensor out = detail::make_tensor(t.shape(), compute);
  dispatch_float(compute, op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    detail::run_elementwise<T, T>(Op{}, out, in);
  });
  return detail::finish_result(out, result);
}

// Ops that keep the dtype (neg, abs, relu); bool is rejected.
template <class Op>
Tensor numeric_unary(const char* op, const Tensor& t) {
  detail::check_cpu(t, op);
  TS_CHECK(t.dtype() != DType::Bool, op, ": bool tensors are not supported");
  const DType compute = detail::compute_dtype(t.dtype());
  const Tensor in = to_dtype(t, compute);
  Tensor out = detail::make_tensor(t.shape(), compute);
  dispatch_compute(compute, op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    detail::run_elementwise<T, T>(Op{}, out, in);
  });
  return detail::finish_result(out, t.dtype());
}

}  // namespace

Tensor neg(const Tensor& t) { return numeric_unary<kernels::NegOp>("neg", t); }
Tensor abs(const Tensor& t) { return numeric_unary<kernels::AbsOp>("abs", t); }
Tensor relu(const Tensor& t) { return numeric_unary<kernels::ReluOp>("relu", t); }
Tensor exp(const Tensor& t) { return float_unary<kernels::ExpOp>("exp", t); }
Tensor log(const Tensor& t) { return float_unary<kernels::LogOp>("log", t); }
Tensor log1p(const Tensor& t) { return float_unary<kernels::Log1pOp>("log1p", t); }
Tensor sqrt(const Tensor& t) { return float_unary<kernels::SqrtOp>("sqrt", t); }
Tensor rsqrt(const Tensor& t) { return float_unary<kernels::RsqrtOp>("rsqrt", t); }
Tensor tanh(const Tensor& t) { return float_unary<kernels::TanhOp>("tanh", t); }
Tensor sigmoid(const Tensor& t) { return float_unary<kernels::SigmoidOp>("sigmoid", t); }
Tensor sin(const Tensor& t) { return float_unary<kernels::SinOp>("sin", t); }
Tensor cos(const Tensor& t) { return float_unary<kernels::CosOp>("cos", t); }

Tensor gelu(const Tensor& t, const std::string& approximate) {
  if (approximate == "none") return float_unary<kernels::GeluErfOp>("gelu", t);
  TS_CHECK(approximate == "tanh", "gelu: approximate must be 'none' or 'tanh', got '", approximate,
           "'");
  return float_unary<kernels::GeluTanhOp>("gelu", t);
}

namespace {

// grad * f'(x) for an element-wise f, by the functor Op(grad, x); `op` names
// it in errors. grad and x: one shape, one floating dtype.
template <class Op>
Tensor pointwise_backward(const char* op, const Tensor& grad, const Tensor& x) {
  detail::check_cpu(grad, op);
  detail::check_cpu(x, op);
  TS_CHECK(grad.shape() == x.shape() && grad.dtype() == x.dtype() && is_floating(x.dtype()), op,
           ": expected a floating gradient and input of one shape and dtype, got ",
           detail::describe(grad), " and ", detail::describe(x));
  const DType compute = detail::compute_dtype(x.dtype());
  const Tensor g = to_dtype(grad, compute), in = to_dtype(x, compute);
  Tensor out = detail::make_tensor(x.shape(), compute);
  dispatch_float(compute, op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    detail::run_elementwise<T, T, T>(Op{}, out, g, in);
  });
  return detail::finish_result(out, x.dtype());
}

}  // namespace

Tensor gelu_backward(const Tensor& grad, const Tensor& x, const std::string& approximate) {
  if (approximate == "none")
    return pointwise_backward<kernels::GeluErfBackwardOp>("gelu_backward", grad, x);
  TS_CHECK(approximate == "tanh", "gelu_backward: approximate must be 'none' or 'tanh', got '",
           approximate, "'");
  return pointwise_backward<kernels::GeluTanhBackwardOp>("gelu_backward", grad, x);
}

Tensor relu_backward(const Tensor& grad, const Tensor& y) {
  return pointwise_backward<kernels::ReluBackwardOp>("relu_backward", grad, y);
}

Tensor logical_not(const Tensor& t) {
  detail::check_cpu(t, "logical_not");
  const DType compute = detail::compute_dtype(t.dtype());
  const Tensor in = to_dtype(t, compute);
  Tensor out = detail::make_tensor(t.shape(), DType::Bool);
  dispatch_compute(compute, "logical_not", [&](auto tag) {
    using T = typename decltype(tag)::type;
    detail::run_elementwise<bool, T>(kernels::LogicalNotOp{}, out, in);
  });
  return out;
}

}  // namespace toadstool::native
