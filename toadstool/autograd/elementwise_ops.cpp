// Element-wise ops with their derivatives. Gradients are returned in the
// broadcast shape of the output; the engine sums them back to each input.
#include <cmath>

#include "toadstool/autograd/autocast.h"
#include "toadstool/autograd/ops.h"
#include "toadstool/autograd/record.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool {

using autograd::Grads;
using autograd::needs_grad;
using autograd::Op;
using autograd::record;
using autograd::SavedTensor;
using autograd::Saves;

// ---- binary -------------------------------------------------------------------------

Tensor add(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  Tensor out = native::add(a, b, alpha);
  if (needs_grad(a, b)) {
    record(Op::add, out, {a, b}, [alpha](const Tensor& g) -> Grads {
      return {g, alpha.to_double() == 1 ? g : g * alpha};
    });
  }
  return out;
}

Tensor add(const Tensor& a, const Scalar& b) {
  Tensor out = native::add(a, b);
  if (needs_grad(a)) record(Op::add_scalar, out, {a}, [](const Tensor& g) -> Grads { return {g}; });
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  Tensor out = native::sub(a, b, alpha);
  if (needs_grad(a, b)) {
    record(Op::sub, out, {a, b}, [alpha](const Tensor& g) -> Grads {
      return {g, g * -alpha.to_double()};
    });
  }
  return out;
}

// a - b is a + (-b): the derivative of add_scalar.
Tensor sub(const Tensor& a, const Scalar& b) {
  Tensor out = native::sub(a, b);
  if (needs_grad(a)) record(Op::add_scalar, out, {a}, [](const Tensor& g) -> Grads { return {g}; });
  return out;
}

Tensor rsub(const Tensor& a, const Scalar& b) {
  Tensor out = native::rsub(a, b);
  if (needs_grad(a)) record(Op::rsub, out, {a}, [](const Tensor& g) -> Grads { return {-g}; });
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = native::mul(a, b);
  if (needs_grad(a, b)) {
    // Each input's gradient needs the other input; only needed ones are computed.
    const bool need_a = a.requires_grad(), need_b = b.requires_grad();
    record(Op::mul, out, {a, b},
           [a = SavedTensor(need_b ? a : Tensor()), b = SavedTensor(need_a ? b : Tensor()), need_a,
            need_b](const Tensor& g) -> Grads {
             return {need_a ? g * b.get() : Tensor(), need_b ? g * a.get() : Tensor()};
           });
  }
  return out;
}

Tensor mul(const Tensor& a, const Scalar& b) {
  Tensor out = native::mul(a, b);
  if (needs_grad(a))
    record(Op::mul_scalar, out, {a}, [b](const Tensor& g) -> Grads { return {g * b}; });
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = native::div(a, b);
  if (needs_grad(a, b)) {
    // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2.
    const bool need_b = b.requires_grad();
    record(Op::div, out, {a, b},
           [a = SavedTensor(need_b ? a : Tensor()), b = SavedTensor(b), need_a = a.requires_grad(),
            need_b](const Tensor& g) -> Grads {
             const Tensor& bv = b.get();
             return {need_a ? g / bv : Tensor(), need_b ? -g * a.get() / (bv * bv) : Tensor()};
           });
  }
  return out;
}

Tensor div(const Tensor& a, const Scalar& b) {
  Tensor out = native::div(a, b);
  if (needs_grad(a))
    record(Op::div_scalar, out, {a}, [b](const Tensor& g) -> Grads { return {g / b}; });
  return out;
}

Tensor rdiv(const Tensor& a, const Scalar& b) {
  Tensor out = native::rdiv(a, b);
  if (needs_grad(a)) {
    // d(b/a)/da = -b/a^2 = -out/a.
    record(Op::rdiv, out, {a},
           [a = SavedTensor(a), out = SavedTensor(out)](const Tensor& g) -> Grads {
             return {-g * out.get() / a.get()};
           });
  }
  return out;
}

namespace {

// d(base^exponent)/d(exponent) = out * log(base), taken as 0 where base == 0
// and exponent >= 0 (the limit, as PyTorch), instead of 0 * -inf = NaN.
Tensor pow_exponent_grad(const Tensor& g, const Tensor& base, const Tensor& out,
                         const Tensor& exponent) {
  return masked_fill(g * out * log(base), logical_and(base == 0, exponent >= 0), 0);
}

}  // namespace

Tensor pow(const Tensor& base, const Tensor& exponent) {
  if (autocast::casts(autocast::Op::pow, base, exponent))
    return pow(autocast::input(autocast::Op::pow, base),
               autocast::input(autocast::Op::pow, exponent));
  Tensor out = native::pow(base, exponent);
  if (needs_grad(base, exponent)) {
    record(Op::pow, out, {base, exponent},
           [base = SavedTensor(base), exponent = SavedTensor(exponent),
            out = SavedTensor(out)](const Tensor& g) -> Grads {
             const Tensor& x = base.get();
             const Tensor& e = exponent.get();
             return {g * e * pow(x, e - 1), pow_exponent_grad(g, x, out.get(), e)};
           });
  }
  return out;
}

Tensor pow(const Tensor& base, const Scalar& exponent) {
  if (autocast::casts(autocast::Op::pow, base))
    return pow(autocast::input(autocast::Op::pow, base), exponent);
  Tensor out = native::pow(base, exponent);
  if (needs_grad(base)) {
    record(Op::pow_scalar, out, {base},
           [base = SavedTensor(base), exponent](const Tensor& g) -> Grads {
             const double e = exponent.to_double();
             if (e == 0) return {zeros_like(g)};
             return {g * e * pow(base.get(), e - 1)};
           });
  }
  return out;
}

Tensor pow(const Scalar& base, const Tensor& exponent) {
  if (autocast::casts(autocast::Op::pow, exponent))
    return pow(base, autocast::input(autocast::Op::pow, exponent));
  Tensor out = native::pow(base, exponent);
  if (needs_grad(exponent)) {
    record(
        Op::rpow, out, {exponent},
        [base, exponent = SavedTensor(exponent), out = SavedTensor(out)](const Tensor& g) -> Grads {
          const Tensor& e = exponent.get();
          return {pow_exponent_grad(g, full_like(e, base), out.get(), e)};
        });
  }
  return out;
}

namespace {

// maximum / minimum: the gradient goes to the chosen input, split in half on
// ties (as PyTorch). `a_wins` is where a was chosen outright.
Grads extremum_grads(const Tensor& g, const Tensor& a, const Tensor& b, const Tensor& a_wins,
                     const Tensor& b_wins) {
  const Tensor shared = where(a == b, g / 2, g);
  return {masked_fill(shared, b_wins, 0), masked_fill(shared, a_wins, 0)};
}

}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) {
  Tensor out = native::maximum(a, b);
  if (needs_grad(a, b)) {
    record(Op::maximum, out, {a, b},
           [a = SavedTensor(a), b = SavedTensor(b)](const Tensor& g) -> Grads {
             return extremum_grads(g, a.get(), b.get(), a.get() > b.get(), a.get() < b.get());
           });
  }
  return out;
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  Tensor out = native::minimum(a, b);
  if (needs_grad(a, b)) {
    record(Op::minimum, out, {a, b},
           [a = SavedTensor(a), b = SavedTensor(b)](const Tensor& g) -> Grads {
             return extremum_grads(g, a.get(), b.get(), a.get() < b.get(), a.get() > b.get());
           });
  }
  return out;
}

Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
  Tensor out = native::where(condition, a, b);
  if (needs_grad(a, b)) {
    record(Op::where, out, {a, b}, [c = SavedTensor(condition)](const Tensor& g) -> Grads {
      return {masked_fill(g, logical_not(c.get()), 0), masked_fill(g, c.get(), 0)};
    });
  }
  return out;
}

Tensor where(const Tensor& condition, const Tensor& a, const Scalar& b) {
  Tensor out = native::where(condition, a, b);
  if (needs_grad(a)) {
    record(Op::where, out, {a}, [c = SavedTensor(condition)](const Tensor& g) -> Grads {
      return {masked_fill(g, logical_not(c.get()), 0)};
    });
  }
  return out;
}

Tensor masked_fill(const Tensor& t, const Tensor& mask, const Scalar& value) {
  Tensor out = native::masked_fill(t, mask, value);
  if (needs_grad(t)) {
    record(Op::masked_fill, out, {t}, [mask = SavedTensor(mask)](const Tensor& g) -> Grads {
      return {masked_fill(g, mask.get(), 0)};
    });
  }
  return out;
}

Tensor clamp(const Tensor& t, std::optional<Scalar> min, std::optional<Scalar> max) {
  Tensor out = native::clamp(t, min, max);
  if (needs_grad(t)) {
    // The gradient passes where min <= t <= max (bounds included, as PyTorch).
    record(Op::clamp, out, {t}, [t = SavedTensor(t), min, max](const Tensor& g) -> Grads {
      Tensor grad = g;
      if (min) grad = masked_fill(grad, t.get() < *min, 0);
      if (max) grad = masked_fill(grad, t.get() > *max, 0);
      return {grad};
    });
  }
  return out;
}

Tensor atan2(const Tensor& a, const Tensor& b) {
  Tensor out = native::float_binary("atan2", kernels::ElementwiseOp::Atan2, a, b);
  if (needs_grad(a, b)) {
    // d/da atan2(a, b) = b / (a^2 + b^2), d/db = -a / (a^2 + b^2).
    record(Op::atan2, out, {a, b},
           [a = SavedTensor(a), b = SavedTensor(b), need_a = a.requires_grad(),
            need_b = b.requires_grad()](const Tensor& g) -> Grads {
             const Tensor& av = a.get();
             const Tensor& bv = b.get();
             const Tensor scale = g / (av * av + bv * bv);
             return {need_a ? scale * bv : Tensor(), need_b ? -scale * av : Tensor()};
           });
  }
  return out;
}

// ---- unary --------------------------------------------------------------------------

namespace {

// A unary op: grad_x = derivative(g, x, y), where x (the input) and y (the
// output) are saved only as `saves` says (the other is undefined).
template <class Derivative>
Tensor unary(Op op, Tensor out, const Tensor& x, Saves saves, Derivative derivative) {
  if (needs_grad(x)) {
    record(op, out, {x},
           [x = SavedTensor(saves_input(saves) ? x : Tensor()),
            y = SavedTensor(saves_output(saves) ? out : Tensor()),
            derivative](const Tensor& g) -> Grads { return {derivative(g, x.get(), y.get())}; });
  }
  return out;
}

}  // namespace

Tensor neg(const Tensor& t) {
  return unary(Op::neg, native::neg(t), t, Saves::nothing,
               [](const Tensor& g, const Tensor&, const Tensor&) { return -g; });
}
Tensor abs(const Tensor& t) {
  // sign(x) * g, with 0 at x == 0 (as PyTorch).
  return unary(Op::abs, native::abs(t), t, Saves::input,
               [](const Tensor& g, const Tensor& x, const Tensor&) {
                 return masked_fill(where(x < 0, -g, g), x == 0, 0);
               });
}
Tensor exp(const Tensor& t) {
  if (autocast::casts(autocast::Op::exp, t)) return exp(autocast::input(autocast::Op::exp, t));
  return unary(Op::exp, native::exp(t), t, Saves::output,
               [](const Tensor& g, const Tensor&, const Tensor& y) { return g * y; });
}
Tensor log(const Tensor& t) {
  if (autocast::casts(autocast::Op::log, t)) return log(autocast::input(autocast::Op::log, t));
  return unary(Op::log, native::log(t), t, Saves::input,
               [](const Tensor& g, const Tensor& x, const Tensor&) { return g / x; });
}
Tensor log1p(const Tensor& t) {
  if (autocast::casts(autocast::Op::log1p, t))
    return log1p(autocast::input(autocast::Op::log1p, t));
  return unary(Op::log1p, native::log1p(t), t, Saves::input,
               [](const Tensor& g, const Tensor& x, const Tensor&) { return g / (x + 1); });
}
Tensor sqrt(const Tensor& t) {
  return unary(Op::sqrt, native::sqrt(t), t, Saves::output,
               [](const Tensor& g, const Tensor&, const Tensor& y) { return g / (2 * y); });
}
Tensor rsqrt(const Tensor& t) {
  if (autocast::casts(autocast::Op::rsqrt, t))
    return rsqrt(autocast::input(autocast::Op::rsqrt, t));
  // d(x^-1/2)/dx = -1/2 x^-3/2 = -1/2 y^3.
  return unary(
      Op::rsqrt, native::rsqrt(t), t, Saves::output,
      [](const Tensor& g, const Tensor&, const Tensor& y) { return g * y * y * y * -0.5; });
}
Tensor tanh(const Tensor& t) {
  return unary(Op::tanh, native::tanh(t), t, Saves::output,
               [](const Tensor& g, const Tensor&, const Tensor& y) { return g * (1 - y * y); });
}
Tensor sigmoid(const Tensor& t) {
  return unary(Op::sigmoid, native::sigmoid(t), t, Saves::output,
               [](const Tensor& g, const Tensor&, const Tensor& y) { return g * y * (1 - y); });
}
Tensor relu(const Tensor& t) {
  return unary(
      Op::relu, native::relu(t), t, Saves::output,
      [](const Tensor& g, const Tensor&, const Tensor& y) { return native::relu_backward(g, y); });
}
Tensor sin(const Tensor& t) {
  return unary(Op::sin, native::sin(t), t, Saves::input,
               [](const Tensor& g, const Tensor& x, const Tensor&) { return g * cos(x); });
}
Tensor cos(const Tensor& t) {
  return unary(Op::cos, native::cos(t), t, Saves::input,
               [](const Tensor& g, const Tensor& x, const Tensor&) { return -g * sin(x); });
}
Tensor gelu(const Tensor& t, const std::string& approximate) {
  return unary(Op::gelu, native::gelu(t, approximate), t, Saves::input,
               [approximate](const Tensor& g, const Tensor& x, const Tensor&) {
                 return gelu_backward(g, x, approximate);
               });
}

Tensor softplus(const Tensor& t, double beta, double threshold) {
  if (autocast::casts(autocast::Op::softplus, t))
    return softplus(autocast::input(autocast::Op::softplus, t), beta, threshold);
  TS_CHECK(beta != 0 && std::isfinite(beta), "softplus: beta must be finite and non-zero, got ",
           beta);
  // d/dx = sigmoid(beta x), and 1 in the linear regime beta x > threshold.
  return unary(
      Op::softplus,
      native::float_unary("softplus", kernels::ElementwiseOp::Softplus, t, beta, threshold), t,
      Saves::input, [beta, threshold](const Tensor& g, const Tensor& x, const Tensor&) {
        const Tensor bx = x * beta;
        return g * masked_fill(sigmoid(bx), bx > threshold, 1);
      });
}

// ---- in place: not recorded ----------------------------------------------------------

namespace {

// In-place ops write into memory the tape may have saved and would need a
// history rewrite to be differentiable; we refuse them while recording.
void check_not_recorded(const char* op, const Tensor& self, const Tensor& other = {}) {
  if (!autograd::is_grad_enabled()) return;
  for (const Tensor* t : {&self, &other}) {
    TS_CHECK(!t->defined() || !t->requires_grad(), op, ": in-place ops are not recorded by ",
             "autograd, and an operand (", detail::describe(*t), ") requires grad; use the ",
             "out-of-place op, or run it inside a NoGradGuard");
  }
}

}  // namespace

Tensor& add_(Tensor& self, const Tensor& other, const Scalar& alpha) {
  check_not_recorded("add_", self, other);
  return native::add_(self, other, alpha);
}
Tensor& add_(Tensor& self, const Scalar& other) {
  check_not_recorded("add_", self);
  return native::add_(self, other);
}
Tensor& sub_(Tensor& self, const Tensor& other, const Scalar& alpha) {
  check_not_recorded("sub_", self, other);
  return native::sub_(self, other, alpha);
}
Tensor& sub_(Tensor& self, const Scalar& other) {
  check_not_recorded("sub_", self);
  return native::sub_(self, other);
}
Tensor& mul_(Tensor& self, const Tensor& other) {
  check_not_recorded("mul_", self, other);
  return native::mul_(self, other);
}
Tensor& mul_(Tensor& self, const Scalar& other) {
  check_not_recorded("mul_", self);
  return native::mul_(self, other);
}
Tensor& div_(Tensor& self, const Tensor& other) {
  check_not_recorded("div_", self, other);
  return native::div_(self, other);
}
Tensor& div_(Tensor& self, const Scalar& other) {
  check_not_recorded("div_", self);
  return native::div_(self, other);
}
Tensor& clamp_(Tensor& self, std::optional<Scalar> min, std::optional<Scalar> max) {
  check_not_recorded("clamp_", self);
  return native::clamp_(self, min, max);
}
Tensor& masked_fill_(Tensor& self, const Tensor& mask, const Scalar& value) {
  check_not_recorded("masked_fill_", self);
  return native::masked_fill_(self, mask, value);
}
Tensor& fill_(Tensor& self, const Scalar& value) {
  check_not_recorded("fill_", self);
  return native::fill_(self, value);
}
Tensor& zero_(Tensor& self) {
  check_not_recorded("zero_", self);
  return native::zero_(self);
}
Tensor& copy_(Tensor& self, const Tensor& src) {
  check_not_recorded("copy_", self, src);
  return native::copy_(self, src);
}

}  // namespace toadstool
