#pragma once
// A number passed to an op next to tensors (add(t, 2), full(shape, 0.5)).
// Like PyTorch, a scalar only changes the result dtype when it belongs to a
// higher category than the tensor: int64 tensor + 0.5 gives float32.
#include <cstdint>
#include <ostream>
#include <type_traits>

#include "toadstool/tensor/checked_math.h"
#include "toadstool/tensor/dtype.h"
#include "toadstool/tensor/error.h"

namespace toadstool {

class Scalar {
 public:
  enum class Kind : uint8_t { Bool, Int, Float };

  Scalar(bool v) : kind_(Kind::Bool), int_(v), float_(v) {}  // NOLINT: implicit by design
  template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  Scalar(T v)
      : kind_(Kind::Int),
        int_(static_cast<int64_t>(v)),
        float_(static_cast<double>(v)) {}  // NOLINT
  // A float keeps only its double: its integer value exists only on request
  // (to<T>()), checked, since NaN, infinities and 1e30 have none.
  template <class T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
  Scalar(T v) : kind_(Kind::Float), int_(0), float_(static_cast<double>(v)) {}  // NOLINT

  Kind kind() const { return kind_; }
  bool is_floating() const { return kind_ == Kind::Float; }
  double to_double() const { return float_; }

  // The value converted to the element type T of the kernel of `op`. A float
  // becomes an integer by truncation toward zero, as in PyTorch's fill_; one
  // with no int64 value (NaN, infinities, |v| >= 2^63) is an Error naming op.
  template <class T>
  T to(const char* op) const {
    if constexpr (std::is_same_v<T, bool>) {
      return float_ != 0.0;
    } else if constexpr (std::is_integral_v<T>) {
      if (kind_ != Kind::Float) return static_cast<T>(int_);
      TS_CHECK(fits_int64(float_), op, ": value ", float_, " cannot be converted to ",
               dtype_name(dtype_of<T>), " without overflow");
      return static_cast<T>(float_);
    } else {
      return static_cast<T>(float_);
    }
  }

  // The dtype a tensor made from this scalar alone gets (bool, int64, float32).
  DType default_dtype() const {
    switch (kind_) {
      case Kind::Bool: return DType::Bool;
      case Kind::Int: return DType::Int64;
      case Kind::Float: break;
    }
    return DType::Float32;
  }

 private:
  Kind kind_;
  int64_t int_;
  double float_;
};

inline std::ostream& operator<<(std::ostream& out, const Scalar& s) {
  if (s.kind() == Scalar::Kind::Float) return out << s.to_double();
  return out << s.to<int64_t>("operator<<");
}

// Result dtype of an op between a tensor of dtype `t` and a scalar.
DType promote_with_scalar(DType t, const Scalar& s);

}  // namespace toadstool
