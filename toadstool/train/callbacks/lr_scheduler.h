#pragma once
// LRSchedulerCallback: steps an LR schedule from the training loop and sets
// the trainer's `lr` to the first group's new lr.
// - on "step": after every optimizer step (after_step; with gradient
//   accumulation, once per window), as Lightning's interval "step".
// - on "epoch": after every epoch (after_epoch), as interval "epoch".
// - on "metric" (ReduceLROnPlateau): step(metric) once per epoch with the
//   monitored value: "valid_loss" (default) or "score" after validation
//   (after_validate), "train_loss" after the epoch (after_epoch) whose
//   training pass ran to its end. An epoch cancelled before that value was
//   computed does not step.
// Its saved state (state_dict) is the schedule's state_dict, restored on
// resume; the optimizer's lrs are saved with the optimizer. A schedule
// already took its first step when it was built (as in PyTorch), so nothing
// happens at begin_fit but checks. List it before a CheckpointCallback so
// that an end-of-epoch checkpoint holds the stepped schedule.
#include <memory>
#include <string>

#include "toadstool/nn/optim/lr_scheduler.h"
#include "toadstool/nn/optim/plateau.h"
#include "toadstool/train/callback.h"

namespace toadstool::train {

class LRSchedulerCallback : public CallbackBase<LRSchedulerCallback> {
 public:
  // Errors: a null schedule, `on` other than "step" or "epoch".
  explicit LRSchedulerCallback(std::shared_ptr<optim::LRScheduler> scheduler,
                               std::string on = "step");
  // on "metric". Errors: a null schedule, `monitor` other than "valid_loss",
  // "train_loss" or "score".
  explicit LRSchedulerCallback(std::shared_ptr<optim::ReduceLROnPlateau> scheduler,
                               std::string monitor = "valid_loss");

  const std::string& on() const { return on_; }
  const std::string& monitor() const { return monitor_; }  // empty unless on "metric"
  // One of these is set.
  optim::LRScheduler* scheduler() const { return scheduler_.get(); }
  optim::ReduceLROnPlateau* plateau() const { return plateau_.get(); }

  // Checks that the schedule drives the trainer's optimizer, and that a
  // validation metric has a validation loader.
  void begin_fit(Trainer& trainer) override;
  void begin_epoch(Trainer& trainer) override;
  void after_batch(Trainer& trainer) override;
  void after_step(Trainer& trainer) override;
  void after_validate(Trainer& trainer) override;
  void after_epoch(Trainer& trainer) override;

  TensorDict state_dict() const override;
  void load_state_dict(const TensorDict& dict) override;

 private:
  void step_on_metric(Trainer& trainer, double value);

  std::shared_ptr<optim::LRScheduler> scheduler_;
  std::shared_ptr<optim::ReduceLROnPlateau> plateau_;
  std::string on_, monitor_;
  bool training_pass_done_ = false;  // this epoch's training batches all ran
};

}  // namespace toadstool::train
