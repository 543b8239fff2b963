#include "toadstool/train/callbacks/batch_accumulator.h"

#include "toadstool/autograd/ops.h"
#include "toadstool/tensor/error.h"

namespace toadstool::train {

BatchAccumulator::BatchAccumulator(Stage stage) : stage_(stage) {
  TS_CHECK(stage != Stage::idle, "BatchAccumulator: the stage must be train, validate, eval ",
           "or predict, not idle");
}

void BatchAccumulator::all_batches(Trainer& trainer) {
  if (trainer.stage != stage_) return;
  predictions_.clear();
  targets_.clear();
}

void BatchAccumulator::after_batch(Trainer& trainer) {
  if (trainer.stage != stage_ || !trainer.y_pred.defined()) return;
  predictions_.push_back(trainer.y_pred.detach());
  // In predict the loader may give no y; then no batch has one.
  if (trainer.y.defined()) targets_.push_back(trainer.y.detach());
}

Tensor BatchAccumulator::predictions() const {
  return predictions_.empty() ? Tensor() : cat(predictions_, 0);
}

Tensor BatchAccumulator::targets() const {
  TS_CHECK(targets_.empty() || targets_.size() == predictions_.size(), "BatchAccumulator: only ",
           targets_.size(), " of the ", predictions_.size(), " ", stage_name(stage_),
           " batches had a y");
  return targets_.empty() ? Tensor() : cat(targets_, 0);
}

}  // namespace toadstool::train
