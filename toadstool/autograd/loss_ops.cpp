// The loss ops with their derivatives (docs/losses.md): cross_entropy and
// binary_cross_entropy_with_logits record one node each; nll_loss and
// mse_loss are composites of other differentiable ops.
#include "toadstool/autograd/autocast.h"
#include "toadstool/autograd/ops.h"
#include "toadstool/autograd/record.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool {

using autograd::Grads;
using autograd::needs_grad;
using autograd::Op;
using autograd::record;
using autograd::SavedTensor;

namespace {

// PyTorch does not differentiate a loss's weights; refuse rather than
// silently leave their gradient empty.
void check_no_weight_grad(const Tensor& weight, const char* name, const char* op) {
  TS_CHECK(!(autograd::is_grad_enabled() && weight.defined() && weight.requires_grad()), op, ": ",
           name, " requires grad, but the gradient with respect to ", name,
           " is not implemented (as in PyTorch); detach it");
}

Tensor reduce(const Tensor& losses, Reduction reduction) {
  switch (reduction) {
    case Reduction::none: return losses;
    case Reduction::sum: return sum(losses);
    case Reduction::mean: return mean(losses);
  }
  return losses;
}

// softplus(-x) = log(1 + exp(-x)) = max(-x, 0) + log1p(exp(-|x|)): no
// overflow for any x, and no cancellation for large |x|.
Tensor softplus_neg(const Tensor& x) {
  return native::add(native::relu(native::neg(x)),
                     native::log1p(native::exp(native::neg(native::abs(x)))));
}

// `t` (weight or pos_weight) must be undefined, or of input's dtype and
// broadcastable to input's shape without growing it.
void check_broadcasts_to(const Tensor& t, const Tensor& input, const char* name, const char* op) {
  if (!t.defined()) return;
  detail::common_device(op, {&input, &t});
  TS_CHECK(t.dtype() == input.dtype(), op, ": ", name, " ", detail::describe(t),
           " must have the input's dtype, input is ", detail::describe(input));
  // NumPy rules, aligned at the last dim: each of t's dims is 1 or input's.
  bool fits = t.dim() <= input.dim();
  for (int64_t d = 1; fits && d <= t.dim(); ++d) {
    const int64_t size = t.size(t.dim() - d);
    fits = size == 1 || size == input.size(input.dim() - d);
  }
  TS_CHECK(fits, op, ": ", name, " ", detail::describe(t), " does not broadcast to the input ",
           detail::describe(input));
}

// input and target of an element-wise loss: floating, same dtype, same shape.
void check_same(const Tensor& input, const Tensor& target, const char* op) {
  detail::check_defined(target, op);
  detail::common_device(op, {&input, &target});
  TS_CHECK(is_floating(input.dtype()) && target.dtype() == input.dtype(), op,
           ": expected floating input and target of one dtype, got input ", detail::describe(input),
           " and target ", detail::describe(target));
  TS_CHECK(input.shape() == target.shape(), op, ": target ", detail::describe(target),
           " must have the input's shape, input is ", detail::describe(input));
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target,
                     const CrossEntropyOptions& options) {
  if (autocast::casts(autocast::Op::cross_entropy, logits))
    return cross_entropy(autocast::input(autocast::Op::cross_entropy, logits), target, options);
  check_no_weight_grad(options.weight, "weight", "cross_entropy");
  if (!needs_grad(logits)) return native::cross_entropy(logits, target, options);
  // The forward keeps each line's log-sum-exp; the backward recomputes
  // softmax from it and the logits instead of saving a [N, C] softmax.
  native::CrossEntropyForward forward = native::cross_entropy_forward(logits, target, options);
  Tensor out = forward.loss;
  record(
      Op::cross_entropy, out, {logits},
      [logits = SavedTensor(logits), target = SavedTensor(target),
       weight = SavedTensor(options.weight), lse = SavedTensor(forward.lse), options,
       a = forward.nll_scale, b = forward.smooth_scale](const Tensor& g) -> Grads {
        CrossEntropyOptions o = options;
        o.weight = weight.get();
        return {native::cross_entropy_backward(g, logits.get(), target.get(), lse.get(), o, a, b)};
      });
  return out;
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const NLLLossOptions& options) {
  if (autocast::casts(autocast::Op::nll_loss, log_probs))
    return nll_loss(autocast::input(autocast::Op::nll_loss, log_probs), target, options);
  const char* op = "nll_loss";
  check_no_weight_grad(options.weight, "weight", op);
  const double denominator =
      native::check_class_targets(log_probs, target, options.weight, options.ignore_index, op);
  // [C] with a 0-d target is one line: [1, C] with [1].
  const bool single = log_probs.dim() == 1;
  const Tensor input = single ? unsqueeze(log_probs, 0) : log_probs;  // [N, C, d...]
  const Tensor t = single ? native::reshape(target, {1}) : target;    // [N, d...]
  // Ignored targets read class 0 and are masked out afterwards.
  const Tensor ignored = native::eq(t, options.ignore_index);
  const Tensor safe = native::masked_fill(t, ignored, 0);
  const Tensor picked = squeeze(gather(input, 1, native::unsqueeze(safe, 1)), 1);  // [N, d...]
  Tensor losses = neg(picked);
  if (options.weight.defined()) {
    const Tensor w = native::reshape(native::index_select(options.weight, 0, native::flatten(safe)),
                                     safe.shape());
    losses = mul(losses, w);
  }
  losses = masked_fill(losses, ignored, 0.0);
  switch (options.reduction) {
    case Reduction::none: return reshape(losses, target.shape());
    case Reduction::sum: return sum(losses);
    case Reduction::mean:
      // The weighted mean: over the weights of the targets not ignored.
      return div(sum(losses), denominator);
  }
  return losses;
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const BCEWithLogitsOptions& options) {
  if (autocast::casts(autocast::Op::binary_cross_entropy_with_logits, input, target))
    return binary_cross_entropy_with_logits(
        autocast::input(autocast::Op::binary_cross_entropy_with_logits, input),
        autocast::input(autocast::Op::binary_cross_entropy_with_logits, target), options);
  const char* op = "binary_cross_entropy_with_logits";
  check_same(input, target, op);
  check_broadcasts_to(options.weight, input, "weight", op);
  check_broadcasts_to(options.pos_weight, input, "pos_weight", op);
  check_no_weight_grad(options.weight, "weight", op);
  check_no_weight_grad(options.pos_weight, "pos_weight", op);
  // loss = (1 - y) x + lw softplus(-x), lw = 1 + (pos_weight - 1) y, times weight.
  const Tensor sp = softplus_neg(input);
  const Tensor lw = options.pos_weight.defined()
                        ? native::add(native::mul(native::sub(options.pos_weight, 1), target), 1)
                        : Tensor();
  Tensor losses = native::add(native::mul(native::rsub(target, 1), input),
                              lw.defined() ? native::mul(lw, sp) : sp);
  if (options.weight.defined()) losses = native::mul(losses, options.weight);
  Tensor out;
  {
    NoGradGuard no_grad;  // the reduction is part of this op's one node
    out = reduce(losses, options.reduction);
  }
  if (needs_grad(input, target)) {
    // d/dx = (1 - y) - lw sigmoid(-x)  (= sigmoid(x) - y without pos_weight)
    // d/dy = -x + (pos_weight - 1) softplus(-x), both times weight and the
    // incoming gradient. Written directly (not through abs and relu, whose
    // kinks would give a wrong gradient at x = 0).
    record(Op::binary_cross_entropy_with_logits, out, {input, target},
           [x = SavedTensor(input), y = SavedTensor(target), weight = SavedTensor(options.weight),
            pos_weight = SavedTensor(options.pos_weight), reduction = options.reduction,
            need_x = input.requires_grad(),
            need_y = target.requires_grad()](const Tensor& g) -> Grads {
             const Tensor& xv = x.get();
             const Tensor& yv = y.get();
             Tensor ge = g;  // the gradient of each element's loss
             if (reduction != Reduction::none) {
               ge = expand(
                   reduction == Reduction::mean ? div(g, static_cast<double>(xv.numel())) : g,
                   xv.shape());
             }
             if (weight.get().defined()) ge = mul(ge, weight.get());
             const Tensor& pw = pos_weight.get();
             Tensor gx, gy;
             if (need_x) {
               const Tensor s = sigmoid(neg(xv));
               const Tensor lw = pw.defined() ? add(mul(sub(pw, 1), yv), 1) : Tensor();
               gx = mul(ge, sub(rsub(yv, 1), lw.defined() ? mul(lw, s) : s));
             }
             if (need_y) {
               const Tensor d = pw.defined() ? sub(mul(sub(pw, 1), softplus_neg(xv)), xv) : neg(xv);
               gy = mul(ge, d);
             }
             return {gx, gy};
           });
  }
  return out;
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  if (autocast::casts(autocast::Op::mse_loss, input, target))
    return mse_loss(autocast::input(autocast::Op::mse_loss, input),
                    autocast::input(autocast::Op::mse_loss, target), reduction);
  check_same(input, target, "mse_loss");
  const Tensor diff = sub(input, target);
  return reduce(mul(diff, diff), reduction);
}

}  // namespace toadstool
