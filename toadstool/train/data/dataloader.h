#pragma once
// DataLoader: batches of a Dataset in the order of a Sampler, optionally
// built ahead by background worker threads.
//
//   DataLoader loader(dataset, {.batch_size = 128, .shuffle = true, .seed = 1});
//   for (const Batch& batch : loader) { ... }   // one pass = one epoch
//
// The batch order is fixed when a pass starts (the sampler's next_epoch()),
// in the calling thread; workers only build batches, so the order depends
// only on the seed and the epoch, never on num_workers. Leaving a loop early
// (break, an exception) stops and joins the workers.
//
// One pass at a time: begin() while an earlier pass is still alive ends that
// pass (its workers are stopped and joined, its iterators then compare equal
// to end()). An exception thrown while building a batch (in a worker or in
// the calling thread) is rethrown by begin() or operator++ when that batch's
// turn comes, and ends the pass. A DataLoader is used from one thread.
#include <cstdint>
#include <memory>
#include <vector>

#include "toadstool/tensor/tensor_dict.h"
#include "toadstool/train/data/dataset.h"
#include "toadstool/train/data/sampler.h"

namespace toadstool::train {

struct DataLoaderOptions {
  int64_t batch_size = 1;
  // Without an explicit sampler: RandomSampler(seed) if true, else SequentialSampler.
  bool shuffle = false;
  uint64_t seed = 0;
  // Drop the last batch when it is smaller than batch_size.
  bool drop_last = false;
  // Background threads building batches; 0 builds them in the calling thread.
  int num_workers = 0;
  // Batches each worker keeps ready ahead of the consumer.
  int prefetch_factor = 2;
  // Copy each batch's tensors into pinned host memory (in the thread that
  // builds it), so that a non-blocking move to the GPU (DeviceCallback's)
  // overlaps with work queued there. Needs a CUDA device: an Error without
  // one (PyTorch warns and ignores it; set pin_memory = cuda_is_available()
  // for a script that runs on both).
  bool pin_memory = false;
  // Overrides shuffle / seed (a DistributedSampler, for instance).
  std::shared_ptr<Sampler> sampler = nullptr;
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options = {});
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Batches per pass.
  int64_t size() const;
  int64_t batch_size() const { return options_.batch_size; }
  const Dataset& dataset() const { return *dataset_; }
  const std::shared_ptr<Sampler>& sampler() const { return sampler_; }
  const DataLoaderOptions& options() const { return options_; }

  class Pass;
  class Iterator {
   public:
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    const Batch& operator*() const;
    const Batch* operator->() const { return &**this; }
    Iterator& operator++();
    bool operator==(const Iterator& other) const;

   private:
    friend class DataLoader;
    std::shared_ptr<Pass> pass_;  // null for end()
  };
  // Starts a pass: draws the order from the sampler and starts the workers.
  Iterator begin();
  Iterator end();

  // The sampler's state (what the next pass's order depends on).
  TensorDict state_dict() const;
  void load_state_dict(const TensorDict& dict);

 private:
  std::shared_ptr<const Dataset> dataset_;
  DataLoaderOptions options_;
  std::shared_ptr<Sampler> sampler_;
  std::weak_ptr<Pass> live_pass_;  // the pass begin() started last, while alive
};

}  // namespace toadstool::train
