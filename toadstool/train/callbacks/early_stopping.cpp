#include "toadstool/train/callbacks/early_stopping.h"

#include <cmath>
#include <iostream>

#include "toadstool/tensor/error.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/train/checkpoint.h"
#include "toadstool/train/trainer.h"

namespace toadstool::train {
namespace {

constexpr const char* kWeightsPrefix = "best_weights.";

}  // namespace

EarlyStopping::EarlyStopping(EarlyStoppingOptions options)
    : options_(std::move(options)),
      best_(options_.monitor, options_.mode, options_.min_delta, "EarlyStopping") {
  TS_CHECK(options_.patience >= 0, "EarlyStopping: patience must be >= 0, got ", options_.patience);
}

void EarlyStopping::reset() {
  best_.reset();
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
  const BestSoFar::Outcome outcome = best_.update(trainer);
  if (outcome == BestSoFar::Outcome::unjudged) {
    return;  // an epoch that ran no training batch: nothing to judge
  }
  if (outcome == BestSoFar::Outcome::new_best) {
    wait_ = 0;
    if (options_.restore_best_weights) {
      best_weights_ = cloned(trainer.model->state_dict());
    }
    return;
  }
  ++wait_;
  if (wait_ >= options_.patience) {
    stopped_epoch_ = trainer.epoch;
    trainer.stop_training = true;
    if (options_.verbose) {
      // Epochs counted from 1 here, as the monitors print them.
      std::clog << "EarlyStopping: stopping after epoch " << trainer.epoch + 1 << "/"
                << trainer.epochs << ": " << monitor_name(best_.monitor())
                << " has not improved for " << wait_ << (wait_ == 1 ? " epoch" : " epochs")
                << " (best " << best_.best().value << " at epoch " << best_.best_epoch() + 1
                << ")\n";
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
  best_.save_to(dict);
  dict.insert("wait", scalar_tensor(static_cast<double>(wait_), kFloat64));
  dict.insert("stopped_epoch", scalar_tensor(static_cast<double>(stopped_epoch_), kFloat64));
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
  constexpr std::size_t kOwnScalars = 2;  // wait, stopped_epoch
  constexpr std::size_t kScalars = BestSoFar::kEntries + kOwnScalars;
  TS_CHECK(dict.size() == weights.size() + kScalars, who, ".load_state_dict: expected ", kScalars,
           " scalars and best_weights.* entries, got ", dict.size(), " entries");
  BestSoFar best = best_.restored_from(dict);
  const int64_t wait = integer_entry(dict, "wait", who, 0);
  const int64_t stopped_epoch = integer_entry(dict, "stopped_epoch", who, -1);

  best_ = std::move(best);
  wait_ = wait;
  stopped_epoch_ = stopped_epoch;
  // A copy kept only if this callback restores weights.
  best_weights_ = options_.restore_best_weights ? weights : TensorDict();
  restored_ = true;
}

}  // namespace toadstool::train
