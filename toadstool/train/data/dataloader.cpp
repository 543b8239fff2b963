// DataLoader and its Pass: one epoch's batches, built in the calling thread
// or ahead of it by worker threads.
//
// With workers, batch b's slot is filled by whichever worker claimed it, and
// the consumer takes slots strictly in order, so the result is the same as
// building them one after the other. A worker claims the next unbuilt batch
// only while it lies within num_workers * prefetch_factor batches of the one
// the consumer waits for, which bounds the memory held by ready batches.
#include "toadstool/train/data/dataloader.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>

#include "toadstool/autograd/grad_mode.h"
#include "toadstool/tensor/error.h"
#include "toadstool/tensor/threads.h"

namespace toadstool::train {

namespace {

// ceil(n / b) batches (floor with drop_last), without the overflow of
// n + b - 1 when batch_size is near INT64_MAX.
int64_t batch_count(int64_t n, int64_t b, bool drop_last) {
  return n / b + (!drop_last && n % b != 0 ? 1 : 0);
}

}  // namespace

class DataLoader::Pass {
 public:
  Pass(std::shared_ptr<const Dataset> dataset, std::vector<int64_t> order, int64_t batch_size,
       int64_t num_batches, int num_workers, int prefetch_factor, bool pin_memory)
      : dataset_(std::move(dataset)),
        order_(std::move(order)),
        batch_size_(batch_size),
        num_batches_(num_batches),
        window_(static_cast<int64_t>(num_workers) * prefetch_factor),
        pin_memory_(pin_memory) {
    if (num_workers == 0 || num_batches_ == 0) return;
    slots_.resize(static_cast<size_t>(num_batches_));
    // No more threads than batches.
    const int64_t threads = std::min<int64_t>(num_workers, num_batches_);
    try {
      for (int64_t w = 0; w < threads; ++w) workers_.emplace_back([this] { work(); });
    } catch (...) {
      stop();  // join the ones that started before rethrowing
      throw;
    }
  }
  ~Pass() { stop(); }
  Pass(const Pass&) = delete;
  Pass& operator=(const Pass&) = delete;

  bool done() const { return ended_ || position_ >= num_batches_; }
  const Batch& current() const { return current_; }

  // Makes batch 0 current (begin()).
  void start() {
    if (!done()) fetch();
  }
  void advance() {
    ++position_;
    current_ = {};  // release the previous batch before waiting for the next
    if (!done()) fetch();
  }

  // Ends the pass: no batch is claimed any more; the workers finish the batch
  // they are building (if any) and are joined.
  void stop() {
    ended_ = true;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    space_cv_.notify_all();
    for (std::thread& t : workers_) {
      if (t.joinable()) t.join();
    }
    workers_.clear();
  }

 private:
  struct Slot {
    Batch batch;
    std::exception_ptr error;
    bool ready = false;
  };

  // The dataset indices of batch b: order_[b * batch_size, ...), the last one
  // shorter unless drop_last removed it.
  std::vector<int64_t> batch_indices(int64_t b) const {
    const auto first = static_cast<size_t>(b * batch_size_);
    const size_t last = std::min(order_.size(), first + static_cast<size_t>(batch_size_));
    return {order_.begin() + static_cast<std::ptrdiff_t>(first),
            order_.begin() + static_cast<std::ptrdiff_t>(last)};
  }

  // Batch b, in pinned memory when asked for.
  Batch build(int64_t b) const {
    Batch batch = dataset_->get_batch(batch_indices(b));
    if (pin_memory_) {
      if (batch.x.defined()) batch.x = batch.x.pin_memory();
      if (batch.y.defined()) batch.y = batch.y.pin_memory();
    }
    return batch;
  }

  // Makes batch position_ current: builds it here, or waits for its slot. An
  // exception from building it ends the pass and is rethrown.
  void fetch() {
    if (workers_.empty()) {
      try {
        NoGradGuard no_grad;
        current_ = build(position_);
      } catch (...) {
        stop();
        throw;
      }
      return;
    }
    Slot slot;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      consumer_at_ = position_;
      space_cv_.notify_all();  // the window moved
      Slot& s = slots_[static_cast<size_t>(position_)];
      ready_cv_.wait(lock, [&] { return s.ready; });
      slot = std::move(s);
      s = {};
    }
    if (slot.error) {
      stop();
      std::rethrow_exception(slot.error);
    }
    current_ = std::move(slot.batch);
  }

  void work() {
    // OpenMP's team size is a per-thread setting: one thread per worker keeps
    // num_workers workers from each starting a full team.
    set_num_threads(1);
    NoGradGuard no_grad;
    for (;;) {
      int64_t b = 0;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        space_cv_.wait(lock, [&] {
          return stopping_ || next_to_build_ >= num_batches_ ||
                 next_to_build_ < consumer_at_ + window_;
        });
        if (stopping_ || next_to_build_ >= num_batches_) return;
        b = next_to_build_++;
      }
      Slot slot;
      try {
        slot.batch = build(b);
      } catch (...) {
        slot.error = std::current_exception();
      }
      slot.ready = true;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        slots_[static_cast<size_t>(b)] = std::move(slot);
      }
      ready_cv_.notify_one();  // only the consumer waits on it
    }
  }

  const std::shared_ptr<const Dataset> dataset_;
  const std::vector<int64_t> order_;
  const int64_t batch_size_, num_batches_, window_;
  const bool pin_memory_;

  // The consumer's side (the thread iterating).
  int64_t position_ = 0;
  Batch current_;
  bool ended_ = false;

  // Shared with the workers, under mutex_.
  std::mutex mutex_;
  std::condition_variable ready_cv_;  // a slot became ready
  std::condition_variable space_cv_;  // the window moved, or stop
  std::vector<Slot> slots_;
  int64_t next_to_build_ = 0;
  int64_t consumer_at_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

// ---- DataLoader ---------------------------------------------------------------

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  TS_CHECK(dataset_ != nullptr, "DataLoader: the dataset is null");
  TS_CHECK(options_.batch_size >= 1, "DataLoader: batch_size must be at least 1, got ",
           options_.batch_size);
  TS_CHECK(options_.num_workers >= 0, "DataLoader: num_workers must be non-negative, got ",
           options_.num_workers);
  TS_CHECK(options_.prefetch_factor >= 1, "DataLoader: prefetch_factor must be at least 1, got ",
           options_.prefetch_factor);
  // Checked here rather than at the first batch, so the message points at
  // the set-up.
  TS_CHECK(!options_.pin_memory || cuda_is_available(),
           "DataLoader: pin_memory=true needs a CUDA device, and none is available ",
           "(cuda_is_available() is false); set pin_memory = cuda_is_available()");
  if (options_.sampler) {
    // As PyTorch: an explicit sampler decides the order itself.
    TS_CHECK(!options_.shuffle,
             "DataLoader: the sampler option is mutually exclusive with shuffle");
    sampler_ = options_.sampler;
  } else if (options_.shuffle) {
    sampler_ = std::make_shared<RandomSampler>(dataset_->size(), options_.seed);
  } else {
    sampler_ = std::make_shared<SequentialSampler>(dataset_->size());
  }
}

DataLoader::~DataLoader() {
  if (const auto pass = live_pass_.lock()) pass->stop();
}

int64_t DataLoader::size() const {
  return batch_count(sampler_->size(), options_.batch_size, options_.drop_last);
}

DataLoader::Iterator DataLoader::begin() {
  if (const auto old = live_pass_.lock()) old->stop();
  std::vector<int64_t> order = sampler_->next_epoch();
  const auto count = static_cast<int64_t>(order.size());
  TS_CHECK(count == sampler_->size(), "DataLoader: the sampler's epoch has ", count,
           " indices, its size() is ", sampler_->size());
  const int64_t n = dataset_->size();
  for (int64_t index : order) {
    TS_CHECK(index >= 0 && index < n, "DataLoader: the sampler yielded index ", index,
             ", out of range for a dataset of size ", n);
  }
  const int64_t b = options_.batch_size;
  const int64_t batches = batch_count(count, b, options_.drop_last);
  auto pass = std::make_shared<Pass>(dataset_, std::move(order), b, batches, options_.num_workers,
                                     options_.prefetch_factor, options_.pin_memory);
  live_pass_ = pass;
  pass->start();
  Iterator it;
  it.pass_ = std::move(pass);
  return it;
}

DataLoader::Iterator DataLoader::end() { return Iterator(); }

TensorDict DataLoader::state_dict() const { return sampler_->state_dict(); }
void DataLoader::load_state_dict(const TensorDict& dict) { sampler_->load_state_dict(dict); }

// ---- Iterator -----------------------------------------------------------------

const Batch& DataLoader::Iterator::operator*() const {
  TS_CHECK(pass_ && !pass_->done(), "DataLoader: dereferencing an iterator at the end of a pass");
  return pass_->current();
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  TS_CHECK(pass_ && !pass_->done(), "DataLoader: incrementing an iterator past the end of a pass");
  pass_->advance();
  return *this;
}

// Iterators at the end (end(), or a finished or ended pass) are equal; others
// are equal when they walk the same pass (they share its position).
bool DataLoader::Iterator::operator==(const Iterator& other) const {
  const bool at_end = !pass_ || pass_->done();
  const bool other_at_end = !other.pass_ || other.pass_->done();
  if (at_end || other_at_end) return at_end == other_at_end;
  return pass_ == other.pass_;
}

}  // namespace toadstool::train
