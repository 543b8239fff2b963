#include "toadstool/train/callbacks/sampler.h"

#include "toadstool/tensor/error.h"
#include "toadstool/train/trainer.h"

namespace toadstool::train {

SamplerCallback::SamplerCallback(std::shared_ptr<DistributedSampler> sampler)
    : sampler_(std::move(sampler)) {
  TS_CHECK(sampler_, "SamplerCallback: the sampler is null");
}

void SamplerCallback::begin_epoch(Trainer& trainer) { sampler_->set_epoch(trainer.epoch); }

}  // namespace toadstool::train
