#pragma once
// Reduction ops for kernels/cpu/reduce.h (and the CUDA reductions later):
// init / step / merge / finish over an accumulator. Float sums accumulate in
// double (16-bit floats too, read as they are stored), integer ones in int64.
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "toadstool/kernels/host_device.h"

namespace toadstool::kernels {

template <class T>
using sum_acc_t = std::conditional_t<std::is_integral_v<T>, int64_t, double>;

// A sum's result: int64 for bool and int64, float32 for the 16-bit floats
// (the front-end rounds it to their dtype once), else the input's type.
template <class T>
using sum_out_t = std::conditional_t<std::is_integral_v<T>, int64_t,
                                     std::conditional_t<std::is_arithmetic_v<T>, T, float>>;

template <class T, class Out>
struct SumReduce {
  using Acc = sum_acc_t<T>;
  double scale = 1.0;  // mean divides by the count here
  TS_HOST_DEVICE Acc init() const { return Acc(0); }
  TS_HOST_DEVICE Acc step(Acc acc, T x, int64_t) const { return acc + static_cast<Acc>(x); }
  TS_HOST_DEVICE Acc merge(Acc a, Acc b) const { return a + b; }
  TS_HOST_DEVICE Out finish(Acc acc) const {
    if constexpr (std::is_floating_point_v<Out>)
      return static_cast<Out>(acc * scale);
    else
      return static_cast<Out>(acc);
  }
};

template <class T, class Out>
struct ProdReduce {
  using Acc = sum_acc_t<T>;
  TS_HOST_DEVICE Acc init() const { return Acc(1); }
  TS_HOST_DEVICE Acc step(Acc acc, T x, int64_t) const { return acc * static_cast<Acc>(x); }
  TS_HOST_DEVICE Acc merge(Acc a, Acc b) const { return a * b; }
  TS_HOST_DEVICE Out finish(Acc acc) const { return static_cast<Out>(acc); }
};

template <class T>
TS_HOST_DEVICE bool is_nan(T x) {
  if constexpr (std::is_floating_point_v<T>)
    return x != x;
  else
    return false;
}

// amax / amin: NaN wins, as in PyTorch.
template <class T, bool kMax>
struct ExtremumReduce {
  TS_HOST_DEVICE T init() const {
    if constexpr (std::is_floating_point_v<T>) {
      return kMax ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
    } else {
      return kMax ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
    }
  }
  TS_HOST_DEVICE T step(T acc, T x, int64_t) const { return merge(acc, x); }
  TS_HOST_DEVICE T merge(T a, T b) const {
    if (is_nan(a) || is_nan(b)) return is_nan(a) ? a : b;
    return (kMax ? a > b : a < b) ? a : b;
  }
  TS_HOST_DEVICE T finish(T acc) const { return acc; }
};

template <class T>
struct ValueIndex {
  T value;
  int64_t index;  // -1 before the first element
};

// argmax / argmin and max / min along a dim: the first index of the extreme
// value; a NaN beats everything (its first occurrence).
template <class T, bool kMax>
struct ArgExtremumReduce {
  using Acc = ValueIndex<T>;
  TS_HOST_DEVICE Acc init() const { return {T(0), -1}; }
  TS_HOST_DEVICE Acc step(Acc acc, T x, int64_t r) const { return merge(acc, Acc{x, r}); }
  TS_HOST_DEVICE Acc merge(Acc a, Acc b) const {
    if (a.index < 0) return b;
    if (b.index < 0) return a;
    const bool a_nan = is_nan(a.value), b_nan = is_nan(b.value);
    if (a_nan || b_nan) {
      if (a_nan && b_nan) return a.index < b.index ? a : b;
      return a_nan ? a : b;
    }
    if (a.value == b.value) return a.index < b.index ? a : b;
    return (kMax ? a.value > b.value : a.value < b.value) ? a : b;
  }
  TS_HOST_DEVICE Acc finish(Acc acc) const { return acc; }
};

// Variance by Welford's update, merged with Chan et al.'s formula.
struct WelfordAcc {
  double count;
  double mean;
  double m2;  // sum of squared deviations from the mean
};

// The sum of squares, a squared 2-norm (clip_grad_norm_'s): each x * x and
// their sum in double, rounded once; one pass, no [n] temporary of squares.
template <class T, class Out>
struct SumSquaresReduce {
  using Acc = double;
  TS_HOST_DEVICE Acc init() const { return 0.0; }
  TS_HOST_DEVICE Acc step(Acc acc, T x, int64_t) const {
    const auto v = static_cast<Acc>(x);
    return acc + v * v;
  }
  TS_HOST_DEVICE Acc merge(Acc a, Acc b) const { return a + b; }
  TS_HOST_DEVICE Out finish(Acc acc) const { return static_cast<Out>(acc); }
};

template <class T, class Out>
struct VarReduce {
  double correction = 1.0;
  bool take_sqrt = false;
  TS_HOST_DEVICE WelfordAcc init() const { return {0.0, 0.0, 0.0}; }
  TS_HOST_DEVICE WelfordAcc step(WelfordAcc acc, T x, int64_t) const {
    const double v = static_cast<double>(x);
    acc.count += 1.0;
    const double delta = v - acc.mean;
    acc.mean += delta / acc.count;
    acc.m2 += delta * (v - acc.mean);
    return acc;
  }
  TS_HOST_DEVICE WelfordAcc merge(WelfordAcc a, WelfordAcc b) const {
    if (a.count == 0) return b;
    if (b.count == 0) return a;
    const double count = a.count + b.count;
    const double delta = b.mean - a.mean;
    return {count, a.mean + delta * b.count / count,
            a.m2 + b.m2 + delta * delta * a.count * b.count / count};
  }
  TS_HOST_DEVICE Out finish(WelfordAcc acc) const {
    const double denom = acc.count - correction;
    const double var = denom > 0 ? acc.m2 / denom : std::numeric_limits<double>::quiet_NaN();
    return static_cast<Out>(take_sqrt ? std::sqrt(var) : var);
  }
};

}  // namespace toadstool::kernels
