// Non-random factories: constant fills, ranges, eye, host data.
#include "toadstool/tensor/factory.h"

#include <cmath>
#include <cstring>

#include "toadstool/tensor/checked_math.h"
#include "toadstool/tensor/native_ops.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool {
namespace {

// `shape` filled with `value`; `op` (the factory the user called) names
// itself in size and out-of-memory Errors.
Tensor filled(const char* op, const Shape& shape, const Scalar& value, TensorOptions options) {
  Tensor out = detail::make_tensor(shape, options.dtype_, options.device_, op);
  return native::fill_(out, value);
}

// The options of a *_like factory: the dtype and device not given, like's.
TensorOptions like_options(const Tensor& like, TensorOptions options) {
  if (!options.dtype_given_) options = options.dtype(like.dtype());
  if (!options.device_given_) options = options.device(like.device());
  return options;
}

}  // namespace

Tensor empty(const Shape& shape, TensorOptions options) {
  return detail::make_tensor(shape, options.dtype_, options.device_, "empty");
}

Tensor zeros(const Shape& shape, TensorOptions options) {
  return filled("zeros", shape, 0, options);
}
Tensor ones(const Shape& shape, TensorOptions options) { return filled("ones", shape, 1, options); }

Tensor full(const Shape& shape, const Scalar& value, TensorOptions options) {
  return filled("full", shape, value, options);
}

Tensor scalar_tensor(const Scalar& value) { return scalar_tensor(value, value.default_dtype()); }
Tensor scalar_tensor(const Scalar& value, TensorOptions options) {
  return full({}, value, options);
}

Tensor arange(const Scalar& end, TensorOptions options) { return arange(0, end, 1, options); }

Tensor arange(const Scalar& start, const Scalar& end, const Scalar& step, TensorOptions options) {
  const double s = start.to_double(), e = end.to_double(), d = step.to_double();
  TS_CHECK(d != 0, "arange: step must be non-zero");
  TS_CHECK(std::isfinite(s) && std::isfinite(e), "arange: start ", start, " and end ", end,
           " must be finite");
  TS_CHECK((d > 0 && e >= s) || (d < 0 && e <= s), "arange: the range [", start, ", ", end,
           ") is inconsistent with step ", step);
  TS_CHECK(is_floating(options.dtype_) || options.dtype_ == DType::Int64,
           "arange: dtype must be int64 or floating, got ", dtype_name(options.dtype_));
  const double count = std::ceil((e - s) / d);
  TS_CHECK(fits_int64(count), "arange: the range [", start, ", ", end, ") with step ", step,
           " has ", count, " elements, more than a tensor can hold");
  const auto n = static_cast<int64_t>(count);
  Tensor out = detail::make_tensor({n}, DType::Float64, kCPU, "arange");
  auto* data = out.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i) data[i] = s + static_cast<double>(i) * d;
  return native::to_device(native::to_dtype(out, options.dtype_), options.device_);
}

Tensor eye(int64_t n, int64_t m, TensorOptions options) {
  if (m < 0) m = n;
  TS_CHECK(n >= 0, "eye: n must be non-negative, got ", n);
  Tensor out = filled("eye", {n, m}, 0, options);
  // The diagonal is a strided view with step m + 1 through the flat buffer.
  if (n > 0 && m > 0) {
    Tensor diagonal = detail::make_view(out, {std::min(n, m)}, {m + 1}, 0);
    native::fill_(diagonal, 1);
  }
  return out;
}

Tensor empty_like(const Tensor& like) { return empty_like(like, {}); }
Tensor zeros_like(const Tensor& like) { return zeros_like(like, {}); }
Tensor ones_like(const Tensor& like) { return ones_like(like, {}); }
Tensor full_like(const Tensor& like, const Scalar& value) { return full_like(like, value, {}); }
Tensor empty_like(const Tensor& like, TensorOptions options) {
  return empty(like.shape(), like_options(like, options));
}
Tensor zeros_like(const Tensor& like, TensorOptions options) {
  return zeros(like.shape(), like_options(like, options));
}
Tensor ones_like(const Tensor& like, TensorOptions options) {
  return ones(like.shape(), like_options(like, options));
}
Tensor full_like(const Tensor& like, const Scalar& value, TensorOptions options) {
  return full(like.shape(), value, like_options(like, options));
}

Tensor from_blob(const void* data, const Shape& shape, DType dtype) {
  Tensor out = detail::make_tensor(shape, dtype, kCPU, "from_blob");
  const size_t nbytes = detail::storage_bytes(shape, dtype, "from_blob");
  TS_CHECK(data != nullptr || nbytes == 0, "from_blob: null data for shape ", shape);
  if (nbytes > 0) std::memcpy(out.data_ptr(), data, nbytes);
  return out;
}

template <class T>
Tensor from_vector(const std::vector<T>& values) {
  return from_vector(values, {static_cast<int64_t>(values.size())});
}

template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape) {
  TS_CHECK(detail::shape_numel(shape) == static_cast<int64_t>(values.size()),
           "from_vector: ", values.size(), " values do not fill shape ", shape);
  if constexpr (std::is_same_v<T, bool>) {
    // std::vector<bool> is packed; unpack into one byte per element.
    Tensor out = detail::make_tensor(shape, DType::Bool, kCPU, "from_vector");
    auto* data = out.data_ptr<bool>();
    for (size_t i = 0; i < values.size(); ++i) data[i] = values[i];
    return out;
  } else {
    return from_blob(values.data(), shape, dtype_of<T>);
  }
}

template Tensor from_vector<bool>(const std::vector<bool>&);
template Tensor from_vector<bool>(const std::vector<bool>&, const Shape&);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&);
template Tensor from_vector<float>(const std::vector<float>&);
template Tensor from_vector<float>(const std::vector<float>&, const Shape&);
template Tensor from_vector<double>(const std::vector<double>&);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&);
template Tensor from_vector<Half>(const std::vector<Half>&);
template Tensor from_vector<Half>(const std::vector<Half>&, const Shape&);
template Tensor from_vector<BFloat16>(const std::vector<BFloat16>&);
template Tensor from_vector<BFloat16>(const std::vector<BFloat16>&, const Shape&);

}  // namespace toadstool
