// Joining and splitting (cat, stack, split, chunk) and triangles (tril, triu).
#include <algorithm>

#include "toadstool/tensor/dispatch.h"
#include "toadstool/tensor/elementwise.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/native_ops.h"

namespace toadstool::native {

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  TS_CHECK(!tensors.empty(), "cat: expected a non-empty list of tensors");
  // Like PyTorch, 1-D empty tensors are skipped (legacy behaviour users rely on).
  std::vector<Tensor> parts;
  detail::check_defined(tensors.front(), "cat");
  DType dtype = tensors.front().dtype();
  for (const Tensor& t : tensors) {
    detail::check_defined(t, "cat");
    detail::common_device("cat", {&tensors.front(), &t});
    dtype = promote_types(dtype, t.dtype());
    if (!(t.dim() == 1 && t.numel() == 0)) parts.push_back(t);
  }
  const Device device = tensors.front().device();
  if (parts.empty()) return empty({0}, TensorOptions(dtype).device(device));
  const Tensor& first = parts.front();
  TS_CHECK(first.dim() > 0, "cat: zero-dimensional tensors cannot be concatenated");
  const int64_t d = detail::wrap_dim(dim, first.dim(), "cat");
  Shape shape = first.shape();
  shape[d] = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Tensor& t = parts[i];
    TS_CHECK(t.dim() == first.dim(), "cat: tensor ", i, " has shape ", t.shape(),
             " but tensor 0 has shape ", first.shape(), " (different number of dims)");
    for (int64_t k = 0; k < t.dim(); ++k) {
      TS_CHECK(k == d || t.shape()[k] == first.shape()[k], "cat: tensor ", i, " has shape ",
               t.shape(), ", which does not match ", first.shape(), " outside dim ", d);
    }
    shape[d] += t.shape()[d];
  }
  Tensor out = detail::make_tensor(shape, dtype, device);
  int64_t offset = 0;
  for (const Tensor& t : parts) {
    Tensor region = narrow(out, d, offset, t.shape()[d]);
    copy_(region, t);
    offset += t.shape()[d];
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  TS_CHECK(!tensors.empty(), "stack: expected a non-empty list of tensors");
  for (const Tensor& t : tensors) detail::check_defined(t, "stack");
  const Shape& shape = tensors.front().shape();
  const int64_t d = detail::wrap_dim(dim, tensors.front().dim() + 1, "stack");
  std::vector<Tensor> parts;
  for (size_t i = 0; i < tensors.size(); ++i) {
    TS_CHECK(tensors[i].shape() == shape, "stack: tensor ", i, " has shape ", tensors[i].shape(),
             " but tensor 0 has shape ", shape, " (all must match)");
    parts.push_back(unsqueeze(tensors[i], d));
  }
  return cat(parts, d);
}

std::vector<Tensor> split(const Tensor& t, int64_t split_size, int64_t dim) {
  detail::check_defined(t, "split");
  TS_CHECK(t.dim() > 0, "split: cannot split a 0-d tensor");
  const int64_t d = detail::wrap_dim(dim, t.dim(), "split");
  const int64_t size = t.shape()[d];
  TS_CHECK(split_size > 0 || (split_size == 0 && size == 0),
           "split: split_size must be positive, got ", split_size);
  std::vector<Tensor> out;
  if (size == 0) return {t};
  for (int64_t start = 0; start < size; start += split_size) {
    out.push_back(narrow(t, d, start, std::min(split_size, size - start)));
  }
  return out;
}

std::vector<Tensor> split(const Tensor& t, const std::vector<int64_t>& sizes, int64_t dim) {
  detail::check_defined(t, "split");
  TS_CHECK(t.dim() > 0, "split: cannot split a 0-d tensor");
  const int64_t d = detail::wrap_dim(dim, t.dim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    TS_CHECK(s >= 0, "split: negative section size in ", sizes);
    total += s;
  }
  TS_CHECK(total == t.shape()[d], "split: section sizes ", sizes, " sum to ", total, ", but dim ",
           d, " of shape ", t.shape(), " has size ", t.shape()[d]);
  std::vector<Tensor> out;
  int64_t start = 0;
  for (int64_t s : sizes) {
    out.push_back(narrow(t, d, start, s));
    start += s;
  }
  return out;
}

std::vector<Tensor> chunk(const Tensor& t, int64_t chunks, int64_t dim) {
  detail::check_defined(t, "chunk");
  TS_CHECK(chunks > 0, "chunk: number of chunks must be positive, got ", chunks);
  TS_CHECK(t.dim() > 0, "chunk: cannot chunk a 0-d tensor");
  const int64_t size = t.shape()[detail::wrap_dim(dim, t.dim(), "chunk")];
  // As in PyTorch: equal chunks of ceil(size / chunks), so fewer may come back.
  return split(t, std::max<int64_t>((size + chunks - 1) / chunks, size == 0 ? 0 : 1), dim);
}

namespace {

// Zeroes the elements of the last two dims outside the kept triangle:
// lower keeps col - row <= diagonal, upper keeps col - row >= diagonal.
Tensor triangle(const Tensor& t, int64_t diagonal, bool lower, const char* op) {
  detail::check_defined(t, op);
  TS_CHECK(t.dim() >= 2, op, ": expected a tensor with at least 2 dims, got ", detail::describe(t));
  Tensor out = clone(t);  // contiguous
  const int64_t rows = t.shape()[t.dim() - 2], cols = t.shape()[t.dim() - 1];
  const int64_t matrices = rows * cols == 0 ? 0 : out.numel() / (rows * cols);
  TS_KERNEL(t.device(), triangle, out.data_ptr(), out.element_size(), matrices, rows, cols,
            diagonal, lower);
  return out;
}

}  // namespace

Tensor tril(const Tensor& t, int64_t diagonal) { return triangle(t, diagonal, true, "tril"); }
Tensor triu(const Tensor& t, int64_t diagonal) { return triangle(t, diagonal, false, "triu"); }

}  // namespace toadstool::native
