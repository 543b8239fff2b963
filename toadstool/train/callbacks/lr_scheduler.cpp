#include "toadstool/train/callbacks/lr_scheduler.h"

#include <cmath>

#include "toadstool/tensor/error.h"
#include "toadstool/train/trainer.h"

namespace toadstool::train {
namespace {

void set_trainer_lr(Trainer& trainer) {
  trainer.lr = trainer.optimizer->param_groups().front().lr();
}

}  // namespace

LRSchedulerCallback::LRSchedulerCallback(std::shared_ptr<optim::LRScheduler> scheduler,
                                         std::string on)
    : scheduler_(std::move(scheduler)), on_(std::move(on)) {
  TS_CHECK(scheduler_, "LRSchedulerCallback: the schedule is null");
  TS_CHECK(on_ == "step" || on_ == "epoch", "LRSchedulerCallback: on must be \"step\" or ",
           "\"epoch\", got \"", on_, "\" (\"metric\" is for a ReduceLROnPlateau)");
}

LRSchedulerCallback::LRSchedulerCallback(std::shared_ptr<optim::ReduceLROnPlateau> scheduler,
                                         std::string monitor)
    : plateau_(std::move(scheduler)), on_("metric"), monitor_(std::move(monitor)) {
  TS_CHECK(plateau_, "LRSchedulerCallback: the ReduceLROnPlateau is null");
  TS_CHECK(
      monitor_ == "valid_loss" || monitor_ == "train_loss" || monitor_ == "score",
      "LRSchedulerCallback: monitor must be \"valid_loss\", \"train_loss\" or \"score\", got \"",
      monitor_, "\"");
}

void LRSchedulerCallback::begin_fit(Trainer& trainer) {
  const optim::Optimizer& driven = scheduler_ ? scheduler_->optimizer() : plateau_->optimizer();
  TS_CHECK(&driven == trainer.optimizer.get(),
           "LRSchedulerCallback: the schedule was built on another optimizer (", driven.name(),
           ") than the trainer's (", trainer.optimizer->name(), ")");
  TS_CHECK(on_ != "metric" || monitor_ == "train_loss" || trainer.valid_loader != nullptr,
           "LRSchedulerCallback: monitors ", monitor_,
           ", which needs a validation loader, but fit was given none");
}

void LRSchedulerCallback::begin_epoch(Trainer& /*trainer*/) { training_pass_done_ = false; }

void LRSchedulerCallback::after_batch(Trainer& trainer) {
  if (trainer.stage == Stage::train && trainer.batch + 1 == trainer.batches) {
    training_pass_done_ = true;
  }
}

void LRSchedulerCallback::after_step(Trainer& trainer) {
  if (on_ != "step") return;
  scheduler_->step();
  set_trainer_lr(trainer);
}

void LRSchedulerCallback::after_validate(Trainer& trainer) {
  if (on_ != "metric" || monitor_ == "train_loss") return;
  step_on_metric(trainer, monitor_ == "score" ? trainer.score : trainer.valid_loss());
}

void LRSchedulerCallback::after_epoch(Trainer& trainer) {
  if (on_ == "epoch") {
    scheduler_->step();
    set_trainer_lr(trainer);
  } else if (on_ == "metric" && monitor_ == "train_loss" && training_pass_done_) {
    step_on_metric(trainer, trainer.train_loss());
  }
}

void LRSchedulerCallback::step_on_metric(Trainer& trainer, double value) {
  // NaN would count as "no improvement" and cut the lr without a word.
  TS_CHECK(
      !std::isnan(value), "LRSchedulerCallback: the monitored ", monitor_, " is NaN at epoch ",
      trainer.epoch,
      monitor_ == "score" ? " (does a metric callback listed before this one set score?)" : "");
  plateau_->step(value);
  set_trainer_lr(trainer);
}

TensorDict LRSchedulerCallback::state_dict() const {
  return scheduler_ ? scheduler_->state_dict() : plateau_->state_dict();
}

void LRSchedulerCallback::load_state_dict(const TensorDict& dict) {
  if (scheduler_) {
    scheduler_->load_state_dict(dict);
  } else {
    plateau_->load_state_dict(dict);
  }
}

}  // namespace toadstool::train
