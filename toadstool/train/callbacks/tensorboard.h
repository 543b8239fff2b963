#pragma once
// TensorBoardCallback: writes the run into a TensorBoard event file in
// `log_dir` (train/tensorboard/event_file.h; docs/tensorboard.md):
//
//   trainer.callbacks.push_back(std::make_shared<TensorBoardCallback>("runs/imdb"));
//   // then: tensorboard --logdir runs
//
// At each epoch's end, one event at step = trainer.epoch (from 0, as
// CSVLogger's epoch column) with the scalars (what CSVLogger logs, under
// TensorBoard-style tags; a value that is not known is not written):
//   loss/train, loss/valid    trainer.train_loss(), valid_loss()
//   metrics/score             trainer.score
//   optim/lr                  trainer.lr (during the epoch's last batch)
//   optim/grad_norm           mean over the epoch's steps of the gradient
//                             norm before clipping, when the trainer has a
//                             GradClipCallback clipping by norm
//   time/epoch_s              the epoch's wall time
//   profile/mfu, profile/<stage>_s
//                             with a ProfileCallback: the training pass's
//                             model FLOPs utilisation and stage times (it
//                             must come before this callback in the list
//                             when there is no validation)
// and, every `histogram_every` epochs (epoch % every == 0), one event with
// a histogram of each parameter ("weights/<name>") and of its gradient at
// the epoch's last step ("gradients/<name>", as the callbacks before this
// one at begin_optim left it: put it after a GradClipCallback to see the
// clipped gradients). The file is flushed and fsync'ed at each epoch's end.
//
// Each fit writes a new file, which starts with a SessionLog START at its
// first epoch: TensorBoard then drops what an earlier file holds from that
// epoch on (a run resumed from a checkpoint replaces the epochs after it,
// as CSVLogger drops its rows). Data parallel: rank 0 writes.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "toadstool/train/callback.h"
#include "toadstool/train/tensorboard/event.h"

namespace toadstool::train {

namespace tensorboard {
class EventFileWriter;
}

struct TensorBoardOptions {
  int64_t histogram_every = 1;  // epochs; 0: no histograms
  int64_t histogram_buckets = 30;
};

class TensorBoardCallback : public CallbackBase<TensorBoardCallback> {
 public:
  // Errors: an empty log_dir, histogram_every < 0, histogram_buckets < 1.
  // The folder is made (or found unwritable: an Error) at the first epoch.
  explicit TensorBoardCallback(std::string log_dir, TensorBoardOptions options = {});
  ~TensorBoardCallback() override;

  const std::string& log_dir() const { return log_dir_; }
  // The file of the current (or last) fit; empty before the first epoch.
  const std::string& event_file() const { return event_file_; }

  void begin_fit(Trainer& trainer) override;
  void begin_epoch(Trainer& trainer) override;
  void begin_optim(Trainer& trainer) override;
  void after_step(Trainer& trainer) override;
  void after_epoch(Trainer& trainer) override;
  void after_fit(Trainer& trainer) override;

 private:
  bool histogram_epoch(const Trainer& trainer) const;

  std::string log_dir_;
  TensorBoardOptions options_;
  std::unique_ptr<tensorboard::EventFileWriter> writer_;
  std::string event_file_;
  double epoch_start_ = 0;
  double grad_norm_sum_ = 0;
  int64_t grad_norm_count_ = 0;
  std::vector<tensorboard::SummaryValue> gradients_;  // of the epoch's last step
};

}  // namespace toadstool::train
