#pragma once
// Ctrl-C during Trainer::fit: while a SigintGuard lives, the first SIGINT
// only raises a flag that the trainer polls between batches (so the fit ends
// through cancelled_training and after_fit, and a checkpoint callback can
// save); the handler resets itself, so a second Ctrl-C ends the process as
// usual. The previous handler is restored when the guard goes.
#include <csignal>

namespace toadstool::train {

class SigintGuard {
 public:
  explicit SigintGuard(bool enabled);
  ~SigintGuard();
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;
  // Whether a SIGINT arrived since the guard was made.
  static bool received();

 private:
  bool installed_ = false;
  struct sigaction previous_ {};
};

}  // namespace toadstool::train
