#pragma once
// BatchAccumulator: keeps the targets and predictions of every batch of one
// stage (train, validate, eval or predict) for analysis after the pass: a
// confusion matrix, a calibration plot, the worst examples...
//
// The tensors are detached and stay on their device until asked for; a new
// pass of the stage (all_batches) starts a fresh collection, so memory is
// bounded by one pass. Collected at after_batch (the prediction as every
// earlier callback left it); a batch cancelled before its forward is skipped.
//
//   auto acc = std::make_shared<BatchAccumulator>(Stage::validate);
//   ... trainer.fit(...);
//   Tensor logits = acc->predictions(), labels = acc->targets();
#include <vector>

#include "toadstool/tensor/tensor.h"
#include "toadstool/train/callback.h"
#include "toadstool/train/trainer.h"

namespace toadstool::train {

class BatchAccumulator : public CallbackBase<BatchAccumulator> {
 public:
  explicit BatchAccumulator(Stage stage = Stage::validate);

  void all_batches(Trainer& trainer) override;
  void after_batch(Trainer& trainer) override;

  // The last (or current) pass's predictions / targets, concatenated along
  // dim 0; undefined when there are none (targets: in predict without y).
  Tensor predictions() const;
  Tensor targets() const;
  // Batches collected in the last (or current) pass.
  size_t batches() const { return predictions_.size(); }
  Stage stage() const { return stage_; }

 private:
  Stage stage_;
  std::vector<Tensor> predictions_, targets_;
};

}  // namespace toadstool::train
