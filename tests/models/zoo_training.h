#pragma once
// What the model zoo's training tests share: accuracy of logits against
// labels, and a plain training loop (Adam, cross-entropy) that reports the
// loss of its first and last steps.
#include <functional>
#include <string>
#include <utility>

#include "test_util.h"

namespace toadstool::testing {

// logits [N, C], labels [N] int64 -> the fraction of rows whose argmax is
// the label.
inline double accuracy(const Tensor& logits, const Tensor& labels) {
  return eq(logits.argmax(1), labels).to(kFloat32).mean().item<float>();
}

struct TrainingRun {
  double first_loss = 0;
  double last_loss = 0;
};

// `steps` Adam steps of lr on cross_entropy(logits(step), labels(step)):
// batch(step) returns the logits [N, C] and the labels [N] of one step
// (the model's forward inside it, so it is recorded).
inline TrainingRun train_with_adam(nn::Module& model, int steps, double lr,
                                   const std::function<std::pair<Tensor, Tensor>(int)>& batch) {
  optim::Adam optimizer(model.parameters(), {.lr = lr});
  TrainingRun run;
  model.train();
  for (int step = 0; step < steps; ++step) {
    const auto [logits, labels] = batch(step);
    const Tensor loss = cross_entropy(logits, labels);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    const double value = loss.item<float>();
    if (step == 0) run.first_loss = value;
    run.last_loss = value;
  }
  model.eval();
  return run;
}

// The run's figures as properties of the current test (in gtest's XML and
// JSON reports: --gtest_output=json:FILE), for reading what a run reached.
inline void record_figures(const TrainingRun& run, double accuracy) {
  ::testing::Test::RecordProperty("first_loss", std::to_string(run.first_loss));
  ::testing::Test::RecordProperty("last_loss", std::to_string(run.last_loss));
  ::testing::Test::RecordProperty("accuracy", std::to_string(accuracy));
}

}  // namespace toadstool::testing
