#include "train/callbacks/early_stopping.h"

#include <cmath>
#include <iostream>

#include "tensor/error.h"
#include "tensor/factory.h"
#include "train/trainer.h"

namespace toadstool::train {
namespace {

constexpr const char* kWeightsPrefix = "best_weights.";

}  // namespace

EarlyStopping::EarlyStopping(EarlyStoppingOptions options)
    : options_(std::move(options)),
      comparison_(options_.monitor, options_.mode, options_.min_delta, "EarlyStopping") {
  TS_CHECK(options_.patience >= 0, "EarlyStopping: patience must be >= 0, got ", options_.patience);
}

void EarlyStopping::reset() {
  comparison_ =
      MonitoredComparison(options_.monitor, options_.mode, options_.min_delta, "EarlyStopping");
  has_best_ = false;
  best_ = {};
  best_epoch_ = -1;
  wait_ = 0;
  stopped_epoch_ = -1;
  best_weights_ = {};
}

// A fresh fit starts over, unless a checkpoint restored this callback's
// state (before this hook or, when CheckpointCallback comes first in the
// list, just now): then the run continues with it.
void EarlyStopping::begin_fit(Trainer& /*trainer*/) {
  if (!restored_) reset();
  restored_ = false;
  cancelled_ = false;
}

void EarlyStopping::after_epoch(Trainer& trainer) {
  const std::optional<MonitoredValue> now = comparison_.read(trainer);
  if (!now) return;  // an epoch that ran no training batch: nothing to judge
  if (!has_best_ || comparison_.improves(*now, best_)) {
    has_best_ = true;
    best_ = *now;
    best_epoch_ = trainer.epoch;
    wait_ = 0;
    if (options_.restore_best_weights) {
      best_weights_ = TensorDict();
      for (const auto& [name, tensor] : trainer.model->state_dict()) {
        best_weights_.insert(name, tensor.clone());
      }
    }
    return;
  }
  ++wait_;
  if (wait_ >= options_.patience) {
    stopped_epoch_ = trainer.epoch;
    trainer.stop_training = true;
    if (options_.verbose) {
      std::clog << "EarlyStopping: stopping after epoch " << trainer.epoch << ": "
                << monitor_name(comparison_.monitor()) << " has not improved for " << wait_
                << (wait_ == 1 ? " epoch" : " epochs") << " (best " << best_.value << " at epoch "
                << best_epoch_ << ")\n";
    }
  }
}

void EarlyStopping::cancelled_training(Trainer& /*trainer*/) { cancelled_ = true; }

void EarlyStopping::after_fit(Trainer& trainer) {
  restored_ = false;
  // Only a fit that ended normally: all its epochs, or stopped at an
  // after_epoch. After an Error the loop is still inside an epoch.
  const bool ended_normally =
      !cancelled_ && (trainer.epoch >= trainer.epochs || trainer.stop_training);
  if (ended_normally && options_.restore_best_weights && !best_weights_.empty()) {
    trainer.model->load_state_dict(best_weights_);
  }
}

TensorDict EarlyStopping::state_dict() const {
  TensorDict dict;
  const auto scalar = [&](const char* name, double value) {
    dict.insert(name, scalar_tensor(value, kFloat64));
  };
  scalar("has_best", has_best_ ? 1 : 0);
  scalar("best", best_.value);
  scalar("best_tie_breaker", best_.tie_breaker);
  scalar("best_epoch", static_cast<double>(best_epoch_));
  scalar("wait", static_cast<double>(wait_));
  scalar("stopped_epoch", static_cast<double>(stopped_epoch_));
  scalar("monitor", static_cast<double>(comparison_.monitor()));
  for (const auto& [name, tensor] : best_weights_) dict.insert(kWeightsPrefix + name, tensor);
  return dict;
}

void EarlyStopping::load_state_dict(const TensorDict& dict) {
  const std::string who = "EarlyStopping";
  // Everything is read and checked before anything changes.
  TensorDict weights;
  for (const auto& [name, tensor] : dict) {
    if (name.rfind(kWeightsPrefix, 0) == 0) {
      weights.insert(name.substr(std::string(kWeightsPrefix).size()), tensor.clone());
    }
  }
  TS_CHECK(dict.size() == weights.size() + 7, who, ".load_state_dict: expected 7 scalars and ",
           "best_weights.* entries, got ", dict.size(), " entries");
  const double monitor = scalar_entry(dict, "monitor", who);
  TS_CHECK(monitor >= 0 && monitor <= static_cast<double>(Monitor::train_loss) &&
               monitor == std::floor(monitor),
           who, ".load_state_dict: 'monitor' should be 0..3, got ", monitor);
  const double wait = scalar_entry(dict, "wait", who);
  TS_CHECK(wait >= 0 && wait == std::floor(wait), who,
           ".load_state_dict: 'wait' should be a count, got ", wait);
  const double has_best = scalar_entry(dict, "has_best", who);
  const MonitoredValue best{scalar_entry(dict, "best", who),
                            scalar_entry(dict, "best_tie_breaker", who)};
  const double best_epoch = scalar_entry(dict, "best_epoch", who);
  const double stopped_epoch = scalar_entry(dict, "stopped_epoch", who);
  MonitoredComparison comparison(options_.monitor, options_.mode, options_.min_delta, who);
  comparison.restore_monitor(static_cast<Monitor>(static_cast<int>(monitor)));

  comparison_ = comparison;
  has_best_ = has_best != 0;
  best_ = best;
  best_epoch_ = static_cast<int64_t>(best_epoch);
  wait_ = static_cast<int64_t>(wait);
  stopped_epoch_ = static_cast<int64_t>(stopped_epoch);
  // A copy kept only if this callback restores weights.
  best_weights_ = options_.restore_best_weights ? weights : TensorDict();
  restored_ = true;
}

}  // namespace toadstool::train
