#include "toadstool/train/stage_timer.h"

#include <numeric>

namespace toadstool::train {

const char* train_stage_name(TrainStage stage) {
  switch (stage) {
    case TrainStage::data: return "data";
    case TrainStage::forward: return "forward";
    case TrainStage::loss: return "loss";
    case TrainStage::backward: return "backward";
    case TrainStage::optimizer: return "optimizer";
    case TrainStage::callbacks: return "callbacks";
    case TrainStage::other: return "other";
  }
  return "?";
}

double StageTimer::total_seconds() const {
  return std::accumulate(seconds_.begin(), seconds_.end(), 0.0);
}

void StageTimer::reset() {
  seconds_.fill(0);
  restart();
}

}  // namespace toadstool::train
