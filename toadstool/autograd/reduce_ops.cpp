// Reductions with their derivatives. The gradient of a reduced output is
// spread back over the input by `unreduce`: the reduced dims re-inserted as
// size 1 and expanded (a broadcast view, not a copy).
#include <utility>

#include "toadstool/autograd/autocast.h"
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
using autograd::Saves;

namespace {

// t, once checked: an undefined input is an Error naming the op (this is
// built beside the native op, in an unspecified order, and reads the shape).
const Tensor& defined(const Tensor& t, const char* op) {
  detail::check_defined(t, op);
  return t;
}

// What a backward needs to know about the reduction: the input's shape, the
// reduced dims (wrapped, sorted; all dims when none are given) and keepdim.
struct ReducedDims {
  Shape input_shape;
  std::vector<int64_t> dims;
  bool keepdim;

  ReducedDims(const Tensor& t, const Shape& dims_arg, bool keep, const char* op)
      : input_shape(defined(t, op).shape()),
        dims(detail::reduction_dims(dims_arg, t.dim(), op)),
        keepdim(keep) {}

  // A reduced tensor (keepdim or not) as [input shape with reduced dims = 1].
  Tensor kept(const Tensor& r) const {
    if (keepdim) return r;
    Tensor out = r;
    for (int64_t d : dims) out = unsqueeze(out, d);
    return out;
  }
  // A reduced tensor broadcast back over the input's shape.
  Tensor unreduce(const Tensor& r) const { return expand(kept(r), input_shape); }
  // How many input elements each output element folds.
  int64_t count() const {
    int64_t n = 1;
    for (int64_t d : dims) n *= input_shape[d];
    return n;
  }
};

// The gradient of a reduction, `derivative(g, reduction, x, y)`, with the
// input x and output y saved only as `saves` says (the other is undefined).
template <class Derivative>
Tensor reduced(Op op, Tensor out, const Tensor& t, ReducedDims reduction, Saves saves,
               Derivative derivative) {
  if (needs_grad(t)) {
    record(op, out, {t},
           [r = std::move(reduction), x = SavedTensor(saves_input(saves) ? t : Tensor()),
            y = SavedTensor(saves_output(saves) ? out : Tensor()),
            derivative](const Tensor& g) -> Grads { return {derivative(g, r, x.get(), y.get())}; });
  }
  return out;
}

// amax / amin and full max / min: the gradient shared evenly among the
// elements equal to the extremum (as PyTorch).
Tensor evenly_to_extremum(const Tensor& g, const ReducedDims& r, const Tensor& x, const Tensor& y) {
  const Tensor chosen = x == r.unreduce(y);
  const Tensor ties = sum(chosen, r.dims, /*keepdim=*/true);
  return where(chosen, r.unreduce(g) / expand(ties, r.input_shape), 0);
}

}  // namespace

Tensor sum(const Tensor& t, const Shape& dims, bool keepdim) {
  if (autocast::casts(autocast::Op::sum, t))
    return sum(autocast::input(autocast::Op::sum, t), dims, keepdim);
  return reduced(Op::sum, native::sum(t, dims, keepdim), t, ReducedDims(t, dims, keepdim, "sum"),
                 Saves::nothing,
                 [](const Tensor& g, const ReducedDims& r, const Tensor&, const Tensor&) {
                   return r.unreduce(g);
                 });
}

Tensor mean(const Tensor& t, const Shape& dims, bool keepdim) {
  return reduced(Op::mean, native::mean(t, dims, keepdim), t, ReducedDims(t, dims, keepdim, "mean"),
                 Saves::nothing,
                 [](const Tensor& g, const ReducedDims& r, const Tensor&, const Tensor&) {
                   return r.unreduce(g / static_cast<double>(r.count()));
                 });
}

Tensor prod(const Tensor& t, const Shape& dims, bool keepdim) {
  // d/dx_i = product of the others: y / x_i where x_i != 0. Where x_i == 0
  // that is the product of the non-zero elements if x_i is the only zero of
  // its slice, else 0.
  return reduced(
      Op::prod, native::prod(t, dims, keepdim), t, ReducedDims(t, dims, keepdim, "prod"),
      Saves::both, [](const Tensor& g, const ReducedDims& r, const Tensor& x, const Tensor& y) {
        const Tensor is_zero = x == 0;
        const Tensor g_all = r.unreduce(g);
        const Tensor nonzero_prod = prod(masked_fill(x, is_zero, 1.0), r.dims, true);
        const Tensor one_zero = sum(is_zero, r.dims, true) == 1;
        const Tensor at_zero = g_all * expand(where(one_zero, nonzero_prod, 0.0), r.input_shape);
        return where(is_zero, at_zero, g_all * r.unreduce(y) / x);
      });
}

Tensor amax(const Tensor& t, const Shape& dims, bool keepdim) {
  return reduced(Op::amax, native::amax(t, dims, keepdim), t, ReducedDims(t, dims, keepdim, "amax"),
                 Saves::both, evenly_to_extremum);
}
Tensor amin(const Tensor& t, const Shape& dims, bool keepdim) {
  return reduced(Op::amin, native::amin(t, dims, keepdim), t, ReducedDims(t, dims, keepdim, "amin"),
                 Saves::both, evenly_to_extremum);
}
Tensor max(const Tensor& t) {
  return reduced(Op::max, native::max(t), t, ReducedDims(t, {}, false, "max"), Saves::both,
                 evenly_to_extremum);
}
Tensor min(const Tensor& t) {
  return reduced(Op::min, native::min(t), t, ReducedDims(t, {}, false, "min"), Saves::both,
                 evenly_to_extremum);
}

Tensor var(const Tensor& t, const Shape& dims, int64_t correction, bool keepdim) {
  // d var / dx_i = 2 (x_i - mean) / (N - correction).
  return reduced(
      Op::var, native::var(t, dims, correction, keepdim), t, ReducedDims(t, dims, keepdim, "var"),
      Saves::input,
      [correction](const Tensor& g, const ReducedDims& r, const Tensor& x, const Tensor&) {
        const double n = static_cast<double>(r.count() - correction);
        return r.unreduce(g) * (x - mean(x, r.dims, true)) * (2.0 / n);
      });
}

Tensor std(const Tensor& t, const Shape& dims, int64_t correction, bool keepdim) {
  // d std / dx_i = (x_i - mean) / ((N - correction) std).
  return reduced(
      Op::std, native::std(t, dims, correction, keepdim), t, ReducedDims(t, dims, keepdim, "std"),
      Saves::both,
      [correction](const Tensor& g, const ReducedDims& r, const Tensor& x, const Tensor& y) {
        const double n = static_cast<double>(r.count() - correction);
        return r.unreduce(g / y) * (x - mean(x, r.dims, true)) * (1.0 / n);
      });
}

Tensor logsumexp(const Tensor& t, const Shape& dims, bool keepdim) {
  if (autocast::casts(autocast::Op::logsumexp, t))
    return logsumexp(autocast::input(autocast::Op::logsumexp, t), dims, keepdim);
  // d/dx_i = exp(x_i - logsumexp) = softmax over the reduced dims.
  return reduced(Op::logsumexp, native::logsumexp(t, dims, keepdim), t,
                 ReducedDims(t, dims, keepdim, "logsumexp"), Saves::both,
                 [](const Tensor& g, const ReducedDims& r, const Tensor& x, const Tensor& y) {
                   return r.unreduce(g) * exp(x - r.unreduce(y));
                 });
}

namespace {

// max / min along a dim: the gradient goes to the element whose index was
// returned.
std::pair<Tensor, Tensor> indexed_extremum(Op op, std::pair<Tensor, Tensor> result, const Tensor& t,
                                           int64_t dim, bool keepdim) {
  auto& [values, indices] = result;
  if (needs_grad(t)) {
    const int64_t d =
        t.dim() == 0 ? 0 : detail::wrap_dim(dim, t.dim(), op == Op::max_dim ? "max" : "min");
    record(op, values, {t},
           [shape = t.shape(), dtype = t.dtype(), d, keepdim,
            indices = SavedTensor(indices)](const Tensor& g) -> Grads {
             if (shape.empty()) return {g};
             const Tensor index = keepdim ? indices.get() : unsqueeze(indices.get(), d);
             const Tensor grad = keepdim ? g : unsqueeze(g, d);
             return {scatter_add(zeros(shape, TensorOptions(dtype).device(g.device())), d, index,
                                 grad)};
           });
  }
  return result;
}

}  // namespace

std::pair<Tensor, Tensor> max(const Tensor& t, int64_t dim, bool keepdim) {
  return indexed_extremum(Op::max_dim, native::max(t, dim, keepdim), t, dim, keepdim);
}
std::pair<Tensor, Tensor> min(const Tensor& t, int64_t dim, bool keepdim) {
  return indexed_extremum(Op::min_dim, native::min(t, dim, keepdim), t, dim, keepdim);
}

}  // namespace toadstool
