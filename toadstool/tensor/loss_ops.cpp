// Loss front-ends: the class-target checks shared by cross_entropy and
// nll_loss, and the fused cross_entropy (the kernel table's cross_entropy
// entries, kernels/backend.h).
#include <cmath>

#include "toadstool/tensor/elementwise.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/kernel_args.h"
#include "toadstool/tensor/native_ops.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool {

const char* reduction_name(Reduction r) {
  switch (r) {
    case Reduction::none: return "none";
    case Reduction::mean: return "mean";
    case Reduction::sum: return "sum";
  }
  return "?";
}

}  // namespace toadstool

namespace toadstool::native {

namespace {

// The logits of a class-index loss as [outer, classes, inner]: [C] is one
// line; [N, C, d1, ...] has outer N, inner d1 * ...
struct ClassLayout {
  int64_t outer = 1, classes = 1, inner = 1;
};

ClassLayout class_layout(const Tensor& input) {
  ClassLayout l;
  if (input.dim() == 1) {
    l.classes = input.size(0);
    return l;
  }
  l.outer = input.size(0);
  l.classes = input.size(1);
  for (int64_t d = 2; d < input.dim(); ++d) l.inner *= input.size(d);
  return l;
}

// sum(v[i]) over n values, in double and a fixed order.
template <class T>
double sum_of(const Tensor& t) {
  const T* p = static_cast<const T*>(t.data_ptr());
  double s = 0;
  for (int64_t i = 0; i < t.numel(); ++i) s += static_cast<double>(p[i]);
  return s;
}

}  // namespace

double check_class_targets(const Tensor& input, const Tensor& target, const Tensor& weight,
                           int64_t ignore_index, const char* op) {
  detail::check_defined(target, op);
  detail::common_device(op, {&input, &target, &weight});
  TS_CHECK(is_floating(input.dtype()), op, ": expected floating input, got ",
           detail::describe(input));
  TS_CHECK(input.dim() >= 1, op, ": expected input [C], [N, C] or [N, C, d1, ...], got ",
           detail::describe(input));
  TS_CHECK(target.dtype() == DType::Int64, op, ": expected int64 class-index targets, got target ",
           detail::describe(target), " (class-probability targets are not supported)");
  Shape expected = input.shape();
  expected.erase(expected.begin() + (input.dim() == 1 ? 0 : 1));
  TS_CHECK(target.shape() == expected, op, ": target ", detail::describe(target),
           " does not match input ", detail::describe(input), "; expected a target of shape ",
           expected);
  const int64_t classes = input.dim() == 1 ? input.size(0) : input.size(1);
  if (weight.defined()) {
    TS_CHECK(weight.dim() == 1 && weight.size(0) == classes && weight.dtype() == input.dtype(), op,
             ": weight must be [", classes, "] ", dtype_name(input.dtype()),
             " (one per class of input ", detail::describe(input), "), got ",
             detail::describe(weight));
  }
  // Every target is checked here, on the host, before any kernel runs
  // (kernels never throw).
  const Tensor t = to_device(contiguous(target), kCPU);
  const int64_t* tp = t.data_ptr<int64_t>();
  const Tensor w =
      weight.defined() ? contiguous_as(to_device(weight, kCPU), DType::Float64) : Tensor();
  const auto* wp = static_cast<const double*>(ptr_or_null(w));
  double total = 0;
  for (int64_t i = 0; i < t.numel(); ++i) {
    const int64_t v = tp[i];
    if (v == ignore_index) continue;
    TS_CHECK(v >= 0 && v < classes, op, ": target ", v, " is out of bounds for ", classes,
             " classes (valid: 0 to ", classes - 1, ", or ignore_index ", ignore_index, ")");
    total += wp != nullptr ? wp[v] : 1.0;
  }
  return total;
}

CrossEntropyForward cross_entropy_forward(const Tensor& logits, const Tensor& target,
                                          const CrossEntropyOptions& options) {
  const char* op = "cross_entropy";
  const double eps = options.label_smoothing;
  TS_CHECK(eps >= 0 && eps <= 1, op, ": label_smoothing must be in [0, 1], got ", eps);
  const double denominator =
      check_class_targets(logits, target, options.weight, options.ignore_index, op);
  const ClassLayout l = class_layout(logits);
  const int64_t lines = l.outer * l.inner;
  const DType compute = detail::compute_dtype(logits.dtype());
  const Tensor x = contiguous_as(logits, compute);
  const Tensor t = contiguous(target);
  const Tensor w = contiguous_as(options.weight, compute);
  CrossEntropyForward result;
  const Device device = logits.device();
  result.lse = detail::make_tensor({lines}, compute, device);
  Tensor nll = detail::make_tensor({lines}, compute, device);
  Tensor smooth = eps > 0 ? detail::make_tensor({lines}, compute, device) : Tensor();
  TS_KERNEL(device, cross_entropy_forward, compute, x.data_ptr(), t.data_ptr<int64_t>(),
            ptr_or_null(w), l.outer, l.classes, l.inner, options.ignore_index,
            result.lse.data_ptr(), nll.data_ptr(), mutable_ptr_or_null(smooth));
  // loss = (1 - eps) * nll + (eps / C) * smooth per line (torch 1.13's
  // cross_entropy_loss_label_smoothing). The mean divides both parts by the
  // weight of the targets that are not ignored (their count when unweighted).
  double a = 1 - eps, b = eps / static_cast<double>(l.classes);
  if (options.reduction == Reduction::mean) {
    a /= denominator;
    b /= denominator;
  }
  result.nll_scale = a;
  result.smooth_scale = b;
  if (options.reduction == Reduction::none) {
    const Tensor loss = eps > 0 ? add(mul(nll, a), smooth, b) : nll;  // [lines]
    result.loss = detail::finish_result(reshape(loss, target.shape()), logits.dtype());
    return result;
  }
  double total = 0;
  dispatch_float(compute, op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    // 0 * anything is 0 here: with no smoothing the smooth part is absent,
    // and the nll part of an empty or all-ignored mean is 0 / 0 = NaN.
    total = a * sum_of<T>(to_device(nll, kCPU)) +
            (smooth.defined() ? b * sum_of<T>(to_device(smooth, kCPU)) : 0.0);
  });
  result.loss =
      detail::finish_result(full({}, total, TensorOptions(compute).device(device)), logits.dtype());
  return result;
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target,
                     const CrossEntropyOptions& options) {
  return cross_entropy_forward(logits, target, options).loss;
}

Tensor cross_entropy_backward(const Tensor& grad, const Tensor& logits, const Tensor& target,
                              const Tensor& lse, const CrossEntropyOptions& options,
                              double nll_scale, double smooth_scale) {
  const char* op = "cross_entropy_backward";
  detail::check_defined(grad, op);
  detail::check_defined(target, op);
  detail::check_defined(lse, op);
  const Device device = detail::common_device(op, {&logits, &grad, &target, &lse, &options.weight});
  const ClassLayout l = class_layout(logits);
  const int64_t lines = l.outer * l.inner;
  const DType compute = detail::compute_dtype(logits.dtype());
  const bool per_line = options.reduction == Reduction::none;
  TS_CHECK(grad.numel() == (per_line ? lines : 1) && target.numel() == lines &&
               lse.numel() == lines && lse.dtype() == compute,
           op, ": gradient ", detail::describe(grad), ", target ", detail::describe(target),
           " and lse ", detail::describe(lse), " do not match logits ", detail::describe(logits));
  const Tensor x = contiguous_as(logits, compute);
  const Tensor t = contiguous(target);
  const Tensor w = contiguous_as(options.weight, compute);
  const Tensor g = contiguous_as(grad, compute);
  const Tensor s = contiguous(lse);
  Tensor grad_x = detail::make_tensor(logits.shape(), compute, device);
  TS_KERNEL(device, cross_entropy_backward, compute, x.data_ptr(), t.data_ptr<int64_t>(),
            ptr_or_null(w), s.data_ptr(), g.data_ptr(), per_line ? 1 : 0, nll_scale, smooth_scale,
            l.outer, l.classes, l.inner, options.ignore_index, grad_x.data_ptr());
  return detail::finish_result(grad_x, logits.dtype());
}

}  // namespace toadstool::native
