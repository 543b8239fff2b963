#pragma once
// Metrics over a whole pass: y_pred and y are the predictions and targets of
// every batch, concatenated (MetricScoreCallback and BatchAccumulator collect
// them). Each reads its result from the device once, at the end.
//
// Conventions (torchmetrics / scikit-learn / Keras, docs/metrics.md):
// - Multi-class: y_pred are scores (logits or probabilities) [N, C] with
//   C >= 2, y int64 class indices [N]; the predicted class is the argmax.
// - Binary: y_pred is [N] or [N, 1], y holds 0 / 1 labels (any dtype) of the
//   same element count. With from_logits (the default) y_pred are logits and
//   go through a sigmoid first; an example is predicted positive when its
//   probability is strictly greater than `threshold` (0.5: logit > 0).
// - A ratio whose denominator is zero (precision with no predicted
//   positives, recall with no actual positives, F1 with neither) is 0, as
//   scikit-learn's zero_division=0 and torchmetrics.
// - No examples at all is an Error (there is nothing to score).
#include <cstdint>
#include <string>

#include "toadstool/tensor/tensor.h"

namespace toadstool::train {

// The binary confusion matrix of a pass.
struct BinaryCounts {
  int64_t tp = 0, fp = 0, fn = 0, tn = 0;
  int64_t total() const { return tp + fp + fn + tn; }
};

BinaryCounts binary_counts(const Tensor& y_pred, const Tensor& y, double threshold = 0.5,
                           bool from_logits = true);

// Fraction of examples whose predicted class is the target. Multi-class for
// y_pred [N, C] (C >= 2), binary (thresholded) for [N] or [N, 1].
double accuracy(const Tensor& y_pred, const Tensor& y, double threshold = 0.5,
                bool from_logits = true);

// tp / (tp + fp), tp / (tp + fn), 2 tp / (2 tp + fp + fn); 0 on a zero
// denominator.
double precision(const BinaryCounts& counts);
double recall(const BinaryCounts& counts);
double f1_score(const BinaryCounts& counts);
double accuracy(const BinaryCounts& counts);

double binary_precision(const Tensor& y_pred, const Tensor& y, double threshold = 0.5,
                        bool from_logits = true);
double binary_recall(const Tensor& y_pred, const Tensor& y, double threshold = 0.5,
                     bool from_logits = true);
double binary_f1(const Tensor& y_pred, const Tensor& y, double threshold = 0.5,
                 bool from_logits = true);

}  // namespace toadstool::train
