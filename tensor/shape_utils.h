#pragma once
// Shape arithmetic shared by the op front-ends.
#include <cstdint>
#include <string>

#include "tensor/tensor.h"

namespace toadstool::detail {

// Maps a possibly negative dim into [0, ndim); throws naming `op` otherwise.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);
// Row-major strides for `shape` (size-1 and size-0 dims get the usual values).
Shape contiguous_strides(const Shape& shape);
int64_t shape_numel(const Shape& shape);
// NumPy broadcasting of two shapes; throws naming `op` and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// A sorted set of wrapped dims (empty `dims` = every dim); throws on repeats.
std::vector<int64_t> reduction_dims(const Shape& dims, int64_t ndim, const char* op);

// A new contiguous tensor with uninitialised memory.
Tensor make_tensor(const Shape& shape, DType dtype, Device device = kCPU);
// A view of `base`'s storage with the given geometry.
Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset);

// Every op with a kernel runs on the CPU for now; a CUDA tensor cannot exist
// in this build, but the check names the op and device if one ever arrives.
void check_cpu(const Tensor& t, const char* op);
void check_defined(const Tensor& t, const char* op);
// Same device for every operand, naming them.
void check_same_device(const Tensor& a, const Tensor& b, const char* op);

// "[2, 3] float32" for error messages.
std::string describe(const Tensor& t);

}  // namespace toadstool::detail
