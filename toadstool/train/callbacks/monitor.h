#pragma once
// MonitorCallback: live progress of fit / eval / predict.
//
// In a terminal, one line redrawn in place ('\r') at most every refresh_s
// seconds of wall time:
//   epoch 2/10 train [########------------] 41/100  step 141  52.3 it/s  ETA 1.1s  loss 0.4321
// then, at the end of each epoch, its summary on a line of its own:
//   epoch 2/10  train_loss 0.4321  valid_loss 0.5012  score 0.91  time 2.0s
// Validation batches get the same bar, labelled "valid"; eval and predict
// passes "eval" and "predict", each ending with a summary line.
// When the output is not a terminal (a log file, CI), the same progress text
// is written as plain lines, at most one every line_interval_s seconds.
//
// Cost: the loss shown is the mean over the pass so far (trainer.mean_loss(),
// a running sum the trainer keeps on the device); the monitor reads it only
// when it draws, so it syncs with the device at most once a refresh, and it
// keeps no per-batch history (O(1) memory).
//
// Put it after the callbacks that set `score` (metric callbacks) so that
// its summary lines show the new score.
#include <functional>
#include <iosfwd>
#include <string>

#include "toadstool/train/callback.h"
#include "toadstool/train/trainer.h"

namespace toadstool::train {

enum class TerminalMode {
  automatic,  // a terminal when out is std::cout / std::cerr / std::clog and that fd isatty
  yes,
  no,
};

struct MonitorOptions {
  // Where to write; std::cerr by default, as tqdm does, so that stdout keeps
  // only the program's results. Must outlive the callback.
  std::ostream* out = nullptr;
  TerminalMode terminal = TerminalMode::automatic;
  // Terminal: redraw at most this often (seconds). 0: after every batch.
  double refresh_s = 0.1;
  // Not a terminal: one progress line at most this often (seconds); 0:
  // after every batch. The epoch summaries are always written.
  double line_interval_s = 10;
  // Show the learning rate (trainer.lr) on the bar and in the summaries.
  bool track_lr = false;
  // Characters inside the terminal bar's brackets.
  int bar_width = 20;
  // Seconds from any fixed origin; a steady clock by default (tests inject one).
  std::function<double()> clock;
};

class MonitorCallback : public CallbackBase<MonitorCallback> {
 public:
  explicit MonitorCallback(MonitorOptions options = {});

  void begin_epoch(Trainer& trainer) override;
  void all_batches(Trainer& trainer) override;
  void after_batch(Trainer& trainer) override;
  void after_epoch(Trainer& trainer) override;
  void after_eval(Trainer& trainer) override;
  void after_predict(Trainer& trainer) override;
  void after_fit(Trainer& trainer) override;

  // Whether it draws a bar in place (else plain lines).
  bool terminal() const { return terminal_; }

 private:
  std::string progress_text(const Trainer& trainer, double now) const;
  void draw(const Trainer& trainer, double now);
  // Clears a bar left on screen so the next text starts on a clean line.
  void end_bar();
  void write_line(const std::string& line);

  MonitorOptions options_;
  std::ostream& out_;
  bool terminal_;
  double epoch_start_ = 0, pass_start_ = 0, last_draw_ = 0;
  int64_t done_ = 0;          // batches run in this pass (after_batch seen)
  size_t bar_on_screen_ = 0;  // width of the bar drawn last, 0 when none
};

}  // namespace toadstool::train
