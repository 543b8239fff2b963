#pragma once
// What front-ends use to hand tensors to raw-pointer kernels.
#include "tensor/native_ops.h"

namespace toadstool::native {

// A contiguous copy of t in `dtype` (itself when it already is; undefined
// stays undefined): the layout kernels read.
inline Tensor contiguous_as(const Tensor& t, DType dtype) {
  return t.defined() ? contiguous(to_dtype(t, dtype)) : Tensor();
}

// The data of an optional tensor, or nullptr when it is undefined.
template <class T>
const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? static_cast<const T*>(t.data_ptr()) : nullptr;
}
template <class T>
T* mutable_ptr_or_null(const Tensor& t) {
  return t.defined() ? static_cast<T*>(t.data_ptr()) : nullptr;
}

}  // namespace toadstool::native
