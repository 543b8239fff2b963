#include "toadstool/train/callbacks/simple_monitor.h"

#include <iostream>

#include "toadstool/train/callbacks/steady_seconds.h"
#include "toadstool/train/callbacks/summary_line.h"

namespace toadstool::train {
SimpleMonitorCallback::SimpleMonitorCallback(std::ostream* out, bool track_lr)
    : out_(out != nullptr ? *out : std::cout), track_lr_(track_lr) {}

void SimpleMonitorCallback::begin_epoch(Trainer& /*trainer*/) { epoch_start_ = steady_seconds(); }

void SimpleMonitorCallback::after_epoch(Trainer& trainer) {
  if (!trainer.is_main_process()) return;  // data parallel: rank 0 prints
  out_ << monitor_text::epoch_summary(trainer, steady_seconds() - epoch_start_, track_lr_) << '\n'
       << std::flush;
}

}  // namespace toadstool::train
