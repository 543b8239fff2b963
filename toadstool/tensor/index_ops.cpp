// Indexing ops: index_select, embedding, gather, scatter_add, index_add, one_hot,
// hashed_bigrams.
#include <algorithm>
#include <limits>

#include "toadstool/tensor/dispatch.h"
#include "toadstool/tensor/elementwise.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/native_ops.h"

namespace toadstool::native {

namespace {

void check_index_tensor(const Tensor& index, const char* op) {
  detail::check_defined(index, op);
  TS_CHECK(index.dtype() == DType::Int64, op, ": indices must be an int64 tensor, got ",
           detail::describe(index));
}

// Every index in [0, size) (or [0, size] where `size_means_zeros`):
// checked before any kernel runs. Negative indices count from the end only
// where PyTorch allows it (not here).
void check_index_range(const Tensor& index, int64_t size, const char* op, const Shape& shape,
                       bool size_means_zeros = false) {
  const Tensor flat = to_device(contiguous(index), kCPU);
  const int64_t* data = flat.data_ptr<int64_t>();
  const int64_t end = size_means_zeros ? size + 1 : size;
  for (int64_t i = 0; i < flat.numel(); ++i) {
    TS_CHECK(data[i] >= 0 && data[i] < end, op, ": index ", data[i],
             " is out of range for a dim of size ", size, " (tensor shape ", shape, ")");
  }
}

// Sizes of [outer, dim, inner] around `dim` of `shape`.
struct OuterInner {
  int64_t outer = 1, size = 1, inner = 1;
};
OuterInner split_at(const Shape& shape, int64_t dim) {
  OuterInner s;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    if (d < dim)
      s.outer *= shape[d];
    else if (d == dim)
      s.size = shape[d];
    else
      s.inner *= shape[d];
  }
  return s;
}

kernels::IndexGeometry index_geometry(const Tensor& index, const Tensor& self, const Tensor& other,
                                      int64_t dim, const char* op) {
  kernels::IndexGeometry g;
  TS_CHECK(index.dim() <= kernels::IndexGeometry::kMaxDims, op, ": too many dims");
  g.ndim = static_cast<int>(std::max<int64_t>(index.dim(), 1));
  g.dim = static_cast<int>(dim);
  for (int d = 0; d < g.ndim; ++d) {
    const bool scalar = index.dim() == 0;
    g.sizes[d] = scalar ? 1 : index.shape()[d];
    g.index_strides[d] = scalar ? 0 : index.strides()[d];
    g.self_strides[d] = self.dim() == 0 ? 0 : self.strides()[d];
    g.other_strides[d] = other.dim() == 0 ? 0 : other.strides()[d];
  }
  return g;
}

// gather / scatter_add: index has self's number of dims and fits inside it
// (and inside src) on every dim but `dim`.
void check_gather_shapes(const Tensor& self, const Tensor& index, int64_t dim, const Tensor* src,
                         const char* op) {
  TS_CHECK(index.dim() == self.dim(), op, ": index ", detail::describe(index),
           " must have as many dims as the input ", detail::describe(self));
  for (int64_t d = 0; d < self.dim(); ++d) {
    TS_CHECK(d == dim || index.shape()[d] <= self.shape()[d], op, ": index shape ", index.shape(),
             " is larger than the input shape ", self.shape(), " at dim ", d);
    if (src) {
      TS_CHECK(index.shape()[d] <= src->shape()[d], op, ": index shape ", index.shape(),
               " is larger than the src shape ", src->shape(), " at dim ", d);
    }
  }
}

}  // namespace

namespace {

// index_select's work, with `op` (index_select, or embedding, the op the
// user called) in every Error; the indices are range-checked once, here.
// With `size_means_zeros`, an index equal to the dim's size selects zeros.
Tensor select_along(const Tensor& t, int64_t dim, const Tensor& index, const char* op,
                    bool size_means_zeros = false) {
  check_index_tensor(index, op);
  const Device device = detail::common_device(op, {&t, &index});
  TS_CHECK(index.dim() <= 1, op, ": index must be 0-d or 1-d, got ", detail::describe(index));
  const int64_t d = detail::wrap_dim(dim, t.dim(), op);
  const Tensor src = contiguous(t);
  const Tensor idx = contiguous(index);
  const OuterInner s = split_at(t.dim() == 0 ? Shape{1} : t.shape(), d);
  check_index_range(idx, s.size, op, t.shape(), size_means_zeros);
  Shape out_shape = t.shape();
  if (t.dim() > 0) out_shape[d] = idx.numel();
  Tensor out = detail::make_tensor(out_shape, t.dtype(), device);
  TS_KERNEL(device, index_select, t.dtype(), src.data_ptr(), idx.data_ptr<int64_t>(),
            out.data_ptr(), s.outer, s.size, idx.numel(), s.inner);
  return out;
}

}  // namespace

Tensor index_select(const Tensor& t, int64_t dim, const Tensor& index) {
  return select_along(t, dim, index, "index_select");
}

Tensor index_select_or_zeros(const Tensor& t, int64_t dim, const Tensor& index) {
  return select_along(t, dim, index, "index_select_or_zeros", /*size_means_zeros=*/true);
}

Tensor embedding(const Tensor& weight, const Tensor& indices) {
  detail::check_defined(weight, "embedding");
  check_index_tensor(indices, "embedding");
  TS_CHECK(weight.dim() == 2, "embedding: weight must be 2-D [num_embeddings, dim], got ",
           detail::describe(weight));
  Shape out_shape = indices.shape();
  out_shape.push_back(weight.shape()[1]);
  return reshape(select_along(weight, 0, reshape(indices, {-1}), "embedding"), out_shape);
}

namespace {

// index_add of a tensor t of `shape` and `dtype` (t itself checked by the
// caller), with `start` giving the values the sums start from: t's values
// (a copy) or zeros, made in t's compute dtype once the checks pass.
template <class Start>
Tensor index_add_from(const Shape& shape, DType dtype, int64_t dim, const Tensor& index,
                      const Tensor& source, const Scalar& alpha, const Start& start) {
  const char* op = "index_add";
  detail::check_defined(source, op);
  check_index_tensor(index, op);
  TS_CHECK(index.dim() <= 1, op, ": index must be 0-d or 1-d, got ", detail::describe(index));
  TS_CHECK(source.dtype() == dtype, op, ": source ", detail::describe(source),
           " must have the dtype of the input ", shape, " ", dtype_name(dtype));
  const int64_t rank = static_cast<int64_t>(shape.size());
  const int64_t d = detail::wrap_dim(dim, rank, op);
  Shape expected = shape;
  if (rank > 0) expected[d] = index.numel();
  TS_CHECK(source.shape() == expected, op, ": source shape ", source.shape(),
           " does not match the input shape ", shape, " with dim ", d, " of size ", index.numel());
  const OuterInner s = split_at(rank == 0 ? Shape{1} : shape, d);
  const Tensor idx = contiguous(index);
  check_index_range(idx, s.size, op, shape);
  const DType compute = detail::compute_dtype(dtype);
  TS_CHECK(is_floating(compute) || !alpha.is_floating(), op, ": alpha ", alpha,
           " is a float but the input has dtype ", dtype_name(dtype));
  Tensor out = start(compute);
  const Tensor src = contiguous(to_dtype(source, compute));
  TS_KERNEL(source.device(), index_add, compute, out.data_ptr(), idx.data_ptr<int64_t>(),
            src.data_ptr(), detail::kernel_scalar(alpha, compute, op), s.outer, s.size, idx.numel(),
            s.inner);
  return detail::finish_result(out, dtype);
}

}  // namespace

Tensor index_add(const Tensor& t, int64_t dim, const Tensor& index, const Tensor& source,
                 const Scalar& alpha) {
  detail::check_defined(t, "index_add");
  detail::common_device("index_add", {&t, &source, &index});
  return index_add_from(t.shape(), t.dtype(), dim, index, source, alpha,
                        [&](DType compute) { return clone(to_dtype(t, compute)); });
}

Tensor index_add_to_zeros(const Shape& shape, DType dtype, int64_t dim, const Tensor& index,
                          const Tensor& source) {
  detail::common_device("index_add", {&source, &index});
  return index_add_from(shape, dtype, dim, index, source, 1, [&](DType compute) {
    return zeros(shape, TensorOptions(compute).device(source.device()));
  });
}

Tensor gather(const Tensor& t, int64_t dim, const Tensor& index) {
  const char* op = "gather";
  check_index_tensor(index, op);
  const Device device = detail::common_device(op, {&t, &index});
  const int64_t d = detail::wrap_dim(dim, t.dim(), op);
  check_gather_shapes(t, index, d, nullptr, op);
  check_index_range(index, t.dim() == 0 ? 1 : t.shape()[d], op, t.shape());
  Tensor out = detail::make_tensor(index.shape(), t.dtype(), device);
  if (out.numel() == 0) return out;
  const auto g = index_geometry(index, t, out, d, op);
  TS_KERNEL(device, gather, t.dtype(), g, t.data_ptr(), index.data_ptr<int64_t>(), out.data_ptr(),
            out.numel());
  return out;
}

Tensor scatter_add(const Tensor& t, int64_t dim, const Tensor& index, const Tensor& src) {
  const char* op = "scatter_add";
  detail::check_defined(src, op);
  check_index_tensor(index, op);
  const Device device = detail::common_device(op, {&t, &src, &index});
  TS_CHECK(src.dtype() == t.dtype(), op, ": src ", detail::describe(src),
           " must have the dtype of the input ", detail::describe(t));
  const int64_t d = detail::wrap_dim(dim, t.dim(), op);
  TS_CHECK(src.dim() == t.dim(), op, ": src ", detail::describe(src),
           " must have as many dims as the input ", detail::describe(t));
  check_gather_shapes(t, index, d, &src, op);
  check_index_range(index, t.dim() == 0 ? 1 : t.shape()[d], op, t.shape());
  const DType compute = detail::compute_dtype(t.dtype());
  Tensor out = clone(to_dtype(t, compute));
  const Tensor source = to_dtype(src, compute);
  if (index.numel() == 0) return detail::finish_result(out, t.dtype());
  const auto g = index_geometry(index, out, source, d, op);
  TS_KERNEL(device, scatter_add, compute, g, out.data_ptr(), index.data_ptr<int64_t>(),
            source.data_ptr(), index.numel());
  return detail::finish_result(out, t.dtype());
}

Tensor one_hot(const Tensor& indices, int64_t num_classes) {
  const char* op = "one_hot";
  check_index_tensor(indices, op);
  // Written on the host, then moved to the indices' device.
  const Tensor idx = to_device(contiguous(indices), kCPU);
  TS_CHECK(num_classes >= -1, op,
           ": num_classes must be -1 (inferred from the indices) or >= 0, got ", num_classes);
  if (num_classes == -1) {
    TS_CHECK(idx.numel() > 0, op, ": cannot infer num_classes from an empty tensor");
    const int64_t top = max(idx).item<int64_t>();
    TS_CHECK(top < std::numeric_limits<int64_t>::max(), op, ": index ", top,
             " is too large to infer num_classes from");
    num_classes = top + 1;
  }
  check_index_range(idx, num_classes, op, indices.shape());
  Shape shape = indices.shape();
  shape.push_back(num_classes);
  Tensor out = zeros(shape, DType::Int64);
  const int64_t* in = idx.data_ptr<int64_t>();
  int64_t* o = out.data_ptr<int64_t>();
  for (int64_t i = 0; i < idx.numel(); ++i) o[i * num_classes + in[i]] = 1;
  return to_device(out, indices.device());
}

Tensor hashed_bigrams(const Tensor& ids, int64_t buckets, int64_t padding_idx) {
  const char* op = "hashed_bigrams";
  check_index_tensor(ids, op);
  TS_CHECK(ids.dim() >= 1, op, ": ids must have a sequence dim, got ", detail::describe(ids));
  TS_CHECK(buckets >= 2, op, ": buckets must be at least 2 (0 is padding), got ", buckets);
  const Tensor in = contiguous(ids);
  Tensor out = detail::make_tensor(ids.shape(), DType::Int64, ids.device(), op);
  const int64_t cols = ids.shape().back();
  TS_KERNEL(ids.device(), hashed_bigrams, in.data_ptr<int64_t>(), out.data_ptr<int64_t>(),
            cols == 0 ? 0 : in.numel() / cols, cols, buckets, padding_idx);
  return out;
}

}  // namespace toadstool::native
