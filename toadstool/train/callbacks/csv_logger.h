#pragma once
// CSVLogger: one row per epoch in a CSV file, header first:
//   epoch,step,train_loss,valid_loss,score,lr,time_s
//   0,938,0.5123,0.4411,0.8412,0.001,3.21
// epoch is trainer.epoch (from 0, as Keras's CSVLogger and the checkpoints
// count); step is the optimizer steps so far; lr is trainer.lr during the
// epoch's last batch; time_s the epoch's wall time. A value that is not known
// (no validation, no score) is an empty field; pandas reads it as NaN.
//
// Each row is written with one write() on a file opened for appending and
// fsync'ed, so a crash loses at most the row being written.
//
// An existing file (append = true, the default) is kept and continued: a fit
// that starts at epoch e (0, or where a resumed run picks up) keeps the rows
// of epochs before e and drops those from e on (they belong to the run being
// replaced), and a torn last line is dropped; the file is only rewritten
// atomically (tensor/atomic_file.h), so it is never left half-written. A
// file whose header differs is an Error (it is not ours: nothing is
// written). append = false starts a new file at each fit.
#include <cstdint>
#include <string>

#include "toadstool/train/callback.h"
#include "toadstool/train/trainer.h"

namespace toadstool::train {

class CSVLogger : public CallbackBase<CSVLogger> {
 public:
  explicit CSVLogger(std::string path, bool append = true);
  ~CSVLogger() override;
  CSVLogger(const CSVLogger&) = delete;
  CSVLogger& operator=(const CSVLogger&) = delete;

  void begin_fit(Trainer& trainer) override;
  void begin_epoch(Trainer& trainer) override;
  void after_epoch(Trainer& trainer) override;
  void after_fit(Trainer& trainer) override;

  static const char* header() { return "epoch,step,train_loss,valid_loss,score,lr,time_s"; }
  const std::string& path() const { return path_; }

 private:
  // Prepares the file for a fit whose first epoch is `first_epoch`.
  void open(int64_t first_epoch);
  void close();

  std::string path_;
  bool append_;
  int fd_ = -1;
  double epoch_start_ = 0;
};

}  // namespace toadstool::train
