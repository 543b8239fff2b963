// Metrics (train/metrics.h) against hand-computed values and the
// scikit-learn / torchmetrics zero-division convention; MetricScoreCallback,
// its accuracy and binary forms, and BatchAccumulator in real passes.
#include <gtest/gtest.h>

#include <cmath>

#include "test_util.h"
#include "trainer_fixtures.h"

namespace toadstool::testing {
namespace {

using train::Stage;
using train::Trainer;

Tensor labels(const std::vector<double>& v) { return make(v, {int64_t(v.size())}, kInt64); }

// Multi-class scores: the argmax of each row is [0, 1, 2, 1].
Tensor class_scores() { return make({2, 1, 0, 0, 3, 1, 1, 0, 5, 4, 5, 0}, {4, 3}); }

// Logits and labels with tp 2 (rows 0, 4), fp 1 (row 2), fn 2 (rows 1, 5:
// logit 0 is probability 0.5, not > 0.5), tn 1 (row 3).
Tensor binary_logits() { return make({2.0, -1.0, 0.5, -3.0, 1.0, 0.0}, {6}); }
Tensor binary_labels() { return make({1, 1, 0, 0, 1, 1}, {6}); }

TEST(Metrics, MultiClassAccuracyIsTheArgmaxAgreement) {
  EXPECT_DOUBLE_EQ(train::accuracy(class_scores(), labels({0, 1, 1, 1})), 0.75);
  EXPECT_DOUBLE_EQ(train::accuracy(class_scores(), labels({0, 1, 2, 1})), 1.0);
  EXPECT_DOUBLE_EQ(train::accuracy(class_scores(), labels({1, 0, 0, 0})), 0.0);
}

TEST(Metrics, BinaryCountsPrecisionRecallF1) {
  const train::BinaryCounts c = train::binary_counts(binary_logits(), binary_labels());
  EXPECT_EQ(c.tp, 2);
  EXPECT_EQ(c.fp, 1);
  EXPECT_EQ(c.fn, 2);
  EXPECT_EQ(c.tn, 1);
  EXPECT_DOUBLE_EQ(train::binary_precision(binary_logits(), binary_labels()), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(train::binary_recall(binary_logits(), binary_labels()), 0.5);
  EXPECT_DOUBLE_EQ(train::binary_f1(binary_logits(), binary_labels()), 4.0 / 7.0);
  EXPECT_DOUBLE_EQ(train::accuracy(binary_logits(), binary_labels()), 0.5);
}

TEST(Metrics, BinaryThresholdIsOnTheSigmoidProbability) {
  // sigmoid(-1) = 0.27 stays negative at 0.3, sigmoid(0) = 0.5 turns positive.
  const train::BinaryCounts c = train::binary_counts(binary_logits(), binary_labels(), 0.3);
  EXPECT_EQ(c.tp, 3);
  EXPECT_EQ(c.fp, 1);
  EXPECT_EQ(c.fn, 1);
  EXPECT_EQ(c.tn, 1);
  // Probabilities as given (from_logits false), [N, 1] predictions and labels.
  const Tensor probs = make({0.9, 0.2, 0.6, 0.1}, {4, 1});
  const Tensor y = make({1, 0, 0, 1}, {4, 1});
  const train::BinaryCounts p = train::binary_counts(probs, y, 0.5, /*from_logits=*/false);
  EXPECT_EQ(p.tp, 1);
  EXPECT_EQ(p.fp, 1);
  EXPECT_EQ(p.fn, 1);
  EXPECT_EQ(p.tn, 1);
  EXPECT_DOUBLE_EQ(train::accuracy(probs, y, 0.5, false), 0.5);
}

TEST(Metrics, ZeroDivisionGivesZero) {
  // No predicted positive: precision 0/0; recall 0/1; F1 0/1.
  const Tensor all_negative = make({-1, -2, -3}, {3});
  const Tensor y = make({1, 0, 0}, {3});
  EXPECT_EQ(train::binary_precision(all_negative, y), 0.0);
  EXPECT_EQ(train::binary_recall(all_negative, y), 0.0);
  EXPECT_EQ(train::binary_f1(all_negative, y), 0.0);
  // No positive at all, predicted or actual: every ratio 0/0 -> 0.
  const Tensor none = make({0, 0, 0}, {3});
  EXPECT_EQ(train::binary_precision(all_negative, none), 0.0);
  EXPECT_EQ(train::binary_recall(all_negative, none), 0.0);
  EXPECT_EQ(train::binary_f1(all_negative, none), 0.0);
  EXPECT_EQ(train::accuracy(all_negative, none), 1.0);
}

TEST(Metrics, BadInputIsAnErrorNamingTheShapes) {
  EXPECT_ERROR(train::accuracy(class_scores(), labels({0, 1, 3, 1})),
               (std::vector<std::string>{"accuracy", "[0, 3)", "0 .. 3"}));
  EXPECT_ERROR(train::accuracy(class_scores(), make({0, 1, 1, 1}, {4})), "int64 class indices");
  EXPECT_ERROR(train::accuracy(class_scores(), labels({0, 1, 1})),
               (std::vector<std::string>{"[4, 3]", "[3]"}));
  EXPECT_ERROR(train::binary_f1(binary_logits(), make({1, 2, 0, 0, 1, 1}, {6})), "0 or 1");
  EXPECT_ERROR(train::binary_f1(binary_logits(), make({1, 0}, {2})), "[6]");
  EXPECT_ERROR(train::binary_f1(class_scores(), labels({0, 1, 1, 1})), "[4, 3]");
  EXPECT_ERROR(train::accuracy(zeros({0, 3}), labels({})), "no examples");
  EXPECT_ERROR(train::BinaryScoreCallback(0.5, "auc"), "\"auc\"");
  EXPECT_ERROR(train::MetricScoreCallback(nullptr), "empty");
  EXPECT_ERROR(train::AccuracyScorerCallback({Stage::train}), "not train");
}

// An identity model over fixed scores: the metric of the pass is known.
Trainer scoring_trainer(std::vector<std::shared_ptr<train::Callback>> callbacks) {
  auto loss = [](const Tensor& y_pred, const Tensor&) { return y_pred.sum() * 0.0; };
  return Trainer(std::make_shared<nn::Identity>(), nullptr, loss, std::move(callbacks));
}

TEST(MetricScoreCallback, AccuracyOverAnEvalPassOfSeveralBatches) {
  auto scorer = std::make_shared<train::AccuracyScorerCallback>();
  Trainer trainer = scoring_trainer({scorer});
  auto loader =
      loader_of(std::make_shared<train::TensorDataset>(class_scores(), labels({0, 1, 1, 1})),
                3);  // batches of 3 and 1
  EXPECT_TRUE(std::isnan(trainer.score));
  trainer.eval(*loader);
  EXPECT_DOUBLE_EQ(trainer.score, 0.75);
  EXPECT_DOUBLE_EQ(scorer->last_score(), 0.75);
}

TEST(MetricScoreCallback, BinaryScoreNamesItsMetric) {
  for (const auto& [metric, expected] : std::vector<std::pair<std::string, double>>{
           {"f1", 4.0 / 7.0}, {"precision", 2.0 / 3.0}, {"recall", 0.5}, {"accuracy", 0.5}}) {
    Trainer trainer = scoring_trainer({std::make_shared<train::BinaryScore>(0.5, metric)});
    auto loader = loader_of(std::make_shared<train::TensorDataset>(binary_logits().reshape({6, 1}),
                                                                   binary_labels().reshape({6, 1})),
                            4);
    trainer.eval(*loader);
    EXPECT_DOUBLE_EQ(trainer.score, expected) << metric;
  }
}

TEST(MetricScoreCallback, ScoresEveryValidationOverTheWholePass) {
  // -MSE of the whole validation pass equals -(mean validation loss).
  TinySetup setup;
  auto scorer = std::make_shared<train::MetricScoreCallback>(
      [](const Tensor& y_pred, const Tensor& y) {
        return -(y_pred - y).pow(2).mean().item<double>();
      },
      std::vector<Stage>{Stage::validate});
  Trainer trainer = setup.trainer({scorer});
  auto train_loader = loader_of(regression_data(8), 4);
  auto valid_loader = loader_of(regression_data(7, 3, 99), 3);  // 3 batches: 3, 3, 1
  trainer.fit(2, *train_loader, valid_loader.get());
  EXPECT_NEAR(trainer.score, -trainer.valid_loss(), 1e-5);
  // Not an eval stage: eval leaves the score alone.
  const double after_fit = trainer.score;
  trainer.eval(*valid_loader);
  EXPECT_EQ(trainer.score, after_fit);
}

TEST(BatchAccumulator, CollectsOnePassOfItsStage) {
  TinySetup setup;
  auto valid_acc = std::make_shared<train::BatchAccumulator>(Stage::validate);
  auto train_acc = std::make_shared<train::BatchAccumulator>(Stage::train);
  Trainer trainer = setup.trainer({valid_acc, train_acc});
  auto train_loader = loader_of(regression_data(8), 4);
  auto valid_data = regression_data(7, 3, 99);
  auto valid_loader = loader_of(valid_data, 3);
  trainer.fit(2, *train_loader, valid_loader.get());

  // Reset at each pass: the last epoch's 3 validation batches only.
  EXPECT_EQ(valid_acc->batches(), 3u);
  expect_close(valid_acc->targets(), valid_data->y());
  // The predictions are the model's after its last step, detached.
  const Tensor predictions = valid_acc->predictions();
  EXPECT_FALSE(predictions.requires_grad());
  expect_close(predictions, trainer.predict(*valid_loader), 1e-6, 1e-6);
  EXPECT_EQ(train_acc->batches(), 2u);
  EXPECT_EQ(train_acc->predictions().shape(), (Shape{8, 1}));
  EXPECT_FALSE(train_acc->predictions().requires_grad());
  // Nothing collected for a stage that never ran.
  train::BatchAccumulator eval_acc(Stage::eval);
  EXPECT_FALSE(eval_acc.predictions().defined());
  EXPECT_FALSE(eval_acc.targets().defined());
}

}  // namespace
}  // namespace toadstool::testing
