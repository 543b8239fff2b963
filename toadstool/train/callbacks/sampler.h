#pragma once
// SamplerCallback: calls set_epoch(trainer.epoch) on a DistributedSampler at
// every begin_epoch, so that each epoch (and each rank in step) draws a new
// shuffled order; without it every epoch repeats epoch 0's order. On resume
// the epoch a checkpoint restored is the one set. Saves no state: the epoch
// comes from the trainer.
#include <memory>

#include "toadstool/train/callback.h"
#include "toadstool/train/data/sampler.h"

namespace toadstool::train {

class SamplerCallback : public CallbackBase<SamplerCallback> {
 public:
  // Error: a null sampler.
  explicit SamplerCallback(std::shared_ptr<DistributedSampler> sampler);

  DistributedSampler& sampler() const { return *sampler_; }

  void begin_epoch(Trainer& trainer) override;

 private:
  std::shared_ptr<DistributedSampler> sampler_;
};

}  // namespace toadstool::train
