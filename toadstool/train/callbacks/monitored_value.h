#pragma once
// The value that EarlyStopping and CheckpointCallback watch to decide what is
// "best", read at after_epoch: the trainer's score (higher is better), its
// validation loss or its training loss (lower is better).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "toadstool/tensor/checked_math.h"
#include "toadstool/tensor/tensor_dict.h"

namespace toadstool::train {

class Trainer;

// "auto" picks, at the first epoch it is read, the score if a metric
// callback has set it, else the validation loss if there is a validation
// loader, else the training loss, and keeps that choice.
enum class Monitor { automatic, score, valid_loss, train_loss };
// Whether larger is better; "auto" is max for the score, min for the losses.
enum class MonitorMode { automatic, min, max };

// One epoch's reading.
struct MonitoredValue {
  double value = 0;
  // The validation loss, which breaks an exact tie on the score (NaN when
  // there is none).
  double tie_breaker = 0;
};

class MonitoredComparison {
 public:
  // monitor: "auto", "score", "valid_loss", "train_loss"; mode: "auto",
  // "min", "max"; min_delta >= 0. Anything else is an Error naming `who`.
  MonitoredComparison(const std::string& monitor, const std::string& mode, double min_delta,
                      std::string who);

  // The monitored value now. Resolves "auto" on its first call. A NaN score
  // or validation loss is an Error (no metric callback, no validation
  // loader); a NaN training loss (an epoch that ran no training batch, such
  // as a resumed epoch whose batches were all done before its checkpoint)
  // gives nullopt: there is nothing to judge.
  std::optional<MonitoredValue> read(const Trainer& trainer);
  // Whether `now` is better than `best` by more than min_delta. With the
  // score monitored, an exact tie on the score is broken by a lower
  // validation loss.
  bool improves(const MonitoredValue& now, const MonitoredValue& best) const;

  // The resolved choice (automatic until the first read()); checkpoints save
  // it so that a resumed run compares the same value.
  Monitor monitor() const { return monitor_; }
  // Takes a saved choice. Error if this comparison was configured with
  // another monitor than "auto" and the saved one differs.
  void restore_monitor(Monitor saved);
  bool higher_is_better() const;

 private:
  Monitor configured_, monitor_;
  MonitorMode mode_;
  double min_delta_;
  std::string who_;
};

// The best epoch so far by a MonitoredComparison, as EarlyStopping and
// CheckpointCallback keep it, and its saved entries: "monitor", "has_best",
// "best", "best_tie_breaker" and "best_epoch" (float64 scalars).
class BestSoFar {
 public:
  // The arguments of MonitoredComparison; `who` names the owner in Errors.
  BestSoFar(const std::string& monitor, const std::string& mode, double min_delta, std::string who);

  // No best yet, and the monitor as configured ("auto" unresolved again).
  void reset();
  // What update() made of an epoch.
  enum class Outcome {
    unjudged,    // no reading (MonitoredComparison::read gave nullopt)
    new_best,    // the first reading, or it improves on the best
    not_better,  // a reading that does not improve on the best
  };
  // Reads the monitored value at this epoch's end and, when it is a new
  // best, records it with trainer.epoch.
  Outcome update(const Trainer& trainer);

  bool has_best() const { return has_best_; }
  const MonitoredValue& best() const { return best_; }
  int64_t best_epoch() const { return best_epoch_; }
  const MonitoredComparison& comparison() const { return comparison_; }
  Monitor monitor() const { return comparison_.monitor(); }

  // How many entries save_to writes.
  static constexpr std::size_t kEntries = 5;
  void save_to(TensorDict& dict) const;
  // A copy of this one with the state saved in `dict`, checked entry by
  // entry (Error naming `who`); this one is left as it is, so that an owner
  // that checks its own entries too can assign all of it or nothing.
  // Entries other than save_to's are ignored.
  BestSoFar restored_from(const TensorDict& dict) const;

 private:
  MonitoredComparison configured_;  // as constructed, never read
  MonitoredComparison comparison_;
  std::string who_;
  bool has_best_ = false;
  MonitoredValue best_;
  int64_t best_epoch_ = -1;
};

const char* monitor_name(Monitor monitor);

// Saved state: the value of a 0-d entry `key` of `dict`, or an Error naming
// `who` and the key.
double scalar_entry(const TensorDict& dict, const std::string& key, const std::string& who);
// The saved integer `key` of `dict`, checked to lie in [lo, hi]
// (tensor/saved_values.h); Errors name `who`.
int64_t integer_entry(const TensorDict& dict, const std::string& key, const std::string& who,
                      int64_t lo, int64_t hi = kMaxSavedCount);

}  // namespace toadstool::train
