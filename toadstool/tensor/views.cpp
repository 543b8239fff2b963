// View ops: new shape, strides and offset over the same storage.
#include <algorithm>
#include <numeric>
#include <optional>

#include "toadstool/tensor/checked_math.h"
#include "toadstool/tensor/elementwise.h"
#include "toadstool/tensor/native_ops.h"

namespace toadstool::native {

namespace {

// Resolves a single -1 in `shape` so that it holds `numel` elements.
Shape infer_shape(const Shape& shape, int64_t numel, const char* op) {
  Shape out = shape;
  int64_t known = 1;
  std::optional<size_t> unknown;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      TS_CHECK(!unknown, op, ": only one dim may be -1, got shape ", shape);
      unknown = i;
    } else {
      TS_CHECK(out[i] >= 0, op, ": invalid size ", out[i], " in shape ", shape);
      const std::optional<int64_t> product = checked_mul(known, out[i]);
      TS_CHECK(product.has_value(), op, ": shape ", shape, " has more than 2^63 elements");
      known = *product;
    }
  }
  if (unknown) {
    TS_CHECK(known != 0 && numel % known == 0, op, ": shape ", shape,
             " is invalid for a tensor of ", numel, " elements");
    out[*unknown] = numel / known;
  }
  TS_CHECK(detail::shape_numel(out) == numel, op, ": shape ", shape, " is invalid for a tensor of ",
           numel, " elements");
  return out;
}

// Strides that let `new_shape` view memory laid out as (shape, strides), or
// nothing when the layout cannot be viewed that way. Dims of the old shape
// are grouped into runs that are contiguous with each other; each run must
// map onto whole dims of the new shape (as in PyTorch's computeStride).
std::optional<Shape> view_strides(const Shape& shape, const Shape& strides,
                                  const Shape& new_shape) {
  Shape new_strides(new_shape.size());
  if (shape.empty() || detail::shape_numel(shape) == 0)
    return detail::contiguous_strides(new_shape);
  int64_t view_d = static_cast<int64_t>(new_shape.size()) - 1;
  int64_t chunk_base_stride = strides.empty() ? 1 : strides.back();
  int64_t tensor_numel = 1;
  int64_t view_numel = 1;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= shape[d];
    // The end of a contiguous run: the next outer dim does not continue it.
    const bool run_ends =
        d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_base_stride);
    if (!run_ends) continue;
    while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
      new_strides[view_d] = view_numel * chunk_base_stride;
      view_numel *= new_shape[view_d];
      --view_d;
    }
    if (view_numel != tensor_numel) return std::nullopt;
    if (d > 0) {
      chunk_base_stride = strides[d - 1];
      tensor_numel = 1;
      view_numel = 1;
    }
  }
  if (view_d != -1) return std::nullopt;
  return new_strides;
}

}  // namespace

Tensor view(const Tensor& t, const Shape& shape) {
  detail::check_defined(t, "view");
  const Shape new_shape = infer_shape(shape, t.numel(), "view");
  const auto strides = view_strides(t.shape(), t.strides(), new_shape);
  TS_CHECK(strides.has_value(), "view: tensor of shape ", t.shape(), " with strides ", t.strides(),
           " cannot be viewed as ", shape,
           " (its memory is not laid out that way); use reshape(), which copies");
  return detail::make_view(t, new_shape, *strides, t.storage_offset());
}

Tensor reshape(const Tensor& t, const Shape& shape) {
  detail::check_defined(t, "reshape");
  const Shape new_shape = infer_shape(shape, t.numel(), "reshape");
  if (auto strides = view_strides(t.shape(), t.strides(), new_shape)) {
    return detail::make_view(t, new_shape, *strides, t.storage_offset());
  }
  return view(clone(t), new_shape);
}

Tensor permute(const Tensor& t, const Shape& dims) {
  detail::check_defined(t, "permute");
  TS_CHECK(static_cast<int64_t>(dims.size()) == t.dim(), "permute: got ", dims.size(), " dims ",
           dims, " for a tensor of shape ", t.shape());
  Shape shape(dims.size()), strides(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = detail::wrap_dim(dims[i], t.dim(), "permute");
    TS_CHECK(!seen[d], "permute: dim ", dims[i], " appears twice in ", dims);
    seen[d] = true;
    shape[i] = t.shape()[d];
    strides[i] = t.strides()[d];
  }
  return detail::make_view(t, shape, strides, t.storage_offset());
}

Tensor transpose(const Tensor& t, int64_t dim0, int64_t dim1) {
  detail::check_defined(t, "transpose");
  if (t.dim() == 0) return t;
  Shape dims(t.dim());
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[detail::wrap_dim(dim0, t.dim(), "transpose")],
            dims[detail::wrap_dim(dim1, t.dim(), "transpose")]);
  return permute(t, dims);
}

Tensor narrow(const Tensor& t, int64_t dim, int64_t start, int64_t length) {
  detail::check_defined(t, "narrow");
  TS_CHECK(t.dim() > 0, "narrow: cannot narrow a 0-d tensor");
  const int64_t d = detail::wrap_dim(dim, t.dim(), "narrow");
  const int64_t size = t.shape()[d];
  if (start < 0) start += size;
  TS_CHECK(start >= 0 && length >= 0 && start + length <= size, "narrow: start ", start,
           " and length ", length, " are out of range for dim ", dim, " of size ", size, " (shape ",
           t.shape(), ")");
  return slice(t, d, start, start + length, 1);
}

Tensor slice(const Tensor& t, int64_t dim, std::optional<int64_t> start, std::optional<int64_t> end,
             int64_t step) {
  detail::check_defined(t, "slice");
  TS_CHECK(t.dim() > 0, "slice: cannot slice a 0-d tensor");
  TS_CHECK(step > 0, "slice: step must be positive, got ", step);
  const int64_t d = detail::wrap_dim(dim, t.dim(), "slice");
  const int64_t size = t.shape()[d];
  // Python slice semantics: negative bounds count from the end; clamp.
  auto clamp_bound = [size](int64_t v) {
    if (v < 0) v += size;
    return std::clamp<int64_t>(v, 0, size);
  };
  const int64_t b = clamp_bound(start.value_or(0));
  const int64_t e = std::max(b, clamp_bound(end.value_or(size)));
  Shape shape = t.shape(), strides = t.strides();
  shape[d] = e == b ? 0 : 1 + (e - b - 1) / step;  // no overflow for a step near 2^63
  // With two or more elements, step < size: the stride stays within the dim.
  if (shape[d] > 1) strides[d] *= step;
  return detail::make_view(t, shape, strides, t.storage_offset() + b * t.strides()[d]);
}

Tensor select(const Tensor& t, int64_t dim, int64_t index) {
  detail::check_defined(t, "select");
  TS_CHECK(t.dim() > 0, "select: cannot select from a 0-d tensor");
  const int64_t d = detail::wrap_dim(dim, t.dim(), "select");
  const int64_t size = t.shape()[d];
  TS_CHECK(index >= -size && index < size, "select: index ", index, " is out of range for dim ",
           dim, " of size ", size, " (shape ", t.shape(), ")");
  if (index < 0) index += size;
  Shape shape = t.shape(), strides = t.strides();
  const int64_t offset = t.storage_offset() + index * strides[d];
  shape.erase(shape.begin() + d);
  strides.erase(strides.begin() + d);
  return detail::make_view(t, shape, strides, offset);
}

Tensor squeeze(const Tensor& t) {
  detail::check_defined(t, "squeeze");
  Shape shape, strides;
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (t.shape()[d] == 1) continue;
    shape.push_back(t.shape()[d]);
    strides.push_back(t.strides()[d]);
  }
  return detail::make_view(t, shape, strides, t.storage_offset());
}

Tensor squeeze(const Tensor& t, int64_t dim) {
  detail::check_defined(t, "squeeze");
  if (t.dim() == 0) return t;
  const int64_t d = detail::wrap_dim(dim, t.dim(), "squeeze");
  if (t.shape()[d] != 1) return t;
  Shape shape = t.shape(), strides = t.strides();
  shape.erase(shape.begin() + d);
  strides.erase(strides.begin() + d);
  return detail::make_view(t, shape, strides, t.storage_offset());
}

Tensor unsqueeze(const Tensor& t, int64_t dim) {
  detail::check_defined(t, "unsqueeze");
  const int64_t d = detail::wrap_dim(dim, t.dim() + 1, "unsqueeze");
  Shape shape = t.shape(), strides = t.strides();
  const int64_t stride = d < t.dim() ? t.strides()[d] * t.shape()[d] : 1;
  shape.insert(shape.begin() + d, 1);
  strides.insert(strides.begin() + d, stride);
  return detail::make_view(t, shape, strides, t.storage_offset());
}

Tensor expand(const Tensor& t, const Shape& shape) {
  detail::check_defined(t, "expand");
  TS_CHECK(static_cast<int64_t>(shape.size()) >= t.dim(), "expand: the target shape ", shape,
           " has fewer dims than the tensor's shape ", t.shape());
  Shape target = shape;
  const int64_t offset = static_cast<int64_t>(shape.size()) - t.dim();
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] != -1) continue;
    TS_CHECK(static_cast<int64_t>(i) >= offset,
             "expand: -1 is not allowed for the new leading dim ", i, " in ", shape);
    target[i] = t.shape()[i - offset];
  }
  return detail::expand_to(t, target, "expand");
}

Tensor flatten(const Tensor& t, int64_t start_dim, int64_t end_dim) {
  detail::check_defined(t, "flatten");
  if (t.dim() == 0) return reshape(t, {1});
  const int64_t s = detail::wrap_dim(start_dim, t.dim(), "flatten");
  const int64_t e = detail::wrap_dim(end_dim, t.dim(), "flatten");
  TS_CHECK(s <= e, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  Shape shape(t.shape().begin(), t.shape().begin() + s);
  int64_t merged = 1;
  for (int64_t d = s; d <= e; ++d) merged *= t.shape()[d];
  shape.push_back(merged);
  shape.insert(shape.end(), t.shape().begin() + e + 1, t.shape().end());
  return reshape(t, shape);
}

}  // namespace toadstool::native
