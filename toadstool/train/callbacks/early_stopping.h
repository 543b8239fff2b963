#pragma once
// EarlyStopping: ends the fit once the monitored value (monitored_value.h:
// the score if a metric callback sets it, else the validation loss, else the
// training loss) has not improved for `patience` epochs in a row, and at the
// end puts back the weights of the best epoch. It asks the trainer to stop
// through trainer.stop_training (not a cancel: the fit ends as a complete one).
//
//   auto stop = std::make_shared<EarlyStopping>(EarlyStoppingOptions{.patience = 3});
#include <cstdint>
#include <string>

#include "toadstool/train/callback.h"
#include "toadstool/train/callbacks/monitored_value.h"

namespace toadstool::train {

struct EarlyStoppingOptions {
  // "auto", "score", "valid_loss", "train_loss"; mode "auto" (max for the
  // score, min for the losses), "min" or "max".
  std::string monitor = "auto";
  std::string mode = "auto";
  // Epochs in a row without improvement after which the fit stops (at that
  // epoch's after_epoch). 0 and 1 both stop at the first epoch that does
  // not improve, as in Keras and Lightning.
  int64_t patience = 3;
  // An improvement must beat the best by more than this.
  double min_delta = 0;
  // Keep a copy of the best epoch's weights (in memory, and in checkpoints)
  // and load it into the model when the fit ends normally (all epochs run,
  // or stopped early); not after a cancel, Ctrl-C or an Error, where the
  // model stays as it was so that a checkpoint saved on the way out can
  // resume from it.
  bool restore_best_weights = true;
  // One line on std::clog when stopping.
  bool verbose = true;
};

class EarlyStopping : public CallbackBase<EarlyStopping> {
 public:
  explicit EarlyStopping(EarlyStoppingOptions options = {});
  explicit EarlyStopping(int64_t patience)
      : EarlyStopping(EarlyStoppingOptions{.patience = patience}) {}

  void begin_fit(Trainer& trainer) override;
  void after_epoch(Trainer& trainer) override;
  void cancelled_training(Trainer& trainer) override;
  void after_fit(Trainer& trainer) override;

  // has_best, best, best_tie_breaker, best_epoch, wait, stopped_epoch,
  // monitor, and best_weights.<name> (the copy of the best weights).
  TensorDict state_dict() const override;
  void load_state_dict(const TensorDict& dict) override;

  const EarlyStoppingOptions& options() const { return options_; }
  bool has_best() const { return best_.has_best(); }
  double best_value() const { return best_.best().value; }
  int64_t best_epoch() const { return best_.best_epoch(); }
  // Epochs in a row without improvement so far.
  int64_t wait() const { return wait_; }
  // The epoch after which it stopped the fit, or -1.
  int64_t stopped_epoch() const { return stopped_epoch_; }
  Monitor monitor() const { return best_.monitor(); }

 private:
  void reset();

  EarlyStoppingOptions options_;
  BestSoFar best_;
  int64_t wait_ = 0;
  int64_t stopped_epoch_ = -1;
  TensorDict best_weights_;
  // load_state_dict ran since the last fit: begin_fit keeps that state.
  bool restored_ = false;
  bool cancelled_ = false;
};

}  // namespace toadstool::train
