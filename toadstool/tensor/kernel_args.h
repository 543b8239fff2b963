#pragma once
// What front-ends use to hand tensors to the kernel table (tensor/dispatch.h).
#include "toadstool/tensor/dispatch.h"
#include "toadstool/tensor/native_ops.h"

namespace toadstool::native {

// A contiguous copy of t in `dtype` (itself when it already is; undefined
// stays undefined): the layout kernels read.
inline Tensor contiguous_as(const Tensor& t, DType dtype) {
  return t.defined() ? contiguous(to_dtype(t, dtype)) : Tensor();
}

// The data of an optional tensor, or nullptr when it is undefined.
inline const void* ptr_or_null(const Tensor& t) { return t.defined() ? t.data_ptr() : nullptr; }
inline void* mutable_ptr_or_null(const Tensor& t) { return t.defined() ? t.data_ptr() : nullptr; }

}  // namespace toadstool::native
