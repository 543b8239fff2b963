// Binary element-wise ops: arithmetic, comparisons, logic, where, clamp, and
// their scalar and in-place forms.
#include <limits>

#include "toadstool/tensor/elementwise.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/native_ops.h"

namespace toadstool::native {

namespace {

using kernels::Bind;
using kernels::ElementwiseCall;
using kernels::ElementwiseOp;

// How an op's result dtype follows from the promoted operand dtype.
enum class ResultKind {
  Same,   // add, mul, maximum...: the promoted dtype
  Float,  // div, atan2: integers and bool give float32
  Bool,   // comparisons and logic: bool
};

// A binary op: its functor, result kind and, for add and sub, alpha.
struct BinaryOp {
  ElementwiseOp kernel;
  ResultKind kind = ResultKind::Same;
  Scalar alpha = 1;  // a + alpha * b
};

DType result_dtype(DType promoted, ResultKind kind) {
  switch (kind) {
    case ResultKind::Same: return promoted;
    case ResultKind::Float: return is_floating(promoted) ? promoted : DType::Float32;
    case ResultKind::Bool: break;
  }
  return DType::Bool;
}

// The dtype the kernel computes in: comparisons compare in the promoted
// dtype, the others compute in their result dtype.
DType kernel_dtype(DType promoted, ResultKind kind) {
  return detail::compute_dtype(kind == ResultKind::Bool ? promoted : result_dtype(promoted, kind));
}

ElementwiseCall make_call(const char* op, const BinaryOp& f, DType compute) {
  return {.op = f.kernel, .dtype = compute, .a = detail::kernel_scalar(f.alpha, compute, op)};
}

// Writes f(a, b) into `out` (already allocated with the broadcast shape and
// either bool or compute dtype); a and b are converted to the compute dtype.
void run_binary(const char* op, const Tensor& out, const Tensor& a, const Tensor& b, DType compute,
                const BinaryOp& f) {
  const Tensor ca = detail::expand_to(to_dtype(a, compute), out.shape(), op);
  const Tensor cb = detail::expand_to(to_dtype(b, compute), out.shape(), op);
  detail::run_elementwise(make_call(op, f, compute), out, {&ca, &cb});
}

Device check_operands(const char* op, const Tensor& a, const Tensor& b) {
  detail::check_defined(b, op);
  return detail::common_device(op, {&a, &b});
}

Tensor binary(const char* op, const Tensor& a, const Tensor& b, const BinaryOp& f) {
  const Device device = check_operands(op, a, b);
  const DType promoted = promote_types(a.dtype(), b.dtype());
  const DType result = result_dtype(promoted, f.kind);
  const DType compute = kernel_dtype(promoted, f.kind);
  const Shape shape = detail::broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = detail::make_tensor(shape, detail::compute_dtype(result), device);
  run_binary(op, out, a, b, compute, f);
  return detail::finish_result(out, result);
}

// t (op) s, or s (op) t when scalar_first; runs as a unary loop.
Tensor binary_scalar(const char* op, const Tensor& t, const Scalar& s, bool scalar_first,
                     const BinaryOp& f) {
  detail::check_defined(t, op);
  const DType promoted = promote_with_scalar(t.dtype(), s);
  const DType result = result_dtype(promoted, f.kind);
  const DType compute = kernel_dtype(promoted, f.kind);
  const Tensor in = to_dtype(t, compute);
  Tensor out = detail::make_tensor(t.shape(), detail::compute_dtype(result), t.device());
  ElementwiseCall call = make_call(op, f, compute);
  call.bind = scalar_first ? Bind::First : Bind::Second;
  call.bound = detail::kernel_scalar(s, compute, op);
  detail::run_elementwise(call, out, {&in});
  return detail::finish_result(out, result);
}

void check_not_bool_sub(const char* op, DType a, DType b) {
  TS_CHECK(!(a == DType::Bool && b == DType::Bool), op,
           ": subtraction of bool tensors is not supported; use logical_xor");
}

void check_alpha(const char* op, DType promoted, const Scalar& alpha) {
  TS_CHECK(is_floating(promoted) || !alpha.is_floating(), op, ": alpha ", alpha,
           " is a float but the operands have dtype ", dtype_name(promoted));
}

// In-place: compute into self directly when it already has the result's
// shape and compute dtype, else compute out of place and copy back.
template <class OutOfPlace>
Tensor& inplace(const char* op, Tensor& self, const Shape& result_shape, DType result,
                const OutOfPlace& compute_out_of_place) {
  TS_CHECK(result_shape == self.shape(), op, ": the result has shape ", result_shape,
           ", which would need broadcasting the destination of shape ", self.shape());
  TS_CHECK(is_floating(self.dtype()) || !is_floating(result), op, ": the result dtype ",
           dtype_name(result), " cannot be cast to the destination dtype ",
           dtype_name(self.dtype()));
  TS_CHECK(self.dtype() != DType::Bool || result == DType::Bool, op, ": the result dtype ",
           dtype_name(result), " cannot be cast to the destination dtype bool");
  Tensor out = compute_out_of_place();
  return copy_(self, out);
}

Tensor& binary_inplace(const char* op, Tensor& self, const Tensor& other, const BinaryOp& f) {
  check_operands(op, self, other);
  const DType promoted = promote_types(self.dtype(), other.dtype());
  const DType result = result_dtype(promoted, f.kind);
  const Shape shape = detail::broadcast_shapes(self.shape(), other.shape(), op);
  const DType compute = kernel_dtype(promoted, f.kind);
  if (shape == self.shape() && self.dtype() == compute) {
    run_binary(op, self, self, other, compute, f);  // same-geometry aliasing is safe
    self.bump_version();
    return self;
  }
  return inplace(op, self, shape, result, [&] { return binary(op, self, other, f); });
}

Tensor& binary_scalar_inplace(const char* op, Tensor& self, const Scalar& s, const BinaryOp& f) {
  const DType result = result_dtype(promote_with_scalar(self.dtype(), s), f.kind);
  return inplace(op, self, self.shape(), result,
                 [&] { return binary_scalar(op, self, s, false, f); });
}

}  // namespace

// ---- arithmetic ---------------------------------------------------------------------

namespace {
const BinaryOp kMul{ElementwiseOp::Mul};
const BinaryOp kDiv{ElementwiseOp::Div, ResultKind::Float};
const BinaryOp kPow{ElementwiseOp::Pow};
BinaryOp add_op(const Scalar& alpha) { return {ElementwiseOp::Add, ResultKind::Same, alpha}; }
BinaryOp sub_op(const Scalar& alpha) { return {ElementwiseOp::Sub, ResultKind::Same, alpha}; }
}  // namespace

Tensor add(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  check_operands("add", a, b);
  check_alpha("add", promote_types(a.dtype(), b.dtype()), alpha);
  return binary("add", a, b, add_op(alpha));
}
Tensor add(const Tensor& a, const Scalar& b) {
  return binary_scalar("add", a, b, false, add_op(1));
}
Tensor sub(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  check_operands("sub", a, b);
  check_not_bool_sub("sub", a.dtype(), b.dtype());
  check_alpha("sub", promote_types(a.dtype(), b.dtype()), alpha);
  return binary("sub", a, b, sub_op(alpha));
}
Tensor sub(const Tensor& a, const Scalar& b) {
  detail::check_defined(a, "sub");
  check_not_bool_sub("sub", a.dtype(), promote_with_scalar(a.dtype(), b));
  return binary_scalar("sub", a, b, false, sub_op(1));
}
Tensor rsub(const Tensor& a, const Scalar& b) {
  detail::check_defined(a, "rsub");
  check_not_bool_sub("rsub", a.dtype(), promote_with_scalar(a.dtype(), b));
  return binary_scalar("rsub", a, b, true, sub_op(1));
}
Tensor mul(const Tensor& a, const Tensor& b) { return binary("mul", a, b, kMul); }
Tensor mul(const Tensor& a, const Scalar& b) { return binary_scalar("mul", a, b, false, kMul); }
Tensor div(const Tensor& a, const Tensor& b) { return binary("div", a, b, kDiv); }
Tensor div(const Tensor& a, const Scalar& b) { return binary_scalar("div", a, b, false, kDiv); }
Tensor rdiv(const Tensor& a, const Scalar& b) { return binary_scalar("rdiv", a, b, true, kDiv); }
Tensor pow(const Tensor& base, const Tensor& exponent) {
  return binary("pow", base, exponent, kPow);
}
Tensor pow(const Tensor& base, const Scalar& exponent) {
  return binary_scalar("pow", base, exponent, false, kPow);
}
Tensor pow(const Scalar& base, const Tensor& exponent) {
  return binary_scalar("pow", exponent, base, true, kPow);
}
Tensor float_binary(const char* op, ElementwiseOp kernel, const Tensor& a, const Tensor& b) {
  return binary(op, a, b, {kernel, ResultKind::Float});
}
Tensor maximum(const Tensor& a, const Tensor& b) {
  return binary("maximum", a, b, {ElementwiseOp::Maximum});
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  return binary("minimum", a, b, {ElementwiseOp::Minimum});
}

// ---- comparisons and logic -------------------------------------------------------------

#define TS_DEFINE_COMPARISON(name, Op)                                               \
  Tensor name(const Tensor& a, const Tensor& b) {                                    \
    return binary(#name, a, b, {ElementwiseOp::Op, ResultKind::Bool});               \
  }                                                                                  \
  Tensor name(const Tensor& a, const Scalar& b) {                                    \
    return binary_scalar(#name, a, b, false, {ElementwiseOp::Op, ResultKind::Bool}); \
  }
TS_DEFINE_COMPARISON(eq, Eq)
TS_DEFINE_COMPARISON(ne, Ne)
TS_DEFINE_COMPARISON(lt, Lt)
TS_DEFINE_COMPARISON(le, Le)
TS_DEFINE_COMPARISON(gt, Gt)
TS_DEFINE_COMPARISON(ge, Ge)
#undef TS_DEFINE_COMPARISON

Tensor logical_and(const Tensor& a, const Tensor& b) {
  return binary("logical_and", a, b, {ElementwiseOp::LogicalAnd, ResultKind::Bool});
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  return binary("logical_or", a, b, {ElementwiseOp::LogicalOr, ResultKind::Bool});
}
Tensor logical_xor(const Tensor& a, const Tensor& b) {
  return binary("logical_xor", a, b, {ElementwiseOp::LogicalXor, ResultKind::Bool});
}

// ---- selection ----------------------------------------------------------------------------

Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
  detail::check_defined(a, "where");
  detail::check_defined(b, "where");
  const Device device = detail::common_device("where", {&condition, &a, &b});
  TS_CHECK(condition.dtype() == DType::Bool, "where: the condition must be a bool tensor, got ",
           detail::describe(condition));
  const DType result = promote_types(a.dtype(), b.dtype());
  const DType compute = detail::compute_dtype(result);
  const Shape shape = detail::broadcast_shapes(
      condition.shape(), detail::broadcast_shapes(a.shape(), b.shape(), "where"), "where");
  Tensor out = detail::make_tensor(shape, compute, device);
  const Tensor c = detail::expand_to(condition, shape, "where");
  const Tensor ca = detail::expand_to(to_dtype(a, compute), shape, "where");
  const Tensor cb = detail::expand_to(to_dtype(b, compute), shape, "where");
  detail::run_elementwise({.op = ElementwiseOp::Where, .dtype = compute}, out, {&c, &ca, &cb});
  return detail::finish_result(out, result);
}

Tensor where(const Tensor& condition, const Tensor& a, const Scalar& b) {
  detail::check_defined(a, "where");
  return where(
      condition, a,
      scalar_tensor(b, TensorOptions(promote_with_scalar(a.dtype(), b)).device(a.device())));
}

Tensor masked_fill(const Tensor& t, const Tensor& mask, const Scalar& value) {
  detail::check_defined(t, "masked_fill");  // before clone, whose Error would name clone
  Tensor out = clone(t);
  return masked_fill_(out, mask, value);
}

Tensor& masked_fill_(Tensor& self, const Tensor& mask, const Scalar& value) {
  check_operands("masked_fill", self, mask);
  TS_CHECK(mask.dtype() == DType::Bool, "masked_fill: the mask must be a bool tensor, got ",
           detail::describe(mask));
  const Shape shape = detail::broadcast_shapes(self.shape(), mask.shape(), "masked_fill");
  TS_CHECK(shape == self.shape(), "masked_fill: the mask of shape ", mask.shape(),
           " would need broadcasting the destination of shape ", self.shape());
  TS_CHECK(is_floating(self.dtype()) || !value.is_floating(), "masked_fill: value ", value,
           " is a float but the tensor has dtype ", dtype_name(self.dtype()));
  const DType compute = detail::compute_dtype(self.dtype());
  Tensor target = self.dtype() == compute ? self : to_dtype(self, compute);
  const Tensor m = detail::expand_to(mask, shape, "masked_fill");
  detail::run_elementwise({.op = ElementwiseOp::MaskedFill,
                           .dtype = compute,
                           .a = detail::kernel_scalar(value, compute, "masked_fill")},
                          target, {&target, &m});
  if (!target.is_same(self)) return copy_(self, target);
  self.bump_version();
  return self;
}

Tensor clamp(const Tensor& t, std::optional<Scalar> min, std::optional<Scalar> max) {
  detail::check_defined(t, "clamp");
  TS_CHECK(min || max, "clamp: at least one of min and max must be given");
  DType result = t.dtype();
  if (min) result = promote_with_scalar(result, *min);
  if (max) result = promote_with_scalar(result, *max);
  TS_CHECK(result != DType::Bool, "clamp: bool tensors are not supported");
  const DType compute = detail::compute_dtype(result);
  const Tensor in = to_dtype(t, compute);
  Tensor out = detail::make_tensor(t.shape(), compute, t.device());
  // A missing bound is the lowest or highest value of the compute dtype.
  ElementwiseCall call{.op = ElementwiseOp::Clamp, .dtype = compute};
  call.a = {-std::numeric_limits<double>::infinity(), std::numeric_limits<int64_t>::min()};
  call.b = {std::numeric_limits<double>::infinity(), std::numeric_limits<int64_t>::max()};
  if (min) call.a = detail::kernel_scalar(*min, compute, "clamp");
  if (max) call.b = detail::kernel_scalar(*max, compute, "clamp");
  detail::run_elementwise(call, out, {&in});
  return detail::finish_result(out, result);
}

Tensor& clamp_(Tensor& self, std::optional<Scalar> min, std::optional<Scalar> max) {
  detail::check_defined(self, "clamp_");
  DType result = self.dtype();
  if (min) result = promote_with_scalar(result, *min);
  if (max) result = promote_with_scalar(result, *max);
  return inplace("clamp_", self, self.shape(), result, [&] { return clamp(self, min, max); });
}

// ---- in place ---------------------------------------------------------------------------------

Tensor& add_(Tensor& self, const Tensor& other, const Scalar& alpha) {
  check_operands("add_", self, other);
  check_alpha("add_", promote_types(self.dtype(), other.dtype()), alpha);
  return binary_inplace("add_", self, other, add_op(alpha));
}
Tensor& add_(Tensor& self, const Scalar& other) {
  return binary_scalar_inplace("add_", self, other, add_op(1));
}
Tensor& sub_(Tensor& self, const Tensor& other, const Scalar& alpha) {
  check_operands("sub_", self, other);
  check_not_bool_sub("sub_", self.dtype(), other.dtype());
  check_alpha("sub_", promote_types(self.dtype(), other.dtype()), alpha);
  return binary_inplace("sub_", self, other, sub_op(alpha));
}
Tensor& sub_(Tensor& self, const Scalar& other) {
  return binary_scalar_inplace("sub_", self, other, sub_op(1));
}
Tensor& mul_(Tensor& self, const Tensor& other) {
  return binary_inplace("mul_", self, other, kMul);
}
Tensor& mul_(Tensor& self, const Scalar& other) {
  return binary_scalar_inplace("mul_", self, other, kMul);
}
Tensor& div_(Tensor& self, const Tensor& other) {
  return binary_inplace("div_", self, other, kDiv);
}
Tensor& div_(Tensor& self, const Scalar& other) {
  return binary_scalar_inplace("div_", self, other, kDiv);
}

}  // namespace toadstool::native
