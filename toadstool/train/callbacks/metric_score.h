#pragma once
// MetricScoreCallback: computes a metric over a whole validation (or eval)
// pass and sets the trainer's `score` (what EarlyStopping and checkpoints
// compare; higher is better).
//
// It keeps the detached y_pred and y of each batch of the pass (bounded by
// the pass size, on the batch's device) and reads nothing until the pass
// ends: no device sync per batch. It collects at after_batch, so it sees the
// prediction as every earlier callback left it, and skips batches cancelled
// before their forward.
//
//   trainer.callbacks.push_back(std::make_shared<AccuracyScorerCallback>());
//   trainer.callbacks.push_back(std::make_shared<BinaryScoreCallback>(0.5, "f1"));
#include <functional>
#include <string>
#include <vector>

#include "toadstool/tensor/tensor.h"
#include "toadstool/train/callback.h"
#include "toadstool/train/trainer.h"

namespace toadstool::train {

// metric(y_pred, y) over a whole pass; higher is better.
using MetricFn = std::function<double(const Tensor& y_pred, const Tensor& y)>;

class MetricScoreCallback : public CallbackBase<MetricScoreCallback> {
 public:
  // `stages`: validate and / or eval (others are an Error). A pass without
  // any batch sets score to NaN.
  explicit MetricScoreCallback(MetricFn metric,
                               std::vector<Stage> stages = {Stage::validate, Stage::eval});

  void begin_validate(Trainer& trainer) override { begin(trainer, Stage::validate); }
  void begin_eval(Trainer& trainer) override { begin(trainer, Stage::eval); }
  void after_batch(Trainer& trainer) override;
  void after_validate(Trainer& trainer) override { finish(trainer, Stage::validate); }
  void after_eval(Trainer& trainer) override { finish(trainer, Stage::eval); }

  // The value set at the end of the last scored pass (NaN before).
  double last_score() const { return last_score_; }

 private:
  bool tracks(Stage stage) const;
  void begin(Trainer& trainer, Stage stage);
  void finish(Trainer& trainer, Stage stage);

  MetricFn metric_;
  std::vector<Stage> stages_;
  bool collecting_ = false;
  std::vector<Tensor> predictions_, targets_;
  double last_score_;
};

// Accuracy (train/metrics.h): argmax of [N, C] scores against int64 labels,
// or thresholded binary logits [N] / [N, 1].
class AccuracyScorerCallback : public MetricScoreCallback {
 public:
  explicit AccuracyScorerCallback(std::vector<Stage> stages = {Stage::validate, Stage::eval});
};

// A binary metric of logits [N] / [N, 1] against 0 / 1 labels: an example
// is positive when sigmoid(logit) > threshold. metric: "f1", "precision",
// "recall" or "accuracy".
class BinaryScoreCallback : public MetricScoreCallback {
 public:
  explicit BinaryScoreCallback(double threshold = 0.5, const std::string& metric = "f1",
                               std::vector<Stage> stages = {Stage::validate, Stage::eval});
};
// The original Toadstool's name.
using BinaryScore = BinaryScoreCallback;

}  // namespace toadstool::train
