#pragma once
// Element types. float32 computes, float64 checks gradients, int64 indexes,
// bool masks; float16/bfloat16 are storage formats with conversions.
#include <cstddef>
#include <cstdint>
#include <ostream>

#include "toadstool/kernels/dtype.h"
#include "toadstool/kernels/half.h"
#include "toadstool/tensor/error.h"

namespace toadstool {

inline constexpr DType kBool = DType::Bool;
inline constexpr DType kInt64 = DType::Int64;
inline constexpr DType kFloat16 = DType::Float16;
inline constexpr DType kBFloat16 = DType::BFloat16;
inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat64 = DType::Float64;

inline std::ostream& operator<<(std::ostream& out, DType dt) { return out << dtype_name(dt); }

constexpr bool is_floating(DType dt) {
  return dt == DType::Float16 || dt == DType::BFloat16 || dt == DType::Float32 ||
         dt == DType::Float64;
}
// float16 and bfloat16 are stored, not computed: ops compute them in float32.
constexpr bool is_reduced_float(DType dt) { return dt == DType::Float16 || dt == DType::BFloat16; }

// PyTorch's promotion on the lattice bool < int64 < (float16 | bfloat16) <
// float32 < float64; float16 with bfloat16 gives float32.
DType promote_types(DType a, DType b);

template <class T>
struct DTypeOf;
template <>
struct DTypeOf<bool> {
  static constexpr DType value = DType::Bool;
};
template <>
struct DTypeOf<int64_t> {
  static constexpr DType value = DType::Int64;
};
template <>
struct DTypeOf<Half> {
  static constexpr DType value = DType::Float16;
};
template <>
struct DTypeOf<BFloat16> {
  static constexpr DType value = DType::BFloat16;
};
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::Float32;
};
template <>
struct DTypeOf<double> {
  static constexpr DType value = DType::Float64;
};
template <class T>
inline constexpr DType dtype_of = DTypeOf<T>::value;

template <class T>
struct TypeTag {
  using type = T;
};

// Calls fn(TypeTag<T>{}) with the C++ type of `dt`. The variants restrict the
// types an op supports and throw an Error naming the op otherwise.
template <class Fn>
decltype(auto) dispatch_all(DType dt, const char* op, Fn&& fn) {
  switch (dt) {
    case DType::Bool: return fn(TypeTag<bool>{});
    case DType::Int64: return fn(TypeTag<int64_t>{});
    case DType::Float16: return fn(TypeTag<Half>{});
    case DType::BFloat16: return fn(TypeTag<BFloat16>{});
    case DType::Float32: return fn(TypeTag<float>{});
    case DType::Float64: return fn(TypeTag<double>{});
  }
  throw Error(detail::concat(op, ": unknown dtype"));
}

// float32, float64, int64 and bool: the types kernels compute in.
template <class Fn>
decltype(auto) dispatch_compute(DType dt, const char* op, Fn&& fn) {
  switch (dt) {
    case DType::Bool: return fn(TypeTag<bool>{});
    case DType::Int64: return fn(TypeTag<int64_t>{});
    case DType::Float32: return fn(TypeTag<float>{});
    case DType::Float64: return fn(TypeTag<double>{});
    default: break;
  }
  throw Error(detail::concat(op, ": dtype ", dtype_name(dt), " is not supported"));
}

// float32 and float64 only.
template <class Fn>
decltype(auto) dispatch_float(DType dt, const char* op, Fn&& fn) {
  switch (dt) {
    case DType::Float32: return fn(TypeTag<float>{});
    case DType::Float64: return fn(TypeTag<double>{});
    default: break;
  }
  throw Error(detail::concat(op, ": expected a float32 or float64 tensor, got ", dtype_name(dt)));
}

}  // namespace toadstool
