#pragma once
// The callbacks' clock for durations (epoch and line times): seconds on the
// steady clock, whose zero is arbitrary.
#include <chrono>

namespace toadstool::train {

inline double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace toadstool::train
