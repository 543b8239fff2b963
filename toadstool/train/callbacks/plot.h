#pragma once
// PlotCallback: charts of the run in a folder, redrawn at each epoch's end
// (train/plot/run_charts.h): loss.png (training and validation loss),
// score.png (when a metric callback sets trainer.score), lr.png, each also
// as .svg. At the end of a fit with an LRFinderCallback it draws that
// finder's curve with its suggestion marked (lr_finder.png) instead.
//
//   trainer.callbacks.push_back(std::make_shared<PlotCallback>("runs/mnist"));
//
// The epochs drawn are kept in its state (checkpoints save them), so a run
// resumed from a checkpoint draws the whole run; a fit starting at epoch e
// drops the epochs from e on, as CSVLogger drops its rows. Data parallel:
// rank 0 draws. The charts are written atomically.
#include <string>
#include <vector>

#include "toadstool/train/callback.h"
#include "toadstool/train/plot/run_charts.h"

namespace toadstool::train {

class PlotCallback : public CallbackBase<PlotCallback> {
 public:
  // Errors: an empty folder; a build without cairo (TOADSTOOL_PLOTS). The
  // folder is made at the first epoch.
  explicit PlotCallback(std::string dir);

  const std::string& dir() const { return dir_; }
  const std::vector<plot::EpochRecord>& records() const { return records_; }
  // The charts written last ("<dir>/loss", ...: add .png or .svg).
  const std::vector<std::string>& written() const { return written_; }

  void begin_fit(Trainer& trainer) override;
  void begin_epoch(Trainer& trainer) override;
  void after_epoch(Trainer& trainer) override;
  void after_fit(Trainer& trainer) override;

  // "records": [epochs, 5] float64, rows (epoch, train_loss, valid_loss, score, lr).
  TensorDict state_dict() const override;
  void load_state_dict(const TensorDict& dict) override;

 private:
  void make_dir() const;

  std::string dir_;
  std::vector<plot::EpochRecord> records_;
  std::vector<std::string> written_;
  bool restored_ = false;     // a checkpoint restored records_ for this fit
  bool fit_started_ = false;  // this fit's first epoch has begun
};

}  // namespace toadstool::train
