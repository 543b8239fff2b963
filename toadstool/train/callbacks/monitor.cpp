#include "toadstool/train/callbacks/monitor.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>

#include "toadstool/tensor/error.h"
#include "toadstool/train/callbacks/steady_seconds.h"
#include "toadstool/train/callbacks/summary_line.h"

namespace toadstool::train {
namespace {

bool is_terminal(const std::ostream* out, TerminalMode mode) {
  if (mode != TerminalMode::automatic) return mode == TerminalMode::yes;
  if (out == &std::cout) return ::isatty(STDOUT_FILENO) == 1;
  if (out == &std::cerr || out == &std::clog) return ::isatty(STDERR_FILENO) == 1;
  return false;  // a file or string stream
}

std::string stage_label(const Trainer& trainer) {
  const std::string epoch =
      "epoch " + std::to_string(trainer.epoch + 1) + "/" + std::to_string(trainer.epochs);
  switch (trainer.stage) {
    case Stage::train: return epoch + " train";
    case Stage::validate: return epoch + " valid";
    default: return stage_name(trainer.stage);
  }
}

}  // namespace

MonitorCallback::MonitorCallback(MonitorOptions options)
    : options_(std::move(options)),
      out_(options_.out != nullptr ? *options_.out : std::cerr),
      terminal_(is_terminal(&out_, options_.terminal)) {
  TS_CHECK(options_.refresh_s >= 0 && options_.line_interval_s >= 0,
           "MonitorCallback: refresh_s and line_interval_s must be >= 0, got ", options_.refresh_s,
           " and ", options_.line_interval_s);
  TS_CHECK(options_.bar_width >= 0, "MonitorCallback: bar_width must be >= 0, got ",
           options_.bar_width);
  if (!options_.clock) options_.clock = steady_seconds;
}

void MonitorCallback::begin_epoch(Trainer& /*trainer*/) { epoch_start_ = options_.clock(); }

void MonitorCallback::all_batches(Trainer& /*trainer*/) {
  pass_start_ = last_draw_ = options_.clock();
  done_ = 0;
}

// The only place that reads the loss: when the refresh interval has passed.
void MonitorCallback::after_batch(Trainer& trainer) {
  ++done_;
  if (!trainer.is_main_process()) return;  // data parallel: rank 0 prints
  const double now = options_.clock();
  const double interval = terminal_ ? options_.refresh_s : options_.line_interval_s;
  if (now - last_draw_ < interval) return;
  last_draw_ = now;
  draw(trainer, now);
}

std::string MonitorCallback::progress_text(const Trainer& trainer, double now) const {
  // Position in the pass counts batches skipped by a resume; the rate only
  // those run here.
  const int64_t position = trainer.batch + 1, total = trainer.batches;
  std::string text = stage_label(trainer);
  if (terminal_ && options_.bar_width > 0) {
    const int64_t filled =
        total > 0 ? std::min<int64_t>(options_.bar_width, position * options_.bar_width / total)
                  : 0;
    text += " [" + std::string(filled, '#') + std::string(options_.bar_width - filled, '-') + "]";
  }
  // Appended piece by piece: `" " + std::to_string(...)` trips GCC 12's
  // -Wrestrict false positive.
  text.append(" ").append(std::to_string(position)).append("/").append(std::to_string(total));
  if (trainer.stage == Stage::train) text += "  step " + std::to_string(trainer.step);
  const double elapsed = now - pass_start_;
  if (elapsed > 0 && done_ > 0) {
    const double rate = static_cast<double>(done_) / elapsed;
    text += "  " + monitor_text::number(rate) + " it/s  ETA " +
            monitor_text::duration(static_cast<double>(total - position) / rate);
  }
  if (trainer.stage != Stage::predict)
    text += "  loss " + monitor_text::number(trainer.mean_loss());
  if (options_.track_lr && trainer.stage == Stage::train) {
    text += "  lr " + monitor_text::number(trainer.lr);
  }
  return text;
}

void MonitorCallback::draw(const Trainer& trainer, double now) {
  const std::string text = progress_text(trainer, now);
  if (!terminal_) {
    out_ << text << '\n' << std::flush;
    return;
  }
  // Overwrite the previous bar, padding with spaces where it was longer.
  out_ << '\r' << text;
  if (text.size() < bar_on_screen_) out_ << std::string(bar_on_screen_ - text.size(), ' ');
  out_ << std::flush;
  bar_on_screen_ = std::max<size_t>(text.size(), 1);
}

void MonitorCallback::end_bar() {
  if (bar_on_screen_ == 0) return;
  out_ << '\r' << std::string(bar_on_screen_, ' ') << '\r';
  bar_on_screen_ = 0;
}

void MonitorCallback::write_line(const std::string& line) {
  end_bar();
  out_ << line << '\n' << std::flush;
}

void MonitorCallback::after_epoch(Trainer& trainer) {
  if (!trainer.is_main_process()) return;
  write_line(
      monitor_text::epoch_summary(trainer, options_.clock() - epoch_start_, options_.track_lr));
}

void MonitorCallback::after_eval(Trainer& trainer) {
  if (!trainer.is_main_process()) return;
  std::string line = "eval  loss " + monitor_text::number(trainer.mean_loss());
  if (!std::isnan(trainer.score)) line += "  score " + monitor_text::number(trainer.score);
  write_line(line + "  time " + monitor_text::duration(options_.clock() - pass_start_));
}

void MonitorCallback::after_predict(Trainer& trainer) {
  if (!trainer.is_main_process()) return;
  write_line("predict  " + std::to_string(done_) + " batches  time " +
             monitor_text::duration(options_.clock() - pass_start_));
}

// A fit ended by an error or a cancel may leave a bar on screen.
void MonitorCallback::after_fit(Trainer& /*trainer*/) {
  end_bar();
  out_ << std::flush;
}

}  // namespace toadstool::train
