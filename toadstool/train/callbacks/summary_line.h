#pragma once
// Text shared by MonitorCallback, SimpleMonitorCallback and CSVLogger: number
// and duration formats, and the one-line summary of an epoch.
#include <string>

namespace toadstool::train {

class Trainer;

namespace monitor_text {

// 4 significant digits ("0.1235", "1.235e-05"); "nan" / "inf" as such.
std::string number(double value);
// "12.3s" under a minute, then "4:05", then "1:02:03".
std::string duration(double seconds);
// "epoch 2/10  train_loss 0.4321  valid_loss 0.5432  score 0.91  [lr 0.001  ]time 3.2s";
// valid_loss only with a validation loader, score only once set (not NaN).
std::string epoch_summary(const Trainer& trainer, double seconds, bool with_lr);

}  // namespace monitor_text
}  // namespace toadstool::train
