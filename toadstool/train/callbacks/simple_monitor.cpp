#include "toadstool/train/callbacks/simple_monitor.h"

#include <chrono>
#include <iostream>

#include "toadstool/train/callbacks/summary_line.h"

namespace toadstool::train {
namespace {

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

SimpleMonitorCallback::SimpleMonitorCallback(std::ostream* out, bool track_lr)
    : out_(out != nullptr ? *out : std::cout), track_lr_(track_lr) {}

void SimpleMonitorCallback::begin_epoch(Trainer& /*trainer*/) { epoch_start_ = steady_seconds(); }

void SimpleMonitorCallback::after_epoch(Trainer& trainer) {
  if (!trainer.is_main_process()) return;  // data parallel: rank 0 prints
  out_ << monitor_text::epoch_summary(trainer, steady_seconds() - epoch_start_, track_lr_) << '\n'
       << std::flush;
}

}  // namespace toadstool::train
