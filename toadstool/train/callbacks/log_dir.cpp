#include "toadstool/train/callbacks/log_dir.h"

#include <filesystem>

#include "toadstool/tensor/error.h"
#include "toadstool/train/callbacks/csv_logger.h"
#include "toadstool/train/callbacks/plot.h"
#include "toadstool/train/plot/chart.h"

namespace toadstool::train {

std::vector<std::shared_ptr<Callback>> log_dir_callbacks(const std::string& dir,
                                                         TensorBoardOptions tensorboard) {
  TS_CHECK(!dir.empty(), "log_dir_callbacks: the folder is empty");
  // Made now: CSVLogger, first in the list, writes into it without making it.
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  TS_CHECK(!error, "log_dir_callbacks: cannot create the folder ", dir, ": ", error.message());
  std::vector<std::shared_ptr<Callback>> callbacks = {
      std::make_shared<CSVLogger>(dir + "/log.csv"),
      std::make_shared<TensorBoardCallback>(dir, tensorboard)};
  if (plot::plots_available()) callbacks.push_back(std::make_shared<PlotCallback>(dir));
  return callbacks;
}

}  // namespace toadstool::train
