#include "toadstool/train/callbacks/metric_score.h"

#include <algorithm>
#include <limits>

#include "toadstool/autograd/ops.h"
#include "toadstool/distributed/gather_rows.h"
#include "toadstool/tensor/error.h"
#include "toadstool/train/metrics.h"

namespace toadstool::train {
namespace {

constexpr double kNoScore = std::numeric_limits<double>::quiet_NaN();

MetricFn binary_metric(double threshold, const std::string& metric) {
  using Of = double (*)(const BinaryCounts&);
  Of of = nullptr;
  if (metric == "f1") of = &f1_score;
  if (metric == "precision") of = &precision;
  if (metric == "recall") of = &recall;
  if (metric == "accuracy") of = &accuracy;
  TS_CHECK(of != nullptr, "BinaryScoreCallback: metric must be \"f1\", \"precision\", ",
           "\"recall\" or \"accuracy\", got \"", metric, "\"");
  return [threshold, of](const Tensor& y_pred, const Tensor& y) {
    return of(binary_counts(y_pred, y, threshold));
  };
}

}  // namespace

MetricScoreCallback::MetricScoreCallback(MetricFn metric, std::vector<Stage> stages)
    : metric_(std::move(metric)), stages_(std::move(stages)), last_score_(kNoScore) {
  TS_CHECK(metric_, "MetricScoreCallback: the metric function is empty");
  TS_CHECK(!stages_.empty(), "MetricScoreCallback: no stages to score");
  for (const Stage stage : stages_) {
    TS_CHECK(stage == Stage::validate || stage == Stage::eval,
             "MetricScoreCallback: it scores the validate and eval stages, not ",
             stage_name(stage));
  }
}

bool MetricScoreCallback::tracks(Stage stage) const {
  return std::find(stages_.begin(), stages_.end(), stage) != stages_.end();
}

void MetricScoreCallback::begin(Trainer& /*trainer*/, Stage stage) {
  collecting_ = tracks(stage);
  predictions_.clear();
  targets_.clear();
}

void MetricScoreCallback::after_batch(Trainer& trainer) {
  if (!collecting_ || !trainer.y_pred.defined() || !trainer.y.defined()) return;
  predictions_.push_back(trainer.y_pred.detach());
  targets_.push_back(trainer.y.detach());
}

void MetricScoreCallback::finish(Trainer& trainer, Stage stage) {
  if (!tracks(stage)) return;
  collecting_ = false;
  last_score_ = kNoScore;
  if (!predictions_.empty()) {
    // Free the pass's tensors whatever the metric does.
    Tensor y_pred = cat(predictions_, 0), y = cat(targets_, 0);
    predictions_.clear();
    targets_.clear();
    // Data parallel: the score is over every rank's examples (the ranks run
    // the same number of batches, so each one has some to send).
    if (const auto& pg = trainer.options.process_group) {
      y_pred = distributed::all_gather_rows(*pg, y_pred.contiguous());
      y = distributed::all_gather_rows(*pg, y.contiguous());
    }
    last_score_ = metric_(y_pred, y);
  }
  trainer.score = last_score_;
}

AccuracyScorerCallback::AccuracyScorerCallback(std::vector<Stage> stages)
    : MetricScoreCallback([](const Tensor& y_pred, const Tensor& y) { return accuracy(y_pred, y); },
                          std::move(stages)) {}

BinaryScoreCallback::BinaryScoreCallback(double threshold, const std::string& metric,
                                         std::vector<Stage> stages)
    : MetricScoreCallback(binary_metric(threshold, metric), std::move(stages)) {}

}  // namespace toadstool::train
