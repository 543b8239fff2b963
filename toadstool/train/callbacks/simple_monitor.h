#pragma once
// SimpleMonitorCallback: one line per epoch, nothing in between:
//   epoch 2/10  train_loss 0.4321  valid_loss 0.5012  score 0.91  time 2.0s
// (valid_loss with a validation loader, score once a metric callback set
// it: put this callback after those.) It reads the epoch's mean losses the
// trainer already computed, so it adds no device sync.
#include <iosfwd>

#include "toadstool/train/callback.h"
#include "toadstool/train/trainer.h"

namespace toadstool::train {

class SimpleMonitorCallback : public CallbackBase<SimpleMonitorCallback> {
 public:
  // `out` (std::cout by default: the lines are the run's results) must
  // outlive the callback.
  explicit SimpleMonitorCallback(std::ostream* out = nullptr, bool track_lr = false);

  void begin_epoch(Trainer& trainer) override;
  void after_epoch(Trainer& trainer) override;

 private:
  std::ostream& out_;
  bool track_lr_;
  double epoch_start_ = 0;
};

}  // namespace toadstool::train
