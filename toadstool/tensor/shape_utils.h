#pragma once
// Shape arithmetic shared by the op front-ends.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "toadstool/tensor/tensor.h"

namespace toadstool::detail {

// Maps a possibly negative dim into [0, ndim); throws naming `op` otherwise.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);
// Row-major strides for `shape` (size-1 and size-0 dims get the usual
// values); Error naming the shape when they overflow int64.
Shape contiguous_strides(const Shape& shape);
// The element count of `shape`; Error naming the shape when it overflows.
int64_t shape_numel(const Shape& shape);
// The bytes a contiguous `shape` of `dtype` takes, after checking that every
// size is >= 0 and that the element count, the byte count and the strides
// fit in int64; otherwise an Error that starts with `what` (the op, or a
// file and entry) and names the shape. Every tensor made passes through it.
size_t storage_bytes(const Shape& shape, DType dtype, std::string_view what);
// NumPy broadcasting of two shapes; throws naming `op` and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// A sorted set of wrapped dims (empty `dims` = every dim); throws on repeats.
std::vector<int64_t> reduction_dims(const Shape& dims, int64_t ndim, const char* op);

// A new contiguous tensor with uninitialised memory. Every size is checked
// (storage_bytes, contiguous_strides); `op` names the op in those Errors and
// in an out-of-memory one.
Tensor make_tensor(const Shape& shape, DType dtype, Device device = kCPU,
                   std::string_view op = "new tensor");
// The same in pinned host memory (a CPU tensor; the caller has checked that
// a CUDA device is available).
Tensor make_pinned_tensor(const Shape& shape, DType dtype, std::string_view op);
// A view of `base`'s storage with the given geometry.
Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset);

void check_defined(const Tensor& t, const char* op);
// The device an op runs on: that of its operands, which must all be on the
// same one (the error names both devices). The first operand must be
// defined; undefined ones after it (an absent weight) are skipped.
Device common_device(const char* op, std::initializer_list<const Tensor*> operands);

// "[2, 3] float32" for error messages ("[2, 3] float32 on cuda:0" off the CPU).
std::string describe(const Tensor& t);

}  // namespace toadstool::detail
