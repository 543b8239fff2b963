#include "toadstool/train/callbacks/divergence.h"

#include <cmath>
#include <iostream>

#include "toadstool/tensor/error.h"
#include "toadstool/train/checkpoint.h"

namespace toadstool::train {

namespace {

const char* action_name(DivergenceOptions::Action action) {
  switch (action) {
    case DivergenceOptions::Action::skip: return "skipped the batch";
    case DivergenceOptions::Action::rollback: return "rolled back to the last good state";
    case DivergenceOptions::Action::lower_lr: return "lowered the learning rate";
  }
  return "";
}

}  // namespace

DivergenceCallback::DivergenceCallback(DivergenceOptions options) : options_(options) {
  TS_CHECK(options_.explode_factor == 0 || options_.explode_factor > 1,
           "DivergenceCallback: explode_factor must be 0 (off) or above 1, got ",
           options_.explode_factor);
  TS_CHECK(options_.smoothing > 0 && options_.smoothing <= 1,
           "DivergenceCallback: smoothing must be in (0, 1], got ", options_.smoothing);
  TS_CHECK(options_.warmup >= 0, "DivergenceCallback: warmup must be >= 0, got ", options_.warmup);
  TS_CHECK(options_.lr_factor > 0 && options_.lr_factor < 1,
           "DivergenceCallback: lr_factor must be in (0, 1), got ", options_.lr_factor);
  TS_CHECK(options_.snapshot_every >= 1, "DivergenceCallback: snapshot_every must be >= 1, got ",
           options_.snapshot_every);
  TS_CHECK(options_.max_events >= 0, "DivergenceCallback: max_events must be >= 0, got ",
           options_.max_events);
}

void DivergenceCallback::begin_fit(Trainer& trainer) {
  mean_ = 0;
  seen_ = 0;
  events_ = 0;
  snapshot_step_ = -1;
  if (options_.action == DivergenceOptions::Action::rollback) take_snapshot(trainer);
}

bool DivergenceCallback::diverged(double loss) const {
  if (!std::isfinite(loss)) return true;
  return options_.explode_factor > 0 && seen_ >= options_.warmup && seen_ > 0 &&
         loss > options_.explode_factor * mean_;
}

void DivergenceCallback::take_snapshot(Trainer& trainer) {
  model_snapshot_ = cloned(trainer.model->state_dict());
  optimizer_snapshot_ = trainer.optimizer ? trainer.optimizer->state_dict() : TensorDict{};
  snapshot_step_ = trainer.step;
}

void DivergenceCallback::after_loss(Trainer& trainer) {
  if (trainer.stage != Stage::train) return;
  const double loss = trainer.loss.item<double>();
  if (!trainer.on_any_rank(diverged(loss))) {
    mean_ = seen_ == 0 ? loss : (1 - options_.smoothing) * mean_ + options_.smoothing * loss;
    ++seen_;
    if (options_.action == DivergenceOptions::Action::rollback &&
        trainer.step - snapshot_step_ >= options_.snapshot_every) {
      take_snapshot(trainer);
    }
    return;
  }
  act(trainer, loss);
  throw CancelBatch();
}

void DivergenceCallback::act(Trainer& trainer, double loss) {
  ++events_;
  TS_CHECK(events_ <= options_.max_events, "DivergenceCallback: the loss diverged ", events_,
           " times in this fit (more than max_events=", options_.max_events, "); the last: ", loss,
           " at epoch ", trainer.epoch, ", batch ", trainer.batch, " (step ", trainer.step, ")");
  switch (options_.action) {
    case DivergenceOptions::Action::skip: break;
    case DivergenceOptions::Action::rollback:
      trainer.model->load_state_dict(model_snapshot_);
      if (trainer.optimizer) {
        trainer.optimizer->load_state_dict(optimizer_snapshot_);
        trainer.optimizer->zero_grad();
      }
      break;
    case DivergenceOptions::Action::lower_lr:
      if (trainer.optimizer) {
        for (optim::ParamGroup& group : trainer.optimizer->param_groups()) {
          group.set_lr(group.lr() * options_.lr_factor);
        }
      }
      break;
  }
  if (!options_.verbose || !trainer.is_main_process()) return;
  std::ostream& out = options_.out != nullptr ? *options_.out : std::clog;
  out << "divergence: loss " << loss << " at epoch " << trainer.epoch + 1 << ", batch "
      << trainer.batch << " (step " << trainer.step << "): " << action_name(options_.action);
  if (options_.action == DivergenceOptions::Action::rollback) {
    out << " (step " << snapshot_step_ << ")";
  }
  if (options_.action == DivergenceOptions::Action::lower_lr && trainer.optimizer) {
    out << " to " << trainer.optimizer->param_groups().front().lr();
  }
  out << "\n";
}

}  // namespace toadstool::train
