#include "toadstool/train/callbacks/summary_line.h"

#include <cmath>
#include <cstdio>

#include "toadstool/train/trainer.h"

namespace toadstool::train::monitor_text {

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", value);
  return text;
}

std::string duration(double seconds) {
  char text[32];
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  if (seconds < 60) {
    std::snprintf(text, sizeof text, "%.1fs", seconds);
    return text;
  }
  const auto total = static_cast<long long>(seconds);
  const long long hours = total / 3600, minutes = total / 60 % 60, secs = total % 60;
  if (hours > 0) {
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", hours, minutes, secs);
  } else {
    std::snprintf(text, sizeof text, "%lld:%02lld", minutes, secs);
  }
  return text;
}

std::string epoch_summary(const Trainer& trainer, double seconds, bool with_lr) {
  std::string line = "epoch " + std::to_string(trainer.epoch + 1) + "/" +
                     std::to_string(trainer.epochs) + "  train_loss " +
                     number(trainer.train_loss());
  if (trainer.valid_loader != nullptr) line += "  valid_loss " + number(trainer.valid_loss());
  if (!std::isnan(trainer.score)) line += "  score " + number(trainer.score);
  if (with_lr) line += "  lr " + number(trainer.lr);
  return line + "  time " + duration(seconds);
}

}  // namespace toadstool::train::monitor_text
