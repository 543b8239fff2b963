#pragma once
// TimerCallback: where a fit's wall time goes, epoch by epoch (the original
// Toadstool's timer): the training pass, its batches (from begin_batch to
// after_batch: mean and slowest) and the validation pass, one line per
// epoch on rank 0, and the fit's total at its end:
//
//   timer: epoch 1  train 12.31s (938 batches, mean 13.1ms, max 40.2ms)  valid 1.20s  epoch 13.52s
//   timer: fit 27.10s, 2 epochs
//
// Host times: with the model on a GPU the kernels run asynchronously, so a
// batch's time is what the host waited for; the pass and epoch times are
// exact, since each pass ends with a device sync (its mean loss).
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <vector>

#include "toadstool/train/callback.h"
#include "toadstool/train/trainer.h"

namespace toadstool::train {

struct EpochTimes {
  int64_t epoch = 0;        // trainer.epoch (from 0)
  double train_s = 0;       // begin_epoch .. the end of the training pass
  double valid_s = 0;       // begin_validate .. after_validate (0 without validation)
  double epoch_s = 0;       // begin_epoch .. after_epoch
  int64_t batches = 0;      // training batches timed
  double batch_mean_s = 0;  // their mean time
  double batch_max_s = 0;   // the slowest
};

class TimerCallback : public CallbackBase<TimerCallback> {
 public:
  // `out` (std::clog by default) must outlive the callback; null with
  // verbose = false prints nothing (epochs() still fills).
  explicit TimerCallback(std::ostream* out = nullptr, bool verbose = true);

  void begin_fit(Trainer& trainer) override;
  void begin_epoch(Trainer& trainer) override;
  void begin_batch(Trainer& trainer) override;
  void after_batch(Trainer& trainer) override;
  void begin_validate(Trainer& trainer) override;
  void after_validate(Trainer& trainer) override;
  void after_epoch(Trainer& trainer) override;
  void after_fit(Trainer& trainer) override;

  // The epochs of the current (or last) fit, in order.
  const std::vector<EpochTimes>& epochs() const { return epochs_; }
  double fit_seconds() const { return fit_s_; }

 private:
  using Clock = std::chrono::steady_clock;
  static double seconds_since(Clock::time_point start);

  std::ostream& out_;
  bool verbose_;
  Clock::time_point fit_start_, epoch_start_, batch_start_, validate_start_;
  EpochTimes current_;
  double batch_sum_s_ = 0;
  bool in_validation_ = false;
  std::vector<EpochTimes> epochs_;
  double fit_s_ = 0;
};

}  // namespace toadstool::train
