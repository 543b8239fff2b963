#pragma once
// The charts of a training run, drawn from what PlotCallback collects or
// from the CSV files CSVLogger and LRFinderCallback write (csv_logs.h):
//   loss       training and validation loss per epoch
//   score      the score (accuracy, F1...) per epoch, when any epoch has one
//   lr         the learning rate per epoch
//   lr_finder  the LR finder's loss against a log-scale lr, raw and
//              smoothed, with the suggested lr marked
// each as <name>.png and <name>.svg (chart.h).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "toadstool/train/callbacks/lr_finder.h"

namespace toadstool::train::plot {

// One epoch, as a CSVLogger row; NaN where a value is not known.
struct EpochRecord {
  int64_t epoch;
  double train_loss, valid_loss, score, lr;
};

// Writes the loss, score and lr charts into `dir` (which must exist) and
// returns the stems written ("<dir>/loss", ...). Errors: no records;
// write_chart's.
std::vector<std::string> write_epoch_charts(const std::vector<EpochRecord>& records,
                                            const std::string& dir);

// Writes `stem`.png and .svg; `suggestion` indexes `curve` (none: no
// marker). Errors: an empty curve; write_chart's.
void write_lr_finder_chart(const std::vector<LRFinderPoint>& curve,
                           std::optional<size_t> suggestion, const std::string& stem);

}  // namespace toadstool::train::plot
