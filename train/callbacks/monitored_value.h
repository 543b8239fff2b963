#pragma once
// The value that EarlyStopping and CheckpointCallback watch to decide what is
// "best", read at after_epoch: the trainer's score (higher is better), its
// validation loss or its training loss (lower is better).
#include <optional>
#include <string>

#include "tensor/tensor_dict.h"

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

const char* monitor_name(Monitor monitor);

// Saved state: the value of a 0-d entry `key` of `dict`, or an Error naming
// `who` and the key.
double scalar_entry(const TensorDict& dict, const std::string& key, const std::string& who);

}  // namespace toadstool::train
