// Indexing, joining and splitting, with their derivatives.
#include "toadstool/autograd/ops.h"
#include "toadstool/autograd/record.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool {

using autograd::Grads;
using autograd::needs_grad;
using autograd::Op;
using autograd::record;
using autograd::SavedTensor;

Tensor index_select(const Tensor& t, int64_t dim, const Tensor& index) {
  Tensor out = native::index_select(t, dim, index);
  if (needs_grad(t)) {
    // Each selected slice's gradient is added back at its index.
    record(Op::index_select, out, {t},
           [shape = t.shape(), dtype = t.dtype(), dim,
            index = SavedTensor(index)](const Tensor& g) -> Grads {
             return {native::index_add_to_zeros(shape, dtype, dim, index.get(), contiguous(g))};
           });
  }
  return out;
}

namespace {

void check_rows(const Tensor& t, int64_t rows, const Tensor& index, const Tensor& inverse,
                const char* op) {
  detail::check_defined(t, op);
  TS_CHECK(index.dim() == 1 && inverse.dim() == 1 && index.numel() <= inverse.numel(), op,
           ": expected index [N] and inverse [R] with N <= R, got ", detail::describe(index),
           " and ", detail::describe(inverse));
  TS_CHECK(t.dim() == 2 && t.size(0) == rows, op, ": expected [", rows, ", C], got ",
           detail::describe(t));
}

// t [R, C] -> [N, C]
Tensor pack_rows_native(const Tensor& t, const Tensor& index) {
  return native::index_select(t, 0, index);
}

// s [N, C] -> [R, C]: the rows inverse picks, zeros where it says N.
Tensor unpack_rows_native(const Tensor& s, const Tensor& inverse) {
  return native::index_select_or_zeros(s, 0, inverse);
}

}  // namespace

Tensor pack_rows(const Tensor& t, const Tensor& index, const Tensor& inverse) {
  check_rows(t, inverse.numel(), index, inverse, "pack_rows");
  Tensor out = pack_rows_native(t, index);
  if (needs_grad(t)) {
    record(Op::pack_rows, out, {t}, [inverse = SavedTensor(inverse)](const Tensor& g) -> Grads {
      return {unpack_rows_native(g, inverse.get())};
    });
  }
  return out;
}

Tensor unpack_rows(const Tensor& s, const Tensor& index, const Tensor& inverse) {
  check_rows(s, index.numel(), index, inverse, "unpack_rows");
  Tensor out = unpack_rows_native(s, inverse);
  if (needs_grad(s)) {
    record(Op::unpack_rows, out, {s}, [index = SavedTensor(index)](const Tensor& g) -> Grads {
      return {pack_rows_native(g, index.get())};
    });
  }
  return out;
}

Tensor gather(const Tensor& t, int64_t dim, const Tensor& index) {
  Tensor out = native::gather(t, dim, index);
  if (needs_grad(t)) {
    record(Op::gather, out, {t},
           [shape = t.shape(), dtype = t.dtype(), dim,
            index = SavedTensor(index)](const Tensor& g) -> Grads {
             return {scatter_add(zeros(shape, TensorOptions(dtype).device(g.device())), dim,
                                 index.get(), g)};
           });
  }
  return out;
}

Tensor scatter_add(const Tensor& t, int64_t dim, const Tensor& index, const Tensor& src) {
  Tensor out = native::scatter_add(t, dim, index, src);
  if (needs_grad(t, src)) {
    // out = t + scattered src: t's gradient passes through, src's is read back
    // from where it went.
    record(Op::scatter_add, out, {t, src},
           [dim, index = SavedTensor(index)](const Tensor& g) -> Grads {
             return {g, gather(g, dim, index.get())};
           });
  }
  return out;
}

Tensor index_add(const Tensor& t, int64_t dim, const Tensor& index, const Tensor& source,
                 const Scalar& alpha) {
  Tensor out = native::index_add(t, dim, index, source, alpha);
  if (needs_grad(t, source)) {
    record(Op::index_add, out, {t, source},
           [dim, alpha, index = SavedTensor(index)](const Tensor& g) -> Grads {
             return {g, index_select(g, dim, index.get()) * alpha};
           });
  }
  return out;
}

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  Tensor out = native::cat(tensors, dim);
  if (needs_grad(tensors)) {
    // Input i's gradient is its slab of the output's: [offset_i, offset_i + size_i).
    const int64_t d = detail::wrap_dim(dim, out.dim(), "cat");
    std::vector<int64_t> sizes;  // -1: a legacy empty 1-D input that cat skipped
    sizes.reserve(tensors.size());
    for (const Tensor& t : tensors) {
      sizes.push_back(t.dim() == 1 && t.numel() == 0 && out.dim() != 1 ? -1 : t.size(d));
    }
    record(Op::cat, out, tensors, [d, sizes](const Tensor& g) -> Grads {
      Grads grads;
      int64_t offset = 0;
      for (int64_t size : sizes) {
        grads.push_back(size < 0 ? Tensor() : narrow(g, d, offset, size));
        offset += std::max<int64_t>(size, 0);
      }
      return grads;
    });
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  Tensor out = native::stack(tensors, dim);
  if (needs_grad(tensors)) {
    const int64_t d = detail::wrap_dim(dim, out.dim(), "stack");
    record(Op::stack, out, tensors, [d, n = tensors.size()](const Tensor& g) -> Grads {
      Grads grads;
      for (size_t i = 0; i < n; ++i) grads.push_back(select(g, d, static_cast<int64_t>(i)));
      return grads;
    });
  }
  return out;
}

namespace {

// split / chunk: the pieces as differentiable narrows of t when t needs grad.
std::vector<Tensor> pieces_of(const Tensor& t, std::vector<Tensor> pieces, int64_t dim) {
  if (!needs_grad(t)) return pieces;
  const int64_t d = detail::wrap_dim(dim, t.dim(), "split");
  int64_t start = 0;
  for (Tensor& piece : pieces) {
    const int64_t size = piece.size(d);
    piece = narrow(t, d, start, size);
    start += size;
  }
  return pieces;
}

}  // namespace

std::vector<Tensor> split(const Tensor& t, int64_t split_size, int64_t dim) {
  return pieces_of(t, native::split(t, split_size, dim), dim);
}
std::vector<Tensor> split(const Tensor& t, const std::vector<int64_t>& sizes, int64_t dim) {
  return pieces_of(t, native::split(t, sizes, dim), dim);
}
std::vector<Tensor> chunk(const Tensor& t, int64_t chunks, int64_t dim) {
  return pieces_of(t, native::chunk(t, chunks, dim), dim);
}

Tensor tril(const Tensor& t, int64_t diagonal) {
  Tensor out = native::tril(t, diagonal);
  if (needs_grad(t)) {
    record(Op::tril, out, {t},
           [diagonal](const Tensor& g) -> Grads { return {tril(g, diagonal)}; });
  }
  return out;
}

Tensor triu(const Tensor& t, int64_t diagonal) {
  Tensor out = native::triu(t, diagonal);
  if (needs_grad(t)) {
    record(Op::triu, out, {t},
           [diagonal](const Tensor& g) -> Grads { return {triu(g, diagonal)}; });
  }
  return out;
}

}  // namespace toadstool
