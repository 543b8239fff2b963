#pragma once
// Reading back the CSV files the callbacks write, for charts drawn after
// the run (tools/plot_csv, scripts/plot.sh):
//   CSVLogger       epoch,step,train_loss,valid_loss,score,lr,time_s
//   LRFinderCallback lr,loss,smoothed_loss
// An empty field is NaN (a value that was not known). Errors name the file
// and the line: a file that cannot be read, a first line that is not the
// expected header, a row with the wrong number of fields or a field that is
// not a number. A torn last line (no newline: the writer crashed while
// writing it) is left out, as CSVLogger itself drops it.
#include <string>
#include <vector>

#include "toadstool/train/callbacks/lr_finder.h"
#include "toadstool/train/plot/run_charts.h"

namespace toadstool::train::plot {

// Which of the two a file is, from its first line: "epochs", "lr_finder",
// or an Error naming the file and the headers it knows.
std::string csv_log_kind(const std::string& path);

std::vector<EpochRecord> read_epoch_log(const std::string& path);
std::vector<LRFinderPoint> read_lr_finder_log(const std::string& path);

}  // namespace toadstool::train::plot
