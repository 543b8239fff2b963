#include "toadstool/train/sigint.h"

namespace toadstool::train {
namespace {

volatile std::sig_atomic_t sigint_flag = 0;

extern "C" void on_sigint(int /*signal*/) { sigint_flag = 1; }

}  // namespace

SigintGuard::SigintGuard(bool enabled, bool data_parallel) {
  sigint_flag = 0;
  if (!enabled) return;
  struct sigaction action {};
  action.sa_handler = on_sigint;
  sigemptyset(&action.sa_mask);
  // SA_RESETHAND: the handler is used once; a second Ctrl-C is the default
  // action (the process ends).
  action.sa_flags = SA_RESETHAND;
  installed_ = sigaction(SIGINT, &action, &previous_) == 0;
  if (data_parallel) {
    extra_installed_ = sigaction(SIGUSR1, &action, &previous_sigusr1_) == 0 &&
                       sigaction(SIGTERM, &action, &previous_sigterm_) == 0;
  }
}

SigintGuard::~SigintGuard() {
  if (installed_) sigaction(SIGINT, &previous_, nullptr);
  if (extra_installed_) {
    sigaction(SIGUSR1, &previous_sigusr1_, nullptr);
    sigaction(SIGTERM, &previous_sigterm_, nullptr);
  }
}

bool SigintGuard::received() { return sigint_flag != 0; }

}  // namespace toadstool::train
