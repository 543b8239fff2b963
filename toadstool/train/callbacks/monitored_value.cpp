#include "toadstool/train/callbacks/monitored_value.h"

#include <cmath>

#include "toadstool/tensor/error.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/saved_values.h"
#include "toadstool/tensor/shape_utils.h"
#include "toadstool/train/trainer.h"

namespace toadstool::train {

const char* monitor_name(Monitor monitor) {
  switch (monitor) {
    case Monitor::automatic: return "auto";
    case Monitor::score: return "score";
    case Monitor::valid_loss: return "valid_loss";
    case Monitor::train_loss: return "train_loss";
  }
  return "?";
}

MonitoredComparison::MonitoredComparison(const std::string& monitor, const std::string& mode,
                                         double min_delta, std::string who)
    : configured_(Monitor::automatic),
      monitor_(Monitor::automatic),
      mode_(MonitorMode::automatic),
      min_delta_(min_delta),
      who_(std::move(who)) {
  if (monitor == "score") {
    monitor_ = Monitor::score;
  } else if (monitor == "valid_loss") {
    monitor_ = Monitor::valid_loss;
  } else if (monitor == "train_loss") {
    monitor_ = Monitor::train_loss;
  } else {
    TS_CHECK(monitor == "auto", who_, ": monitor must be \"auto\", \"score\", \"valid_loss\" or ",
             "\"train_loss\", got \"", monitor, "\"");
  }
  if (mode == "min") {
    mode_ = MonitorMode::min;
  } else if (mode == "max") {
    mode_ = MonitorMode::max;
  } else {
    TS_CHECK(mode == "auto", who_, ": mode must be \"auto\", \"min\" or \"max\", got \"", mode,
             "\"");
  }
  TS_CHECK(std::isfinite(min_delta) && min_delta >= 0, who_,
           ": min_delta must be finite and >= 0, got ", min_delta);
  configured_ = monitor_;
}

void MonitoredComparison::restore_monitor(Monitor saved) {
  TS_CHECK(configured_ == Monitor::automatic || saved == Monitor::automatic || saved == configured_,
           who_, ": the saved state monitors \"", monitor_name(saved), "\", this one is set to \"",
           monitor_name(configured_), "\"");
  monitor_ = saved == Monitor::automatic ? configured_ : saved;
}

std::optional<MonitoredValue> MonitoredComparison::read(const Trainer& trainer) {
  if (monitor_ == Monitor::automatic) {
    monitor_ = !std::isnan(trainer.score)          ? Monitor::score
               : !std::isnan(trainer.valid_loss()) ? Monitor::valid_loss
                                                   : Monitor::train_loss;
  }
  MonitoredValue now;
  now.tie_breaker = trainer.valid_loss();
  switch (monitor_) {
    case Monitor::score: now.value = trainer.score; break;
    case Monitor::valid_loss: now.value = trainer.valid_loss(); break;
    default: now.value = trainer.train_loss(); break;
  }
  if (std::isnan(now.value) && monitor_ == Monitor::train_loss) return std::nullopt;
  TS_CHECK(!std::isnan(now.value), who_, ": the monitored value \"", monitor_name(monitor_),
           "\" is NaN at epoch ", trainer.epoch,
           monitor_ == Monitor::score ? " (no metric callback set the trainer's score)"
                                      : " (fit without a validation loader?)");
  return now;
}

bool MonitoredComparison::higher_is_better() const {
  if (mode_ != MonitorMode::automatic) return mode_ == MonitorMode::max;
  return monitor_ == Monitor::score;
}

bool MonitoredComparison::improves(const MonitoredValue& now, const MonitoredValue& best) const {
  const bool higher = higher_is_better();
  if (higher ? now.value > best.value + min_delta_ : now.value < best.value - min_delta_) {
    return true;
  }
  // Scores such as accuracy tie often (they count examples): the lower
  // validation loss wins. A NaN tie breaker compares false.
  return monitor_ == Monitor::score && now.value == best.value &&
         now.tie_breaker < best.tie_breaker;
}

BestSoFar::BestSoFar(const std::string& monitor, const std::string& mode, double min_delta,
                     std::string who)
    : configured_(monitor, mode, min_delta, who), comparison_(configured_), who_(std::move(who)) {}

void BestSoFar::reset() {
  comparison_ = configured_;
  has_best_ = false;
  best_ = {};
  best_epoch_ = -1;
}

BestSoFar::Outcome BestSoFar::update(const Trainer& trainer) {
  const std::optional<MonitoredValue> now = comparison_.read(trainer);
  if (!now) return Outcome::unjudged;
  if (has_best_ && !comparison_.improves(*now, best_)) return Outcome::not_better;
  has_best_ = true;
  best_ = *now;
  best_epoch_ = trainer.epoch;
  return Outcome::new_best;
}

void BestSoFar::save_to(TensorDict& dict) const {
  const auto scalar = [&](const char* name, double value) {
    dict.insert(name, scalar_tensor(value, kFloat64));
  };
  scalar("has_best", has_best_ ? 1 : 0);
  scalar("best", best_.value);
  scalar("best_tie_breaker", best_.tie_breaker);
  scalar("best_epoch", static_cast<double>(best_epoch_));
  scalar("monitor", static_cast<double>(comparison_.monitor()));
}

BestSoFar BestSoFar::restored_from(const TensorDict& dict) const {
  const int64_t monitor =
      integer_entry(dict, "monitor", who_, 0, static_cast<int64_t>(Monitor::train_loss));
  BestSoFar restored = *this;
  restored.has_best_ = integer_entry(dict, "has_best", who_, 0, 1) != 0;
  restored.best_ = {scalar_entry(dict, "best", who_), scalar_entry(dict, "best_tie_breaker", who_)};
  restored.best_epoch_ = integer_entry(dict, "best_epoch", who_, -1);
  restored.comparison_ = configured_;
  restored.comparison_.restore_monitor(static_cast<Monitor>(monitor));
  return restored;
}

double scalar_entry(const TensorDict& dict, const std::string& key, const std::string& who) {
  const Tensor* tensor = dict.find(key);
  TS_CHECK(tensor != nullptr, who, ".load_state_dict: no entry '", key, "'");
  TS_CHECK(tensor->numel() == 1, who, ".load_state_dict: '", key, "' should be a scalar, got ",
           detail::describe(*tensor));
  return tensor->item<double>();
}

int64_t integer_entry(const TensorDict& dict, const std::string& key, const std::string& who,
                      int64_t lo, int64_t hi) {
  const Tensor* tensor = dict.find(key);
  TS_CHECK(tensor != nullptr, who, ".load_state_dict: no entry '", key, "'");
  return saved_integer(*tensor, who + ".load_state_dict: '" + key + "'", lo, hi);
}

}  // namespace toadstool::train
