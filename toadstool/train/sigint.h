#pragma once
// Ctrl-C during Trainer::fit: while a SigintGuard lives, the first SIGINT
// only raises a flag that the trainer polls between batches (so the fit ends
// through cancelled_training and after_fit, and a checkpoint callback can
// save); the handler resets itself, so a second Ctrl-C ends the process as
// usual. The previous handler is restored when the guard goes.
//
// With data_parallel (the trainer with a process group), SIGUSR1 and
// SIGTERM are stop requests too: Open MPI's mpirun forwards SIGUSR1 to every
// rank (scripts/imdb_distributed.sh turns a Ctrl-C into one), and answers a
// Ctrl-C of its own with SIGTERM to every rank followed by SIGKILL
// odls_base_sigkill_timeout seconds later (1 by default).
#include <csignal>

namespace toadstool::train {

class SigintGuard {
 public:
  explicit SigintGuard(bool enabled, bool data_parallel = false);
  ~SigintGuard();
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;
  // Whether a SIGINT (or, data parallel, a SIGUSR1 or SIGTERM) arrived
  // since the guard was made.
  static bool received();

 private:
  bool installed_ = false;
  bool extra_installed_ = false;  // SIGUSR1 and SIGTERM
  struct sigaction previous_ {};
  struct sigaction previous_sigusr1_ {};
  struct sigaction previous_sigterm_ {};
};

}  // namespace toadstool::train
