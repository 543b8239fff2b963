// Unary element-wise ops.
#include "toadstool/tensor/elementwise.h"
#include "toadstool/tensor/native_ops.h"

namespace toadstool::native {

using kernels::ElementwiseOp;

namespace {

// Ops that keep the dtype (neg, abs, relu); bool is rejected.
Tensor numeric_unary(const char* op, const Tensor& t, ElementwiseOp kernel) {
  detail::check_defined(t, op);
  TS_CHECK(t.dtype() != DType::Bool, op, ": bool tensors are not supported");
  const DType compute = detail::compute_dtype(t.dtype());
  const Tensor in = to_dtype(t, compute);
  Tensor out = detail::make_tensor(t.shape(), compute, t.device());
  detail::run_elementwise({.op = kernel, .dtype = compute}, out, {&in});
  return detail::finish_result(out, t.dtype());
}

}  // namespace

// Integer and bool inputs give float32; the 16-bit floats compute in float32
// and round once at the end.
Tensor float_unary(const char* op, ElementwiseOp kernel, const Tensor& t, double a, double b) {
  detail::check_defined(t, op);
  const DType result = is_floating(t.dtype()) ? t.dtype() : DType::Float32;
  const DType compute = detail::compute_dtype(result);
  const Tensor in = to_dtype(t, compute);
  Tensor out = detail::make_tensor(t.shape(), compute, t.device());
  detail::run_elementwise({.op = kernel, .dtype = compute, .a = {.f = a}, .b = {.f = b}}, out,
                          {&in});
  return detail::finish_result(out, result);
}
Tensor neg(const Tensor& t) { return numeric_unary("neg", t, ElementwiseOp::Neg); }
Tensor abs(const Tensor& t) { return numeric_unary("abs", t, ElementwiseOp::Abs); }
Tensor relu(const Tensor& t) { return numeric_unary("relu", t, ElementwiseOp::Relu); }
Tensor exp(const Tensor& t) { return float_unary("exp", ElementwiseOp::Exp, t); }
Tensor log(const Tensor& t) { return float_unary("log", ElementwiseOp::Log, t); }
Tensor log1p(const Tensor& t) { return float_unary("log1p", ElementwiseOp::Log1p, t); }
Tensor sqrt(const Tensor& t) { return float_unary("sqrt", ElementwiseOp::Sqrt, t); }
Tensor rsqrt(const Tensor& t) { return float_unary("rsqrt", ElementwiseOp::Rsqrt, t); }
Tensor tanh(const Tensor& t) { return float_unary("tanh", ElementwiseOp::Tanh, t); }
Tensor sigmoid(const Tensor& t) { return float_unary("sigmoid", ElementwiseOp::Sigmoid, t); }
Tensor sin(const Tensor& t) { return float_unary("sin", ElementwiseOp::Sin, t); }
Tensor cos(const Tensor& t) { return float_unary("cos", ElementwiseOp::Cos, t); }

Tensor gelu(const Tensor& t, const std::string& approximate) {
  if (approximate == "none") return float_unary("gelu", ElementwiseOp::GeluErf, t);
  TS_CHECK(approximate == "tanh", "gelu: approximate must be 'none' or 'tanh', got '", approximate,
           "'");
  return float_unary("gelu", ElementwiseOp::GeluTanh, t);
}

namespace {

// grad * f'(x) for an element-wise f, by the functor kernel(grad, x); `op`
// names it in errors. grad and x: one shape, one floating dtype.
// in_16bit: the kernel runs on float16 / bfloat16 as they are (its
// Floating row; exact ones only), else they compute in float32.
Tensor pointwise_backward(const char* op, const Tensor& grad, const Tensor& x, ElementwiseOp kernel,
                          bool in_16bit = false) {
  detail::common_device(op, {&grad, &x});
  detail::check_defined(x, op);
  TS_CHECK(grad.shape() == x.shape() && grad.dtype() == x.dtype() && is_floating(x.dtype()), op,
           ": expected a floating gradient and input of one shape and dtype, got ",
           detail::describe(grad), " and ", detail::describe(x));
  const DType compute = in_16bit ? x.dtype() : detail::compute_dtype(x.dtype());
  const Tensor g = to_dtype(grad, compute), in = to_dtype(x, compute);
  Tensor out = detail::make_tensor(x.shape(), compute, x.device());
  detail::run_elementwise({.op = kernel, .dtype = compute}, out, {&g, &in});
  return detail::finish_result(out, x.dtype());
}

}  // namespace

Tensor gelu_backward(const Tensor& grad, const Tensor& x, const std::string& approximate) {
  if (approximate == "none")
    return pointwise_backward("gelu_backward", grad, x, ElementwiseOp::GeluErfBackward);
  TS_CHECK(approximate == "tanh", "gelu_backward: approximate must be 'none' or 'tanh', got '",
           approximate, "'");
  return pointwise_backward("gelu_backward", grad, x, ElementwiseOp::GeluTanhBackward);
}

Tensor relu_backward(const Tensor& grad, const Tensor& y) {
  return pointwise_backward("relu_backward", grad, y, ElementwiseOp::ReluBackward,
                            /*in_16bit=*/true);
}

Tensor logical_not(const Tensor& t) {
  detail::check_defined(t, "logical_not");
  const DType compute = detail::compute_dtype(t.dtype());
  const Tensor in = to_dtype(t, compute);
  Tensor out = detail::make_tensor(t.shape(), DType::Bool, t.device());
  detail::run_elementwise({.op = ElementwiseOp::LogicalNot, .dtype = compute}, out, {&in});
  return out;
}

}  // namespace toadstool::native
