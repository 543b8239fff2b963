#pragma once
// CheckpointCallback: saves checkpoints (train/checkpoint.h) of the run into
// a folder every N epochs or N optimizer steps, keeps the last k and the
// best, resumes from the newest, and saves on the way out when the fit is
// cancelled or interrupted (Ctrl-C). docs/checkpoints.md has the layout.
//
//   auto checkpoints = std::make_shared<CheckpointCallback>(
//       "runs/mlp", CheckpointOptions{.keep_last = 2, .resume = true});
//   Trainer trainer(model, optimizer, loss, {metrics, early_stopping, checkpoints});
//   trainer.fit(20, train_loader, &valid_loader);   // continues an earlier run
//   load_checkpoint_weights(best_checkpoint("runs/mlp"), *model);
#include <cstdint>
#include <string>
#include <vector>

#include "toadstool/train/callback.h"
#include "toadstool/train/callbacks/monitored_value.h"
#include "toadstool/train/checkpoint.h"

namespace toadstool::train {

struct CheckpointOptions {
  // Save every `every` epochs (at after_epoch), or with on_step every
  // `every` optimizer steps (at after_step).
  int64_t every = 1;
  bool on_step = false;
  // How many of the newest checkpoints to keep (>= 1); older ones are
  // removed once latest.json no longer names them (the best one stays).
  int64_t keep_last = 2;
  // Also keep the checkpoint of the best epoch (best.json), judged at each
  // after_epoch by `monitor` / `mode` / `min_delta` (monitored_value.h: the
  // score if set, else the validation loss, else the training loss). A new
  // best epoch is saved even when it is not on the every-N schedule.
  bool save_best = true;
  std::string monitor = "auto";
  std::string mode = "auto";
  double min_delta = 0;
  // At begin_fit, restore the checkpoint latest.json names, if there is one
  // (a missing folder or pointer starts fresh, with a message when verbose;
  // a corrupt one is an Error).
  bool resume = false;
  // At after_fit of a cancelled or interrupted fit, save where it got to.
  bool save_on_exit = true;
  // One line on std::clog when resuming, starting fresh, or saving on exit.
  bool verbose = true;
};

class CheckpointCallback : public CallbackBase<CheckpointCallback> {
 public:
  explicit CheckpointCallback(std::string outdir, CheckpointOptions options = {});

  void begin_fit(Trainer& trainer) override;
  void after_step(Trainer& trainer) override;
  void after_epoch(Trainer& trainer) override;
  void cancelled_training(Trainer& trainer) override;
  void after_fit(Trainer& trainer) override;

  // The best value and the resolved monitor, so that a resumed run keeps
  // judging against them.
  TensorDict state_dict() const override;
  void load_state_dict(const TensorDict& dict) override;

  const std::string& outdir() const { return outdir_; }
  const CheckpointOptions& options() const { return options_; }
  // The folder this fit resumed from ("" if it started fresh).
  const std::string& resumed_from() const { return resumed_from_; }
  // Saves a checkpoint of `trainer` resuming at `at` now; `is_best` also
  // points best.json at it. Returns its folder. The hooks call this.
  std::string save(const Trainer& trainer, const ResumePoint& at, bool is_best);

 private:
  // Where the run has got to, for the checkpoint saved on the way out: the
  // last after_step or after_epoch (the model and optimizer change only at
  // steps). The loader state of a point inside an epoch is that epoch's
  // trainer.epoch_loader_state, read when saving.
  struct Progress {
    int64_t epoch = 0, skip_batches = 0, step = 0;
    bool inside_epoch = false;
    TensorDict loader_state;  // of a point at an epoch's end
    Generator::State generator;
  };
  void warn_about_later_stateful_callbacks(const Trainer& trainer) const;
  void remove_leftover_temporaries() const;
  std::string new_folder_name(const ResumePoint& at) const;

  std::string outdir_;
  CheckpointOptions options_;
  BestSoFar best_;

  std::vector<std::string> recent_;  // folder names, oldest first
  std::string best_folder_;
  std::string resumed_from_;
  Progress progress_;
  int64_t saved_epoch_ = -1, saved_skip_ = -1, saved_step_ = -1;  // the last save's position
  bool cancelled_ = false;
  bool main_process_ = true;  // rank 0 (or no process group): writes checkpoints
};

// The checkpoint folder that <outdir>/latest.json or best.json names, or ""
// when the pointer file does not exist. Error naming the file when it is
// corrupt or names a folder that is not in `outdir`.
std::string latest_checkpoint(const std::string& outdir);
std::string best_checkpoint(const std::string& outdir);

}  // namespace toadstool::train
