#pragma once
// Grad mode: whether ops record the tape. Thread-local, on by default, so a
// data-loading or evaluation thread can turn it off without affecting others.
namespace toadstool::autograd {

bool is_grad_enabled();
void set_grad_enabled(bool enabled);

}  // namespace toadstool::autograd

namespace toadstool {

// RAII: no recording inside the scope (evaluation, optimizer steps). Restores
// the previous mode on exit, so guards nest.
class NoGradGuard {
 public:
  NoGradGuard() : previous_(autograd::is_grad_enabled()) { autograd::set_grad_enabled(false); }
  ~NoGradGuard() { autograd::set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// RAII: recording on inside the scope, even within a NoGradGuard.
class EnableGradGuard {
 public:
  EnableGradGuard() : previous_(autograd::is_grad_enabled()) { autograd::set_grad_enabled(true); }
  ~EnableGradGuard() { autograd::set_grad_enabled(previous_); }
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace toadstool
