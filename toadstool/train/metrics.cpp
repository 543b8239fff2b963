#include "toadstool/train/metrics.h"

#include "toadstool/autograd/grad_mode.h"
#include "toadstool/autograd/ops.h"
#include "toadstool/tensor/error.h"

namespace toadstool::train {
namespace {

int64_t count_true(const Tensor& mask) { return mask.to(kInt64).sum().item<int64_t>(); }

double ratio(int64_t numerator, int64_t denominator) {
  return denominator == 0 ? 0.0 : static_cast<double>(numerator) / static_cast<double>(denominator);
}

// y_pred [N] or [N, 1] against N binary labels: the labels as a bool [N].
Tensor binary_targets(const char* op, const Tensor& y_pred, const Tensor& y) {
  TS_CHECK(y.defined() && y.numel() == y_pred.numel() && y.dim() >= 1 && y.dim() <= 2 &&
               y.numel() == y.size(0),
           op, ": binary y must hold one 0/1 label per prediction ([N] or [N, 1]); got y ",
           y.defined() ? y.shape() : Shape{}, " for y_pred ", y_pred.shape());
  const Tensor labels = y.reshape({y.numel()});
  Tensor is_one = labels == Scalar(1);
  TS_CHECK(all(logical_or(is_one, labels == Scalar(0))).item<bool>(), op,
           ": binary labels must be 0 or 1 (y ", y.shape(), ", dtype ", y.dtype(), ")");
  return is_one;
}

void check_predictions(const char* op, const Tensor& y_pred) {
  TS_CHECK(y_pred.defined() && y_pred.dim() >= 1 && y_pred.size(0) > 0, op,
           ": no examples to score (y_pred ", y_pred.defined() ? y_pred.shape() : Shape{}, ")");
  TS_CHECK(y_pred.is_floating_point(), op, ": y_pred must be floating scores, got dtype ",
           y_pred.dtype());
}

bool is_binary_shape(const Tensor& y_pred) {
  return y_pred.dim() == 1 || (y_pred.dim() == 2 && y_pred.size(1) == 1);
}

}  // namespace

BinaryCounts binary_counts(const Tensor& y_pred, const Tensor& y, double threshold,
                           bool from_logits) {
  const NoGradGuard no_grad;
  check_predictions("binary_counts", y_pred);
  TS_CHECK(is_binary_shape(y_pred), "binary_counts: y_pred must be [N] or [N, 1] scores, got ",
           y_pred.shape());
  const Tensor target = binary_targets("binary_counts", y_pred, y);
  const Tensor probability = from_logits ? y_pred.detach().sigmoid() : y_pred.detach();
  const Tensor predicted = probability.reshape({y_pred.numel()}) > Scalar(threshold);
  BinaryCounts counts;
  counts.tp = count_true(logical_and(predicted, target));
  counts.fp = count_true(logical_and(predicted, logical_not(target)));
  counts.fn = count_true(logical_and(logical_not(predicted), target));
  counts.tn = y_pred.numel() - counts.tp - counts.fp - counts.fn;
  return counts;
}

double accuracy(const Tensor& y_pred, const Tensor& y, double threshold, bool from_logits) {
  const NoGradGuard no_grad;
  check_predictions("accuracy", y_pred);
  if (is_binary_shape(y_pred)) return accuracy(binary_counts(y_pred, y, threshold, from_logits));
  TS_CHECK(y_pred.dim() == 2, "accuracy: y_pred must be [N, C] class scores or [N] / [N, 1] ",
           "binary scores, got ", y_pred.shape());
  const int64_t n = y_pred.size(0), classes = y_pred.size(1);
  TS_CHECK(y.defined() && y.dtype() == kInt64 && y.shape() == Shape{n}, "accuracy: y must be ",
           "int64 class indices [", n, "] for y_pred ", y_pred.shape(), "; got y ",
           y.defined() ? y.shape() : Shape{}, " ", y.defined() ? dtype_name(y.dtype()) : "");
  const int64_t lowest = y.amin().item<int64_t>(), highest = y.amax().item<int64_t>();
  TS_CHECK(lowest >= 0 && highest < classes, "accuracy: class indices must be in [0, ", classes,
           ") for y_pred ", y_pred.shape(), "; y holds ", lowest, " .. ", highest);
  return ratio(count_true(y_pred.detach().argmax(1) == y), n);
}

double precision(const BinaryCounts& c) { return ratio(c.tp, c.tp + c.fp); }
double recall(const BinaryCounts& c) { return ratio(c.tp, c.tp + c.fn); }
double f1_score(const BinaryCounts& c) { return ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn); }
double accuracy(const BinaryCounts& c) { return ratio(c.tp + c.tn, c.total()); }

double binary_precision(const Tensor& y_pred, const Tensor& y, double threshold, bool from_logits) {
  return precision(binary_counts(y_pred, y, threshold, from_logits));
}
double binary_recall(const Tensor& y_pred, const Tensor& y, double threshold, bool from_logits) {
  return recall(binary_counts(y_pred, y, threshold, from_logits));
}
double binary_f1(const Tensor& y_pred, const Tensor& y, double threshold, bool from_logits) {
  return f1_score(binary_counts(y_pred, y, threshold, from_logits));
}

}  // namespace toadstool::train
