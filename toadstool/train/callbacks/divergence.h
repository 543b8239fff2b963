#pragma once
// DivergenceCallback: a guard against a training run that diverges. At each
// training batch's after_loss it reads the loss; a loss that is NaN or
// infinite, or more than `explode_factor` times the running mean of the
// losses before it, is a divergence, and the callback does what the user
// chose, says so on rank 0 (one line) and skips the batch (CancelBatch:
// no backward, no step, the loss not counted):
//
//   Action::skip      only skip the batch;
//   Action::rollback  also restore the model and the optimizer to the
//                     last good state: a copy taken at a batch whose loss
//                     was good, at most every `snapshot_every` steps (and
//                     at begin_fit); the gradients of an unfinished
//                     accumulation window are dropped;
//   Action::lower_lr  also multiply every parameter group's learning
//                     rate by `lr_factor`.
//
// After `max_events` divergences in one fit it gives up: an Error naming the
// epoch, batch and loss. It reads the loss each training batch, as the
// trainer's own finite-loss check does (TrainerOptions::check_finite_loss,
// which runs after after_loss, so it never sees a batch this callback
// cancelled). Put it after callbacks that change the loss. Data parallel: the ranks
// agree (a divergence on any rank is one on every rank), so they skip,
// roll back or lower the LR together.
#include <cstdint>
#include <iosfwd>
#include <string>

#include "toadstool/tensor/tensor_dict.h"
#include "toadstool/train/callback.h"
#include "toadstool/train/trainer.h"

namespace toadstool::train {

struct DivergenceOptions {
  enum class Action { skip, rollback, lower_lr };
  Action action = Action::skip;
  // A finite loss above explode_factor x the running mean of the finite
  // losses before it (an exponential mean, weight `smoothing` on the newest)
  // diverges; after `warmup` losses only. 0 checks non-finite losses alone.
  double explode_factor = 0;
  double smoothing = 0.1;
  int64_t warmup = 10;
  double lr_factor = 0.5;       // Action::lower_lr
  int64_t snapshot_every = 10;  // Action::rollback: steps between snapshots
  int64_t max_events = 10;      // per fit; more is an Error
  bool verbose = true;
  std::ostream* out = nullptr;  // std::clog by default
};

class DivergenceCallback : public CallbackBase<DivergenceCallback> {
 public:
  explicit DivergenceCallback(DivergenceOptions options = {});

  void begin_fit(Trainer& trainer) override;
  void after_loss(Trainer& trainer) override;

  // Divergences handled in the current (or last) fit.
  int64_t events() const { return events_; }

 private:
  bool diverged(double loss) const;
  void take_snapshot(Trainer& trainer);
  void act(Trainer& trainer, double loss);

  DivergenceOptions options_;
  double mean_ = 0;
  int64_t seen_ = 0;
  int64_t events_ = 0;
  TensorDict model_snapshot_, optimizer_snapshot_;
  int64_t snapshot_step_ = -1;
};

}  // namespace toadstool::train
