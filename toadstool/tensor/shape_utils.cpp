#include "toadstool/tensor/shape_utils.h"

#include <algorithm>
#include <optional>

#include "toadstool/tensor/checked_math.h"

namespace toadstool::detail {

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  // A 0-d tensor accepts dim 0 and -1, as in PyTorch.
  const int64_t n = std::max<int64_t>(ndim, 1);
  TS_CHECK(dim >= -n && dim < n, op, ": dim ", dim, " is out of range for a tensor with ", ndim,
           " dims (expected in [", -n, ", ", n - 1, "])");
  return dim < 0 ? dim + n : dim;
}

namespace {

// Dim 0's row-major stride, the product of max(size, 1) over the other dims
// (size-0 dims count as 1, as in PyTorch: [0, 2^32, 2^32] has no element but
// a dim-0 stride of 2^64), or nothing when it overflows int64. Every other
// stride divides it, so when it fits they all do.
std::optional<int64_t> leading_stride(const Shape& shape) {
  int64_t stride = 1;
  for (size_t i = 1; i < shape.size(); ++i) {
    const std::optional<int64_t> next = checked_mul(stride, std::max<int64_t>(shape[i], 1));
    if (!next) return std::nullopt;
    stride = *next;
  }
  return stride;
}

}  // namespace

Shape contiguous_strides(const Shape& shape) {
  TS_CHECK(leading_stride(shape).has_value(), "shape ", shape, ": its strides overflow int64");
  Shape strides(shape.size());
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    if (i > 0) stride *= std::max<int64_t>(shape[i], 1);
  }
  return strides;
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) {
    const std::optional<int64_t> next = checked_mul(n, s);
    TS_CHECK(next.has_value(), "shape ", shape, ": its element count overflows int64");
    n = *next;
  }
  return n;
}

size_t storage_bytes(const Shape& shape, DType dtype, std::string_view what) {
  int64_t numel = 1;
  for (int64_t s : shape) {
    TS_CHECK(s >= 0, what, ": negative size in shape ", shape);
    const std::optional<int64_t> next = checked_mul(numel, s);
    TS_CHECK(next.has_value(), what, ": shape ", shape, " has more than 2^63 elements");
    numel = *next;
  }
  const std::optional<int64_t> bytes =
      checked_mul(numel, static_cast<int64_t>(element_size(dtype)));
  TS_CHECK(bytes.has_value(), what, ": shape ", shape, " of ", dtype_name(dtype),
           " needs more than 2^63 bytes");
  TS_CHECK(leading_stride(shape).has_value(), what, ": the strides of shape ", shape,
           " overflow int64");
  return static_cast<size_t>(*bytes);
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t ndim = std::max(a.size(), b.size());
  Shape out(ndim);
  for (size_t i = 0; i < ndim; ++i) {
    const int64_t da = i < ndim - a.size() ? 1 : a[i - (ndim - a.size())];
    const int64_t db = i < ndim - b.size() ? 1 : b[i - (ndim - b.size())];
    TS_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", a, " and ", b,
             " cannot be broadcast together (dim ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> reduction_dims(const Shape& dims, int64_t ndim, const char* op) {
  std::vector<int64_t> out;
  if (dims.empty()) {
    for (int64_t d = 0; d < ndim; ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : dims) out.push_back(wrap_dim(d, ndim, op));
  std::sort(out.begin(), out.end());
  TS_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), op, ": dim list ", dims,
           " names a dim more than once");
  // A 0-d tensor reduces over "dim 0", which does not exist as a real dim.
  if (ndim == 0) out.clear();
  return out;
}

namespace {

// A contiguous tensor over the storage Storage(nbytes, where) gives.
template <class Where>
Tensor make_contiguous(const Shape& shape, DType dtype, Where where, std::string_view op) {
  const size_t nbytes = storage_bytes(shape, dtype, op);
  auto impl = std::make_shared<TensorImpl>();
  impl->strides = contiguous_strides(shape);
  try {
    impl->storage = std::make_shared<Storage>(nbytes, where);
  } catch (const Error& e) {
    throw Error(concat(op, ": cannot allocate ", shape, " ", dtype_name(dtype), ": ", e.what()));
  }
  impl->shape = shape;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

}  // namespace

Tensor make_tensor(const Shape& shape, DType dtype, Device device, std::string_view op) {
  return make_contiguous(shape, dtype, device, op);
}

Tensor make_pinned_tensor(const Shape& shape, DType dtype, std::string_view op) {
  return make_contiguous(shape, dtype, Storage::Pinned{}, op);
}

Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.impl_ptr()->storage;
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

void check_defined(const Tensor& t, const char* op) {
  TS_CHECK(t.defined(), op, ": got an undefined tensor");
}

Device common_device(const char* op, std::initializer_list<const Tensor*> operands) {
  const Tensor& first = **operands.begin();
  check_defined(first, op);
  for (const Tensor* t : operands) {
    TS_CHECK(!t->defined() || t->device() == first.device(), op,
             ": expected tensors on the same device, got ", first.device(), " and ", t->device());
  }
  return first.device();
}

std::string describe(const Tensor& t) {
  if (!t.defined()) return "(undefined)";
  if (t.device() == kCPU) return concat(t.shape(), " ", dtype_name(t.dtype()));
  return concat(t.shape(), " ", dtype_name(t.dtype()), " on ", t.device());
}

}  // namespace toadstool::detail
