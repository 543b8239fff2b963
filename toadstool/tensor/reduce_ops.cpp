// Reductions over any set of dims, with keepdim.
#include <cmath>
#include <limits>

#include "toadstool/tensor/dispatch.h"
#include "toadstool/tensor/elementwise.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/native_ops.h"

namespace toadstool::native {

namespace {

using kernels::ReduceCall;
using kernels::ReduceGeometry;
using kernels::ReduceKind;

struct ReducePlan {
  ReduceGeometry geometry;
  Shape out_shape;  // keepdim applied
};

// Appends dim d (size, stride) to a list kept innermost first, merging it
// into the previous entry when contiguous with it; size-1 dims are dropped.
void push_dim(int& ndim, std::array<int64_t, kernels::kMaxReduceDims>& sizes,
              std::array<int64_t, kernels::kMaxReduceDims>& strides, int64_t size, int64_t stride,
              const char* op) {
  if (size == 1) return;
  if (ndim > 0 && stride == strides[ndim - 1] * sizes[ndim - 1]) {
    sizes[ndim - 1] *= size;
    return;
  }
  TS_CHECK(ndim < kernels::kMaxReduceDims, op, ": too many non-mergeable dims");
  sizes[ndim] = size;
  strides[ndim] = stride;
  ++ndim;
}

ReducePlan plan_reduction(const Tensor& t, const std::vector<int64_t>& dims, bool keepdim,
                          const char* op) {
  ReducePlan plan;
  ReduceGeometry& g = plan.geometry;
  std::vector<bool> reduced(t.dim(), false);
  for (int64_t d : dims) reduced[d] = true;
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    const int64_t size = t.shape()[d], stride = t.strides()[d];
    if (reduced[d]) {
      push_dim(g.reduced_ndim, g.reduced_sizes, g.reduced_strides, size, stride, op);
      g.reduce_numel *= size;
    } else {
      push_dim(g.kept_ndim, g.kept_sizes, g.kept_strides, size, stride, op);
      g.outputs *= size;
    }
  }
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (!reduced[d])
      plan.out_shape.push_back(t.shape()[d]);
    else if (keepdim)
      plan.out_shape.push_back(1);
  }
  return plan;
}

// Runs call.kind over `t` (already in its compute dtype) into a new tensor
// of dtype `out_dtype`.
Tensor run_reduce(const Tensor& t, const ReducePlan& plan, DType out_dtype, ReduceCall call) {
  Tensor out = detail::make_tensor(plan.out_shape, out_dtype, t.device());
  call.dtype = t.dtype();
  call.geometry = plan.geometry;
  call.in = t.data_ptr();
  call.out = out.data_ptr();
  TS_KERNEL(t.device(), reduce, call);
  return out;
}

// The input converted for computing: 16-bit floats go to float32.
Tensor compute_input(const Tensor& t, const char* op) {
  detail::check_defined(t, op);
  return to_dtype(t, detail::compute_dtype(t.dtype()));
}

void check_nonempty(const Tensor& t, const ReducePlan& plan, const char* op) {
  TS_CHECK(plan.geometry.reduce_numel > 0 || plan.geometry.outputs == 0, op,
           ": cannot reduce over an empty dim of a tensor of shape ", t.shape(),
           " (the operation has no identity)");
}

// sum and prod: bool and int64 give int64, floats keep their dtype. A sum
// of 16-bit floats reads them as they are (no float32 copy first: a
// bias's gradient under autocast) into float32, rounded once.
Tensor sum_like(const Tensor& t, const Shape& dims, bool keepdim, ReduceKind kind, const char* op) {
  detail::check_defined(t, op);
  const bool reads_16bit = kind == ReduceKind::Sum && is_reduced_float(t.dtype());
  const Tensor in = reads_16bit ? t : compute_input(t, op);
  const ReducePlan plan =
      plan_reduction(in, detail::reduction_dims(dims, t.dim(), op), keepdim, op);
  const DType result = is_floating(t.dtype()) ? t.dtype() : DType::Int64;
  const DType out = is_floating(in.dtype()) ? detail::compute_dtype(in.dtype()) : DType::Int64;
  return detail::finish_result(run_reduce(in, plan, out, {.kind = kind}), result);
}

void check_floating(const Tensor& t, const char* op) {
  detail::check_defined(t, op);
  TS_CHECK(is_floating(t.dtype()), op, ": expected a floating tensor, got ", detail::describe(t));
}

template <bool kMax>
Tensor extremum(const Tensor& t, const Shape& dims, bool keepdim, const char* op) {
  const Tensor in = compute_input(t, op);
  const ReducePlan plan =
      plan_reduction(in, detail::reduction_dims(dims, t.dim(), op), keepdim, op);
  check_nonempty(t, plan, op);
  const ReduceCall call{.kind = kMax ? ReduceKind::Max : ReduceKind::Min};
  return detail::finish_result(run_reduce(in, plan, in.dtype(), call), t.dtype());
}

// Values and indices of the extreme element along one dim.
template <bool kMax>
std::pair<Tensor, Tensor> arg_extremum(const Tensor& t, int64_t dim, bool keepdim, const char* op) {
  const Tensor in = compute_input(t, op);
  const int64_t d = detail::wrap_dim(dim, t.dim(), op);
  const ReducePlan plan = plan_reduction(
      in, t.dim() == 0 ? std::vector<int64_t>{} : std::vector<int64_t>{d}, keepdim, op);
  check_nonempty(t, plan, op);
  Tensor indices = detail::make_tensor(plan.out_shape, DType::Int64, t.device());
  ReduceCall call{.kind = kMax ? ReduceKind::ArgMax : ReduceKind::ArgMin};
  call.indices = indices.data_ptr<int64_t>();
  const Tensor values = run_reduce(in, plan, in.dtype(), call);
  return {detail::finish_result(values, t.dtype()), indices};
}

Tensor var_like(const Tensor& t, const Shape& dims, int64_t correction, bool keepdim,
                bool take_sqrt, const char* op) {
  check_floating(t, op);
  const Tensor in = compute_input(t, op);
  const ReducePlan plan =
      plan_reduction(in, detail::reduction_dims(dims, t.dim(), op), keepdim, op);
  const ReduceCall call{.kind = ReduceKind::Var,
                        .correction = static_cast<double>(correction),
                        .take_sqrt = take_sqrt};
  return detail::finish_result(run_reduce(in, plan, in.dtype(), call), t.dtype());
}

// argmax / argmin without a dim: the flat index, as a 0-d tensor or, with
// keepdim, with every dim of the input kept as size 1 (as PyTorch).
Tensor flat_index_result(const Tensor& index, const Tensor& input, bool keepdim) {
  return keepdim ? reshape(index, Shape(input.dim(), 1)) : index;
}

}  // namespace

Tensor sum(const Tensor& t, const Shape& dims, bool keepdim) {
  return sum_like(t, dims, keepdim, ReduceKind::Sum, "sum");
}

Tensor prod(const Tensor& t, const Shape& dims, bool keepdim) {
  return sum_like(t, dims, keepdim, ReduceKind::Prod, "prod");
}

Tensor mean(const Tensor& t, const Shape& dims, bool keepdim) {
  check_floating(t, "mean");
  const Tensor in = compute_input(t, "mean");
  const ReducePlan plan =
      plan_reduction(in, detail::reduction_dims(dims, t.dim(), "mean"), keepdim, "mean");
  // The mean of nothing is NaN, as in PyTorch.
  const double count = static_cast<double>(plan.geometry.reduce_numel);
  const ReduceCall call{
      .kind = ReduceKind::Sum,
      .scale = count > 0 ? 1.0 / count : std::numeric_limits<double>::quiet_NaN()};
  return detail::finish_result(run_reduce(in, plan, in.dtype(), call), t.dtype());
}

Tensor sum_squares(const Tensor& t, const Shape& dims, bool keepdim) {
  check_floating(t, "sum_squares");
  const Tensor in = compute_input(t, "sum_squares");
  const ReducePlan plan = plan_reduction(in, detail::reduction_dims(dims, t.dim(), "sum_squares"),
                                         keepdim, "sum_squares");
  const ReduceCall call{.kind = ReduceKind::SumSquares};
  return detail::finish_result(run_reduce(in, plan, in.dtype(), call), t.dtype());
}

Tensor amax(const Tensor& t, const Shape& dims, bool keepdim) {
  return extremum<true>(t, dims, keepdim, "amax");
}
Tensor amin(const Tensor& t, const Shape& dims, bool keepdim) {
  return extremum<false>(t, dims, keepdim, "amin");
}
Tensor max(const Tensor& t) { return extremum<true>(t, {}, false, "max"); }
Tensor min(const Tensor& t) { return extremum<false>(t, {}, false, "min"); }

Tensor all(const Tensor& t) {
  detail::check_defined(t, "all");
  const Tensor b = t.dtype() == DType::Bool ? t : ne(t, 0);
  return b.numel() == 0 ? scalar_tensor(true) : extremum<false>(b, {}, false, "all");
}
Tensor any(const Tensor& t) {
  detail::check_defined(t, "any");
  const Tensor b = t.dtype() == DType::Bool ? t : ne(t, 0);
  return b.numel() == 0 ? scalar_tensor(false) : extremum<true>(b, {}, false, "any");
}

std::pair<Tensor, Tensor> max(const Tensor& t, int64_t dim, bool keepdim) {
  return arg_extremum<true>(t, dim, keepdim, "max");
}
std::pair<Tensor, Tensor> min(const Tensor& t, int64_t dim, bool keepdim) {
  return arg_extremum<false>(t, dim, keepdim, "min");
}

Tensor argmax(const Tensor& t, std::optional<int64_t> dim, bool keepdim) {
  detail::check_defined(t, "argmax");
  if (!dim)
    return flat_index_result(arg_extremum<true>(reshape(t, {-1}), 0, false, "argmax").second, t,
                             keepdim);
  return arg_extremum<true>(t, *dim, keepdim, "argmax").second;
}
Tensor argmin(const Tensor& t, std::optional<int64_t> dim, bool keepdim) {
  detail::check_defined(t, "argmin");
  if (!dim)
    return flat_index_result(arg_extremum<false>(reshape(t, {-1}), 0, false, "argmin").second, t,
                             keepdim);
  return arg_extremum<false>(t, *dim, keepdim, "argmin").second;
}

Tensor var(const Tensor& t, const Shape& dims, int64_t correction, bool keepdim) {
  return var_like(t, dims, correction, keepdim, false, "var");
}
Tensor std(const Tensor& t, const Shape& dims, int64_t correction, bool keepdim) {
  return var_like(t, dims, correction, keepdim, true, "std");
}

Tensor logsumexp(const Tensor& t, const Shape& dims, bool keepdim) {
  check_floating(t, "logsumexp");
  // max + log(sum(exp(x - max))); an infinite max is replaced by 0 so that
  // rows of -inf give -inf and rows holding +inf give +inf, not NaN.
  Tensor m = amax(t, dims, true);
  m = where(lt(abs(m), std::numeric_limits<double>::infinity()), m, 0.0);
  Tensor out = add(log(sum(exp(sub(t, m)), dims, true)), m);
  if (keepdim) return out;
  const std::vector<int64_t> reduced = detail::reduction_dims(dims, t.dim(), "logsumexp");
  for (auto d = reduced.rbegin(); d != reduced.rend(); ++d) out = squeeze(out, *d);
  return out;
}

}  // namespace toadstool::native
