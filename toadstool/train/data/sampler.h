#pragma once
// Samplers: the order in which a DataLoader visits a dataset's indices, one
// epoch at a time. A sampler's order depends only on its seed and how many
// epochs it has produced (or, for DistributedSampler, the epoch it was set
// to), so checkpoints save its state and a resumed run sees the same order.
#include <cstdint>
#include <memory>
#include <vector>

#include "toadstool/tensor/generator.h"
#include "toadstool/tensor/tensor_dict.h"

namespace toadstool::train {

class Sampler {
 public:
  virtual ~Sampler() = default;
  // How many indices one epoch yields.
  virtual int64_t size() const = 0;
  // The indices of the next epoch, in order; advances the sampler's state.
  virtual std::vector<int64_t> next_epoch() = 0;
  // What a checkpoint saves to reproduce the following epochs' order.
  virtual TensorDict state_dict() const { return {}; }
  virtual void load_state_dict(const TensorDict& /*dict*/) {}
};

// 0, 1, ..., n - 1 every epoch.
class SequentialSampler : public Sampler {
 public:
  explicit SequentialSampler(int64_t n);
  int64_t size() const override { return n_; }
  std::vector<int64_t> next_epoch() override;

 private:
  int64_t n_;
};

// A fresh random permutation of 0..n-1 each epoch, drawn from its own
// Philox generator (so the order is the same whatever else draws numbers).
// State: the generator's seed and offset.
class RandomSampler : public Sampler {
 public:
  RandomSampler(int64_t n, uint64_t seed);
  int64_t size() const override { return n_; }
  std::vector<int64_t> next_epoch() override;
  TensorDict state_dict() const override;
  void load_state_dict(const TensorDict& dict) override;
  const Generator& generator() const { return generator_; }

 private:
  int64_t n_;
  Generator generator_;
};

// PyTorch's DistributedSampler: each of `num_replicas` ranks sees a disjoint
// 1/num_replicas share of the (shuffled with seed + epoch) indices. Without
// drop_last the index list is padded by repeating its start so that it
// divides evenly; with drop_last the tail is dropped. Call set_epoch(e) at
// the start of every epoch (SamplerCallback does) or every epoch repeats
// the same order.
class DistributedSampler : public Sampler {
 public:
  DistributedSampler(int64_t n, int64_t num_replicas, int64_t rank, bool shuffle = true,
                     uint64_t seed = 0, bool drop_last = false);
  int64_t size() const override;
  std::vector<int64_t> next_epoch() override;  // does not advance: the epoch is set
  void set_epoch(int64_t epoch) { epoch_ = epoch; }
  int64_t epoch() const { return epoch_; }
  TensorDict state_dict() const override;
  void load_state_dict(const TensorDict& dict) override;

 private:
  int64_t n_, num_replicas_, rank_;
  bool shuffle_;
  uint64_t seed_;
  bool drop_last_;
  int64_t epoch_ = 0;
};

// Length-bucketed shuffling for sequences (DataLoader batches then pad to
// their own longest member, so similar lengths waste little compute on
// padding): each epoch, a random permutation is cut into pools of
// `pool_batches` batches, each pool sorted by length and cut into batches of
// `batch_size`, and the full batches are shuffled; a last partial batch (if
// n is not a multiple of batch_size) comes last. Use it with a DataLoader of
// the same batch_size. Every index appears once per epoch; the order depends
// only on the seed and the epoch (state: the generator's seed and offset,
// as RandomSampler).
class BucketSampler : public Sampler {
 public:
  BucketSampler(std::vector<int64_t> lengths, int64_t batch_size, uint64_t seed,
                int64_t pool_batches = 50);
  int64_t size() const override { return static_cast<int64_t>(lengths_.size()); }
  std::vector<int64_t> next_epoch() override;
  TensorDict state_dict() const override;
  void load_state_dict(const TensorDict& dict) override;

 private:
  std::vector<int64_t> lengths_;
  int64_t batch_size_, pool_batches_;
  Generator generator_;
};

// Data parallel with batches another sampler shapes (BucketSampler's
// length buckets): every rank runs `base` with the same seed, so all see
// the same order, and each takes its share of every global batch of
// `global_batch` indices: rank r gets elements [r B / N, (r + 1) B / N) of
// each (B = global_batch, N = num_replicas; B must divide by N). A
// DataLoader with batch_size B / N then gives rank r its share of the same
// global batches one process with batch_size B would see. The last global
// batch, when shorter (m indices), is padded by repeating its first indices
// to a multiple of N, so every rank gets ceil(m / N) and the same number of
// batches (as DistributedSampler pads). State: the base sampler's.
class ShardedBatchSampler : public Sampler {
 public:
  ShardedBatchSampler(std::shared_ptr<Sampler> base, int64_t global_batch, int64_t num_replicas,
                      int64_t rank);
  int64_t size() const override;
  std::vector<int64_t> next_epoch() override;
  TensorDict state_dict() const override { return base_->state_dict(); }
  void load_state_dict(const TensorDict& dict) override { base_->load_state_dict(dict); }

 private:
  std::shared_ptr<Sampler> base_;
  int64_t global_batch_, num_replicas_, rank_;
};

}  // namespace toadstool::train
