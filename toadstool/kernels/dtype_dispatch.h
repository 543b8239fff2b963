#pragma once
// Calls fn(T{}) with the C++ type of a dtype, for every backend's table
// entries (host code; the CUDA ones launch their kernels for T inside fn).
// The front-ends have checked the dtype, so an unsupported one is a bug in
// the caller: it throws std::invalid_argument naming the kernel.
#include <stdexcept>
#include <string>

#include "toadstool/kernels/dtype.h"
#include "toadstool/kernels/half.h"
#include "toadstool/kernels/kernel_args.h"

namespace toadstool::kernels {

[[noreturn]] inline void unsupported_dtype(const char* kernel, DType dtype) {
  throw std::invalid_argument(std::string(kernel) + ": dtype " + dtype_name(dtype) +
                              " is not built");
}

// A table entry's raw pointer as the T that for_dtype chose.
template <class T>
T* typed(void* p) {
  return static_cast<T*>(p);
}
template <class T>
const T* typed(const void* p) {
  return static_cast<const T*>(p);
}

// The dtypes of `types` only.
template <TypeSet types, class Fn>
void for_dtype(DType dtype, const char* kernel, Fn&& fn) {
  constexpr bool kBool = types == TypeSet::Compute || types == TypeSet::All;
  constexpr bool kInt64 = types != TypeSet::Float && types != TypeSet::Floating;
  constexpr bool kHalves = types == TypeSet::All || types == TypeSet::Floating;
  switch (dtype) {
    case DType::Float32: return fn(float{});
    case DType::Float64: return fn(double{});
    case DType::Int64:
      if constexpr (kInt64) return fn(int64_t{});
      break;
    case DType::Bool:
      if constexpr (kBool) return fn(bool{});
      break;
    case DType::Float16:
      if constexpr (kHalves) return fn(Half{});
      break;
    case DType::BFloat16:
      if constexpr (kHalves) return fn(BFloat16{});
      break;
  }
  unsupported_dtype(kernel, dtype);
}

}  // namespace toadstool::kernels
