#pragma once
// Per-element math, written once for both backends. Each functor is a small
// class template over its compute type T with a TS_HOST_DEVICE call
// operator; the backends instantiate the ones listed in
// kernels/elementwise_list.h (kernels/elementwise_dispatch.h), so
// the CPU tests cover the math the GPU runs.
//
// One idiom for parameters: a parameterised functor (add's alpha, clamp's
// bounds, softplus's beta and threshold) holds `OpScalars<T> p` and reads
// p.a and p.b; the front-end passes the values, already checked, in the
// kernel call (kernels/kernel_args.h).
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "toadstool/kernels/fast_math.h"
#include "toadstool/kernels/half.h"
#include "toadstool/kernels/host_device.h"

namespace toadstool::kernels {

// The scalar parameters of a functor, in its compute type.
template <class T>
struct OpScalars {
  T a{};
  T b{};
};

// ---- binary arithmetic ------------------------------------------------------

template <class T>
struct AddOp {  // a + alpha * b, alpha = p.a; for bool: a or (alpha and b)
  OpScalars<T> p;
  TS_HOST_DEVICE T operator()(T a, T b) const {
    if constexpr (std::is_same_v<T, bool>)
      return a || (p.a && b);
    else
      return a + p.a * b;
  }
};
template <class T>
struct SubOp {  // a - alpha * b, alpha = p.a
  OpScalars<T> p;
  TS_HOST_DEVICE T operator()(T a, T b) const { return a - p.a * b; }
};
template <class T>
struct MulOp {
  TS_HOST_DEVICE T operator()(T a, T b) const {
    if constexpr (std::is_same_v<T, bool>)
      return a && b;
    else
      return a * b;
  }
};
// Only floats divide: div is true division, so integers reach it as float32.
template <class T>
struct DivOp {
  TS_HOST_DEVICE T operator()(T a, T b) const { return a / b; }
};

template <class T>
struct PowOp {
  TS_HOST_DEVICE T operator()(T base, T exponent) const {
    if constexpr (std::is_same_v<T, bool>) {
      return base || !exponent;  // x^0 = 1, x^1 = x
    } else if constexpr (std::is_integral_v<T>) {
      // Negative integer powers truncate toward zero: only +-1 survive.
      if (exponent < 0)
        return base == 1 ? T(1) : (base == -1 ? (exponent % 2 ? T(-1) : T(1)) : T(0));
      T result = 1;
      for (T e = exponent; e > 0; e >>= 1, base *= base) {
        if (e & 1) result *= base;
      }
      return result;
    } else {
      return std::pow(base, exponent);
    }
  }
};

// The angle of the point (b, a): atan2(a, b), in [-pi, pi].
template <class T>
struct Atan2Op {
  TS_HOST_DEVICE T operator()(T a, T b) const { return std::atan2(a, b); }
};

// NaN propagates through maximum/minimum, as in PyTorch.
template <class T>
struct MaximumOp {
  TS_HOST_DEVICE T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      if (a != a) return a;
      if (b != b) return b;
    }
    return a > b ? a : b;
  }
};
template <class T>
struct MinimumOp {
  TS_HOST_DEVICE T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      if (a != a) return a;
      if (b != b) return b;
    }
    return a < b ? a : b;
  }
};

// ---- comparisons and logic (results are bool) --------------------------------

template <class T>
struct EqOp {
  TS_HOST_DEVICE bool operator()(T a, T b) const { return a == b; }
};
template <class T>
struct NeOp {
  TS_HOST_DEVICE bool operator()(T a, T b) const { return a != b; }
};
template <class T>
struct LtOp {
  TS_HOST_DEVICE bool operator()(T a, T b) const { return a < b; }
};
template <class T>
struct LeOp {
  TS_HOST_DEVICE bool operator()(T a, T b) const { return a <= b; }
};
template <class T>
struct GtOp {
  TS_HOST_DEVICE bool operator()(T a, T b) const { return a > b; }
};
template <class T>
struct GeOp {
  TS_HOST_DEVICE bool operator()(T a, T b) const { return a >= b; }
};
template <class T>
struct LogicalAndOp {
  TS_HOST_DEVICE bool operator()(T a, T b) const { return (a != T(0)) && (b != T(0)); }
};
template <class T>
struct LogicalOrOp {
  TS_HOST_DEVICE bool operator()(T a, T b) const { return (a != T(0)) || (b != T(0)); }
};
template <class T>
struct LogicalXorOp {
  TS_HOST_DEVICE bool operator()(T a, T b) const { return (a != T(0)) != (b != T(0)); }
};
template <class T>
struct LogicalNotOp {
  TS_HOST_DEVICE bool operator()(T a) const { return a == T(0); }
};

// ---- selection ---------------------------------------------------------------

template <class T>
struct WhereOp {
  TS_HOST_DEVICE T operator()(bool condition, T a, T b) const { return condition ? a : b; }
};
template <class T>
struct MaskedFillOp {  // the value p.a where the mask is set
  OpScalars<T> p;
  TS_HOST_DEVICE T operator()(T x, bool mask) const { return mask ? p.a : x; }
};
// clamp(x, lo = p.a, hi = p.b); a missing bound is the type's lowest or
// highest value (-inf / +inf for floats). NaN stays NaN.
template <class T>
struct ClampOp {
  OpScalars<T> p;
  TS_HOST_DEVICE T operator()(T x) const {
    if (x < p.a) x = p.a;
    if (x > p.b) x = p.b;
    return x;
  }
};
// Every element set to p.a (fill_, zero_).
template <class T>
struct FillOp {
  OpScalars<T> p;
  TS_HOST_DEVICE T operator()() const { return p.a; }
};

// ---- unary math (floating types unless noted) ----------------------------------

template <class T>
struct NegOp {  // all numeric types
  TS_HOST_DEVICE T operator()(T x) const { return -x; }
};
template <class T>
struct AbsOp {  // all numeric types
  TS_HOST_DEVICE T operator()(T x) const { return x < T(0) ? -x : x; }
};
template <class T>
struct ExpOp {
  TS_HOST_DEVICE T operator()(T x) const { return vexp(x); }
};
template <class T>
struct LogOp {
  TS_HOST_DEVICE T operator()(T x) const { return std::log(x); }
};
template <class T>
struct Log1pOp {
  TS_HOST_DEVICE T operator()(T x) const { return std::log1p(x); }
};
template <class T>
struct SqrtOp {
  TS_HOST_DEVICE T operator()(T x) const { return std::sqrt(x); }
};
template <class T>
struct RsqrtOp {
  TS_HOST_DEVICE T operator()(T x) const { return T(1) / std::sqrt(x); }
};
template <class T>
struct TanhOp {
  TS_HOST_DEVICE T operator()(T x) const { return vtanh(x); }
};
template <class T>
struct SigmoidOp {
  TS_HOST_DEVICE T operator()(T x) const { return T(1) / (T(1) + vexp(-x)); }
};
template <class T>
struct ReluOp {  // all numeric types; NaN stays NaN
  TS_HOST_DEVICE T operator()(T x) const { return x < T(0) ? T(0) : x; }
};
template <class T>
struct SinOp {
  TS_HOST_DEVICE T operator()(T x) const { return std::sin(x); }
};
template <class T>
struct CosOp {
  TS_HOST_DEVICE T operator()(T x) const { return std::cos(x); }
};

// GELU, exact form: x * Phi(x) = 0.5 x (1 + erf(x / sqrt(2))).
template <class T>
struct GeluErfOp {
  TS_HOST_DEVICE T operator()(T x) const {
    return T(0.5) * x * (T(1) + verf(x * T(0.70710678118654752440)));
  }
};
// GELU, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
template <class T>
struct GeluTanhOp {
  TS_HOST_DEVICE T operator()(T x) const {
    const T inner = T(0.79788456080286535588) * (x + T(0.044715) * x * x * x);
    return T(0.5) * x * (T(1) + vtanh(inner));
  }
};

// softplus(x) = log(1 + exp(beta x)) / beta, beta = p.a; x itself where
// beta x > threshold = p.b (the linear regime, as PyTorch).
template <class T>
struct SoftplusOp {
  OpScalars<T> p;
  TS_HOST_DEVICE T operator()(T x) const {
    const T bx = x * p.a;
    return bx > p.b ? x : std::log1p(vexp(bx)) / p.a;
  }
};

// relu's derivative times the incoming gradient, from relu's output y:
// the gradient passes where y > 0 (as PyTorch's threshold_backward).
template <class T>
struct ReluBackwardOp {
  TS_HOST_DEVICE T operator()(T grad, T y) const { return y > T(0) ? grad : T(0); }
};
// The 16-bit floats on their bits (the result is grad or zero, exact, so
// relu_backward needs no float32 copies of them): y > 0 exactly when y's
// bits lie in [1, +inf's bits], i.e. sign clear, not zero, not NaN.
template <class T, uint16_t kPositiveInfinityBits>
struct SixteenBitReluBackwardOp {
  TS_HOST_DEVICE T operator()(T grad, T y) const {
    return y.bits >= 1 && y.bits <= kPositiveInfinityBits ? grad : T::from_bits(0);
  }
};
template <>
struct ReluBackwardOp<BFloat16> : SixteenBitReluBackwardOp<BFloat16, 0x7F80> {};
template <>
struct ReluBackwardOp<Half> : SixteenBitReluBackwardOp<Half, 0x7C00> {};

// d/dx of GELU (erf form): Phi(x) + x phi(x), phi the standard normal
// density. For float, Phi comes from phi's own exponential (erfc_nonnegative)
// rather than a second rational approximation: 1.75x faster, which keeps
// gelu_backward bound by memory rather than arithmetic; ~3e-7 absolute.
TS_HOST_DEVICE float gelu_erf_slope(float x) {
  const float gaussian = fast_exp_nonpositive(-0.5f * x * x);  // e^(-z^2), z = |x| / sqrt(2)
  const float half_tail = 0.5f * erfc_nonnegative(std::fabs(x) * 0.70710678118654752440f, gaussian);
  const float cdf = x < 0 ? half_tail : 1.0f - half_tail;
  return cdf + x * (0.39894228040143267794f * gaussian);
}
TS_HOST_DEVICE double gelu_erf_slope(double x) {
  const double cdf = 0.5 * (1.0 + std::erf(x * 0.70710678118654752440));
  return cdf + x * 0.39894228040143267794 * std::exp(-0.5 * x * x);
}

// GELU (erf form)'s derivative times the incoming gradient.
template <class T>
struct GeluErfBackwardOp {
  TS_HOST_DEVICE T operator()(T grad, T x) const { return grad * gelu_erf_slope(x); }
};
// d/dx of GELU (tanh form) times the incoming gradient. With
// u = sqrt(2/pi) (x + 0.044715 x^3) and e = exp(-2|u|):
//   1 + tanh(u) = 2 / (1 + e) for u >= 0, 2e / (1 + e) for u < 0,
//   1 - tanh(u)^2 = 4e / (1 + e)^2,
// which keep their precision where |tanh(u)| is close to 1 (the tails).
template <class T>
struct GeluTanhBackwardOp {
  TS_HOST_DEVICE T operator()(T grad, T x) const {
    const T k = T(0.79788456080286535588);
    const T x2 = x * x;
    const T u = k * (x + T(0.044715) * x2 * x);
    const T e = vexp_nonpositive(T(-2) * std::fabs(u));
    const T inv = T(1) / (T(1) + e);
    const T one_plus_tanh = T(2) * inv * (u < T(0) ? e : T(1));
    const T sech2 = T(4) * e * inv * inv;
    const T dinner = k * (T(1) + T(3) * T(0.044715) * x2);
    return grad * (T(0.5) * one_plus_tanh + T(0.5) * x * sech2 * dinner);
  }
};

template <class T>
inline constexpr bool is_16bit_float_v = std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;

// A float as an integer, defined for every input (C++ leaves NaN and values
// out of the integer's range undefined, and PyTorch's result for them varies
// with the CPU): truncation toward zero, saturated at the integer's limits,
// NaN to 0. These are the semantics of CUDA's cvt.rzi instructions, so both
// backends give the same integers.
template <class To, class From>
TS_HOST_DEVICE To saturating_float_to_int(From x) {
  // -2^(bits-1) is exact in float and double, and so is its negation.
  constexpr From kLowest = static_cast<From>(std::numeric_limits<To>::min());
  if (x != x) return To(0);
  if (x >= -kLowest) return std::numeric_limits<To>::max();
  if (x <= kLowest) return std::numeric_limits<To>::min();
  return static_cast<To>(x);
}

// Type conversion, used by to(dtype) and copy_ between dtypes. The 16-bit
// floats convert through float32; anything non-zero becomes true; floats
// become integers by saturating_float_to_int.
template <class To>
struct CastOp {
  template <class From>
  TS_HOST_DEVICE To operator()(From x) const {
    if constexpr (is_16bit_float_v<From>) {
      return CastOp<To>{}(static_cast<float>(x));
    } else if constexpr (std::is_same_v<To, bool>) {
      return x != From(0);
    } else if constexpr (is_16bit_float_v<To>) {
      return To(static_cast<float>(x));
    } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
      return saturating_float_to_int<To>(x);
    } else {
      return static_cast<To>(x);
    }
  }
};

}  // namespace toadstool::kernels

namespace toadstool::kernels {

// A binary functor with one operand fixed: the scalar forms (t * 2, 2 - t)
// run as unary loops, which vectorize, instead of broadcasting a 0-d tensor.
template <class F, class T>
struct BindSecond {
  F f;
  T b;
  TS_HOST_DEVICE auto operator()(T a) const { return f(a, b); }
};
template <class F, class T>
struct BindFirst {
  F f;
  T a;
  TS_HOST_DEVICE auto operator()(T b) const { return f(a, b); }
};

}  // namespace toadstool::kernels
