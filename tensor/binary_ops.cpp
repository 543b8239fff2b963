// Binary element-wise ops: arithmetic, comparisons, logic, where, clamp, and
// their scalar and in-place forms.
#include "kernels/math.h"
#include "tensor/elementwise.h"
#include "tensor/factory.h"
#include "tensor/native_ops.h"

namespace toadstool::native {

namespace {

using kernels::BindFirst;
using kernels::BindSecond;

// How an op's result dtype follows from the promoted operand dtype.
enum class ResultKind {
  Same,        // add, mul, maximum...: the promoted dtype
  TrueDivide,  // div: integers and bool give float32
  Bool,        // comparisons and logic: bool
};

DType result_dtype(DType promoted, ResultKind kind) {
  switch (kind) {
    case ResultKind::Same: return promoted;
    case ResultKind::TrueDivide: return is_floating(promoted) ? promoted : DType::Float32;
    case ResultKind::Bool: break;
  }
  return DType::Bool;
}

// The dtype the kernel computes in: comparisons compare in the promoted
// dtype, the others compute in their result dtype.
DType kernel_dtype(DType promoted, ResultKind kind) {
  return detail::compute_dtype(kind == ResultKind::Bool ? promoted : result_dtype(promoted, kind));
}

// Writes f(a, b) into `out` (already allocated with the broadcast shape and
// either bool or compute dtype); a and b are converted to the compute dtype.
template <class MakeF>
void run_binary(const char* op, const Tensor& out, const Tensor& a, const Tensor& b, DType compute,
                ResultKind kind, const MakeF& make) {
  const Tensor ca = detail::expand_to(to_dtype(a, compute), out.shape(), op);
  const Tensor cb = detail::expand_to(to_dtype(b, compute), out.shape(), op);
  dispatch_compute(compute, op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (kind == ResultKind::Bool) {
      detail::run_elementwise<bool, T, T>(make(tag), out, ca, cb);
    } else {
      detail::run_elementwise<T, T, T>(make(tag), out, ca, cb);
    }
  });
}

void check_operands(const char* op, const Tensor& a, const Tensor& b) {
  detail::check_cpu(a, op);
  detail::check_cpu(b, op);
}

template <class MakeF>
Tensor binary(const char* op, const Tensor& a, const Tensor& b, ResultKind kind,
              const MakeF& make) {
  check_operands(op, a, b);
  const DType promoted = promote_types(a.dtype(), b.dtype());
  const DType result = result_dtype(promoted, kind);
  const DType compute = kernel_dtype(promoted, kind);
  const Shape shape = detail::broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = detail::make_tensor(shape, detail::compute_dtype(result));
  run_binary(op, out, a, b, compute, kind, make);
  return detail::finish_result(out, result);
}

// t (op) s, or s (op) t when scalar_first; runs as a unary loop.
template <class MakeF>
Tensor binary_scalar(const char* op, const Tensor& t, const Scalar& s, ResultKind kind,
                     bool scalar_first, const MakeF& make) {
  detail::check_cpu(t, op);
  const DType promoted = promote_with_scalar(t.dtype(), s);
  const DType result = result_dtype(promoted, kind);
  const DType compute = kernel_dtype(promoted, kind);
  const Tensor in = to_dtype(t, compute);
  Tensor out = detail::make_tensor(t.shape(), detail::compute_dtype(result));
  dispatch_compute(compute, op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using F = decltype(make(tag));
    const T value = s.to<T>(op);
    auto run = [&](const auto& f) {
      if (kind == ResultKind::Bool) {
        detail::run_elementwise<bool, T>(f, out, in);
      } else {
        detail::run_elementwise<T, T>(f, out, in);
      }
    };
    if (scalar_first) {
      run(BindFirst<F, T>{make(tag), value});
    } else {
      run(BindSecond<F, T>{make(tag), value});
    }
  });
  return detail::finish_result(out, result);
}

// Functor factories: given a TypeTag<T>, the kernels::*Op to run.
auto make_add(const char* op, const Scalar& alpha) {
  return [op, alpha](auto tag) {
    using T = typename decltype(tag)::type;
    return kernels::AddOp<T>{alpha.to<T>(op)};
  };
}
auto make_sub(const char* op, const Scalar& alpha) {
  return [op, alpha](auto tag) {
    using T = typename decltype(tag)::type;
    return kernels::SubOp<T>{alpha.to<T>(op)};
  };
}
template <class Op>
auto make_plain() {
  return [](auto) { return Op{}; };
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

template <class MakeF>
Tensor& binary_inplace(const char* op, Tensor& self, const Tensor& other, ResultKind kind,
                       const MakeF& make) {
  check_operands(op, self, other);
  const DType promoted = promote_types(self.dtype(), other.dtype());
  const DType result = result_dtype(promoted, kind);
  const Shape shape = detail::broadcast_shapes(self.shape(), other.shape(), op);
  const DType compute = kernel_dtype(promoted, kind);
  if (shape == self.shape() && self.dtype() == compute) {
    run_binary(op, self, self, other, compute, kind, make);  // same-geometry aliasing is safe
    self.bump_version();
    return self;
  }
  return inplace(op, self, shape, result, [&] { return binary(op, self, other, kind, make); });
}

template <class MakeF>
Tensor& binary_scalar_inplace(const char* op, Tensor& self, const Scalar& s, ResultKind kind,
                              const MakeF& make) {
  const DType result = result_dtype(promote_with_scalar(self.dtype(), s), kind);
  return inplace(op, self, self.shape(), result,
                 [&] { return binary_scalar(op, self, s, kind, false, make); });
}

}  // namespace

// ---- arithmetic ---------------------------------------------------------------------

Tensor add(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  check_operands("add", a, b);
  check_alpha("add", promote_types(a.dtype(), b.dtype()), alpha);
  return binary("add", a, b, ResultKind::Same, make_add("add", alpha));
}
Tensor add(const Tensor& a, const Scalar& b) {
  return binary_scalar("add", a, b, ResultKind::Same, false, make_add("add", 1));
}
Tensor sub(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  check_operands("sub", a, b);
  check_not_bool_sub("sub", a.dtype(), b.dtype());
  check_alpha("sub", promote_types(a.dtype(), b.dtype()), alpha);
  return binary("sub", a, b, ResultKind::Same, make_sub("sub", alpha));
}
Tensor sub(const Tensor& a, const Scalar& b) {
  detail::check_defined(a, "sub");
  check_not_bool_sub("sub", a.dtype(), promote_with_scalar(a.dtype(), b));
  return binary_scalar("sub", a, b, ResultKind::Same, false, make_sub("sub", 1));
}
Tensor rsub(const Tensor& a, const Scalar& b) {
  detail::check_defined(a, "rsub");
  check_not_bool_sub("rsub", a.dtype(), promote_with_scalar(a.dtype(), b));
  return binary_scalar("rsub", a, b, ResultKind::Same, true, make_sub("rsub", 1));
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return binary("mul", a, b, ResultKind::Same, make_plain<kernels::MulOp>());
}
Tensor mul(const Tensor& a, const Scalar& b) {
  return binary_scalar("mul", a, b, ResultKind::Same, false, make_plain<kernels::MulOp>());
}
Tensor div(const Tensor& a, const Tensor& b) {
  return binary("div", a, b, ResultKind::TrueDivide, make_plain<kernels::DivOp>());
}
Tensor div(const Tensor& a, const Scalar& b) {
  return binary_scalar("div", a, b, ResultKind::TrueDivide, false, make_plain<kernels::DivOp>());
}
Tensor rdiv(const Tensor& a, const Scalar& b) {
  return binary_scalar("rdiv", a, b, ResultKind::TrueDivide, true, make_plain<kernels::DivOp>());
}
Tensor pow(const Tensor& base, const Tensor& exponent) {
  return binary("pow", base, exponent, ResultKind::Same, make_plain<kernels::PowOp>());
}
Tensor pow(const Tensor& base, const Scalar& exponent) {
  return binary_scalar("pow", base, exponent, ResultKind::Same, false,
                       make_plain<kernels::PowOp>());
}
Tensor pow(const Scalar& base, const Tensor& exponent) {
  return binary_scalar("pow", exponent, base, ResultKind::Same, true, make_plain<kernels::PowOp>());
}
Tensor maximum(const Tensor& a, const Tensor& b) {
  return binary("maximum", a, b, ResultKind::Same, make_plain<kernels::MaximumOp>());
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  return binary("minimum", a, b, ResultKind::Same, make_plain<kernels::MinimumOp>());
}

// ---- comparisons and logic -------------------------------------------------------------

#define TS_DEFINE_COMPARISON(name, Op)                                                     \
  Tensor name(const Tensor& a, const Tensor& b) {                                          \
    return binary(#name, a, b, ResultKind::Bool, make_plain<kernels::Op>());               \
  }                                                                                        \
  Tensor name(const Tensor& a, const Scalar& b) {                                          \
    return binary_scalar(#name, a, b, ResultKind::Bool, false, make_plain<kernels::Op>()); \
  }
TS_DEFINE_COMPARISON(eq, EqOp)
TS_DEFINE_COMPARISON(ne, NeOp)
TS_DEFINE_COMPARISON(lt, LtOp)
TS_DEFINE_COMPARISON(le, LeOp)
TS_DEFINE_COMPARISON(gt, GtOp)
TS_DEFINE_COMPARISON(ge, GeOp)
#undef TS_DEFINE_COMPARISON

Tensor logical_and(const Tensor& a, const Tensor& b) {
  return binary("logical_and", a, b, ResultKind::Bool, make_plain<kernels::LogicalAndOp>());
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  return binary("logical_or", a, b, ResultKind::Bool, make_plain<kernels::LogicalOrOp>());
}
Tensor logical_xor(const Tensor& a, const Tensor& b) {
  return binary("logical_xor", a, b, ResultKind::Bool, make_plain<kernels::LogicalXorOp>());
}

// ---- selection ----------------------------------------------------------------------------

Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
  detail::check_cpu(condition, "where");
  check_operands("where", a, b);
  TS_CHECK(condition.dtype() == DType::Bool, "where: the condition must be a bool tensor, got ",
           detail::describe(condition));
  const DType result = promote_types(a.dtype(), b.dtype());
  const DType compute = detail::compute_dtype(result);
  const Shape shape = detail::broadcast_shapes(
      condition.shape(), detail::broadcast_shapes(a.shape(), b.shape(), "where"), "where");
  Tensor out = detail::make_tensor(shape, compute);
  const Tensor c = detail::expand_to(condition, shape, "where");
  const Tensor ca = detail::expand_to(to_dtype(a, compute), shape, "where");
  const Tensor cb = detail::expand_to(to_dtype(b, compute), shape, "where");
  dispatch_compute(compute, "where", [&](auto tag) {
    using T = typename decltype(tag)::type;
    detail::run_elementwise<T, bool, T, T>(kernels::WhereOp{}, out, c, ca, cb);
  });
  return detail::finish_result(out, result);
}

Tensor where(const Tensor& condition, const Tensor& a, const Scalar& b) {
  detail::check_defined(a, "where");
  return where(condition, a, scalar_tensor(b, promote_with_scalar(a.dtype(), b)));
}

Tensor masked_fill(const Tensor& t, const Tensor& mask, const Scalar& value) {
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
  dispatch_compute(compute, "masked_fill", [&](auto tag) {
    using T = typename decltype(tag)::type;
    detail::run_elementwise<T, T, bool>(kernels::MaskedFillOp<T>{value.to<T>("masked_fill")},
                                        target, target, m);
  });
  if (!target.is_same(self)) return copy_(self, target);
  self.bump_version();
  return self;
}

Tensor clamp(const Tensor& t, std::optional<Scalar> min, std::optional<Scalar> max) {
  detail::check_cpu(t, "clamp");
  TS_CHECK(min || max, "clamp: at least one of min and max must be given");
  DType result = t.dtype();
  if (min) result = promote_with_scalar(result, *min);
  if (max) result = promote_with_scalar(result, *max);
  TS_CHECK(result != DType::Bool, "clamp: bool tensors are not supported");
  const DType compute = detail::compute_dtype(result);
  const Tensor in = to_dtype(t, compute);
  Tensor out = detail::make_tensor(t.shape(), compute);
  dispatch_compute(compute, "clamp", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const kernels::ClampOp<T> op{min ? min->to<T>("clamp") : T(0), max ? max->to<T>("clamp") : T(0),
                                 min.has_value(), max.has_value()};
    detail::run_elementwise<T, T>(op, out, in);
  });
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
  return binary_inplace("add_", self, other, ResultKind::Same, make_add("add_", alpha));
}
Tensor& add_(Tensor& self, const Scalar& other) {
  return binary_scalar_inplace("add_", self, other, ResultKind::Same, make_add("add_", 1));
}
Tensor& sub_(Tensor& self, const Tensor& other, const Scalar& alpha) {
  check_operands("sub_", self, other);
  check_not_bool_sub("sub_", self.dtype(), other.dtype());
  check_alpha("sub_", promote_types(self.dtype(), other.dtype()), alpha);
  return binary_inplace("sub_", self, other, ResultKind::Same, make_sub("sub_", alpha));
}
Tensor& sub_(Tensor& self, const Scalar& other) {
  return binary_scalar_inplace("sub_", self, other, ResultKind::Same, make_sub("sub_", 1));
}
Tensor& mul_(Tensor& self, const Tensor& other) {
  return binary_inplace("mul_", self, other, ResultKind::Same, make_plain<kernels::MulOp>());
}
Tensor& mul_(Tensor& self, const Scalar& other) {
  return binary_scalar_inplace("mul_", self, other, ResultKind::Same, make_plain<kernels::MulOp>());
}
Tensor& div_(Tensor& self, const Tensor& other) {
  return binary_inplace("div_", self, other, ResultKind::TrueDivide, make_plain<kernels::DivOp>());
}
Tensor& div_(Tensor& self, const Scalar& other) {
  return binary_scalar_inplace("div_", self, other, ResultKind::TrueDivide,
                               make_plain<kernels::DivOp>());
}

}  // namespace toadstool::native
