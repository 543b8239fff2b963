#pragma once
// The callbacks that log a run into one folder, as the examples' --log-dir
// sets them up:
//   <dir>/log.csv                        CSVLogger
//   <dir>/events.out.tfevents.*          TensorBoardCallback (tensorboard --logdir <dir>)
//   <dir>/loss.png, score.png, lr.png    PlotCallback (and .svg), when the
//                                        build has cairo (plot::plots_available())
// in that order. Makes the folder (an Error naming it when it cannot). Put
// them before a CheckpointCallback, so that its checkpoints hold
// PlotCallback's records of the same epoch.
#include <memory>
#include <string>
#include <vector>

#include "toadstool/train/callback.h"
#include "toadstool/train/callbacks/tensorboard.h"

namespace toadstool::train {

std::vector<std::shared_ptr<Callback>> log_dir_callbacks(const std::string& dir,
                                                         TensorBoardOptions tensorboard = {});

}  // namespace toadstool::train
