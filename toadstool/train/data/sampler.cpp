// The samplers: index orders of one epoch. RandomSampler and
// DistributedSampler draw permutations with randperm (tensor/factory.h), a
// sequential Fisher-Yates over Philox numbers, so an order depends on the
// seed and the epoch only, never on the thread count.
#include "toadstool/train/data/sampler.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <string>

#include "toadstool/nn/optim/state_util.h"
#include "toadstool/tensor/error.h"
#include "toadstool/tensor/factory.h"

namespace toadstool::train {

namespace {

using optim::detail::check_keys;
using optim::detail::int_scalar;
using optim::detail::read_int;

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  return order;
}

std::vector<int64_t> permutation(int64_t n, Generator& generator) {
  const Tensor p = randperm(n, &generator);
  const int64_t* data = p.data_ptr<int64_t>();
  return {data, data + n};
}

// A sampler's own generator as its state: the uint64 seed and offset stored
// as int64 0-d tensors holding the same 64 bits (std::bit_cast both ways),
// since the dtypes have no uint64.
TensorDict generator_state_dict(const Generator& generator) {
  const Generator::State state = generator.state();
  TensorDict dict;
  dict.insert("seed", int_scalar(std::bit_cast<int64_t>(state.seed)));
  dict.insert("offset", int_scalar(std::bit_cast<int64_t>(state.offset)));
  return dict;
}

void load_generator_state(const TensorDict& dict, const std::string& op, Generator& generator) {
  check_keys(dict, op, {"seed", "offset"});
  // Bit patterns of uint64 values: every int64 is valid.
  constexpr int64_t kLowest = std::numeric_limits<int64_t>::min();
  constexpr int64_t kHighest = std::numeric_limits<int64_t>::max();
  const int64_t seed = read_int(dict, op, "seed", kLowest, kHighest);
  const int64_t offset = read_int(dict, op, "offset", kLowest, kHighest);
  generator.set_state({std::bit_cast<uint64_t>(seed), std::bit_cast<uint64_t>(offset)});
}

}  // namespace

// ---- SequentialSampler ------------------------------------------------------

SequentialSampler::SequentialSampler(int64_t n) : n_(n) {
  TS_CHECK(n >= 0, "SequentialSampler: n must be non-negative, got ", n);
}

std::vector<int64_t> SequentialSampler::next_epoch() { return iota(n_); }

// ---- RandomSampler ----------------------------------------------------------

RandomSampler::RandomSampler(int64_t n, uint64_t seed) : n_(n), generator_(seed) {
  TS_CHECK(n >= 0, "RandomSampler: n must be non-negative, got ", n);
}

std::vector<int64_t> RandomSampler::next_epoch() { return permutation(n_, generator_); }

TensorDict RandomSampler::state_dict() const { return generator_state_dict(generator_); }

void RandomSampler::load_state_dict(const TensorDict& dict) {
  load_generator_state(dict, "RandomSampler.load_state_dict", generator_);
}

// ---- DistributedSampler -----------------------------------------------------

DistributedSampler::DistributedSampler(int64_t n, int64_t num_replicas, int64_t rank, bool shuffle,
                                       uint64_t seed, bool drop_last)
    : n_(n),
      num_replicas_(num_replicas),
      rank_(rank),
      shuffle_(shuffle),
      seed_(seed),
      drop_last_(drop_last) {
  TS_CHECK(n >= 0, "DistributedSampler: n must be non-negative, got ", n);
  TS_CHECK(num_replicas >= 1, "DistributedSampler: num_replicas must be at least 1, got ",
           num_replicas);
  TS_CHECK(rank >= 0 && rank < num_replicas, "DistributedSampler: invalid rank ", rank,
           ", rank should be in the interval [0, ", num_replicas - 1, "]");
}

// PyTorch's num_samples: with drop_last and an uneven split, the tail is
// dropped (floor(n / R) each); otherwise the list is padded (ceil(n / R)).
int64_t DistributedSampler::size() const {
  if (drop_last_) return n_ / num_replicas_;
  return (n_ + num_replicas_ - 1) / num_replicas_;
}

std::vector<int64_t> DistributedSampler::next_epoch() {
  std::vector<int64_t> indices;
  if (shuffle_) {
    // A fresh generator seeded with seed + epoch, as PyTorch does: the order
    // of an epoch needs no state other than the epoch number.
    Generator generator(seed_ + static_cast<uint64_t>(epoch_));
    indices = permutation(n_, generator);
  } else {
    indices = iota(n_);
  }
  const int64_t total = size() * num_replicas_;
  if (total <= n_) {
    indices.resize(static_cast<size_t>(total));  // drop_last: drop the tail
  } else {
    // Pad by repeating the list from its start (cycling when the padding is
    // longer than the list, as PyTorch's indices * ceil(padding / n)).
    indices.reserve(static_cast<size_t>(total));
    for (int64_t i = n_; i < total; ++i) indices.push_back(indices[static_cast<size_t>(i % n_)]);
  }
  // indices[rank::num_replicas]
  std::vector<int64_t> mine;
  mine.reserve(static_cast<size_t>(size()));
  for (int64_t i = rank_; i < total; i += num_replicas_) {
    mine.push_back(indices[static_cast<size_t>(i)]);
  }
  return mine;
}

TensorDict DistributedSampler::state_dict() const {
  TensorDict dict;
  dict.insert("epoch", int_scalar(epoch_));
  return dict;
}

void DistributedSampler::load_state_dict(const TensorDict& dict) {
  const std::string op = "DistributedSampler.load_state_dict";
  check_keys(dict, op, {"epoch"});
  epoch_ = read_int(dict, op, "epoch", 0);
}

// ---- BucketSampler ----------------------------------------------------------

BucketSampler::BucketSampler(std::vector<int64_t> lengths, int64_t batch_size, uint64_t seed,
                             int64_t pool_batches)
    : lengths_(std::move(lengths)),
      batch_size_(batch_size),
      pool_batches_(pool_batches),
      generator_(seed) {
  TS_CHECK(batch_size >= 1, "BucketSampler: batch_size must be at least 1, got ", batch_size);
  TS_CHECK(pool_batches >= 1, "BucketSampler: pool_batches must be at least 1, got ", pool_batches);
}

std::vector<int64_t> BucketSampler::next_epoch() {
  const auto n = static_cast<int64_t>(lengths_.size());
  std::vector<int64_t> order = permutation(n, generator_);
  // Each pool sorted by length; ties keep their random order.
  const int64_t pool = pool_batches_ * batch_size_;
  for (int64_t begin = 0; begin < n; begin += pool) {
    const auto first = order.begin() + begin;
    std::stable_sort(first, first + std::min(pool, n - begin), [&](int64_t a, int64_t b) {
      return lengths_[static_cast<size_t>(a)] < lengths_[static_cast<size_t>(b)];
    });
  }
  // Every pool but the last is a whole number of batches, so cutting the
  // sorted list into batches leaves at most one partial batch, at the end.
  const int64_t full = n / batch_size_;
  const std::vector<int64_t> batch_order = permutation(full, generator_);
  std::vector<int64_t> out;
  out.reserve(order.size());
  for (int64_t b : batch_order) {
    const auto first = order.begin() + b * batch_size_;
    out.insert(out.end(), first, first + batch_size_);
  }
  out.insert(out.end(), order.begin() + full * batch_size_, order.end());
  return out;
}

TensorDict BucketSampler::state_dict() const { return generator_state_dict(generator_); }

void BucketSampler::load_state_dict(const TensorDict& dict) {
  load_generator_state(dict, "BucketSampler.load_state_dict", generator_);
}

// ---- ShardedBatchSampler ----------------------------------------------------

ShardedBatchSampler::ShardedBatchSampler(std::shared_ptr<Sampler> base, int64_t global_batch,
                                         int64_t num_replicas, int64_t rank)
    : base_(std::move(base)),
      global_batch_(global_batch),
      num_replicas_(num_replicas),
      rank_(rank) {
  TS_CHECK(base_ != nullptr, "ShardedBatchSampler: the base sampler is null");
  TS_CHECK(num_replicas >= 1, "ShardedBatchSampler: num_replicas must be at least 1, got ",
           num_replicas);
  TS_CHECK(rank >= 0 && rank < num_replicas, "ShardedBatchSampler: invalid rank ", rank,
           ", rank should be in the interval [0, ", num_replicas - 1, "]");
  TS_CHECK(global_batch >= 1 && global_batch % num_replicas == 0, "ShardedBatchSampler: the ",
           "global batch (", global_batch, ") must be a positive multiple of num_replicas (",
           num_replicas, ")");
}

int64_t ShardedBatchSampler::size() const {
  const int64_t n = base_->size();
  const int64_t last = n % global_batch_;
  return n / global_batch_ * (global_batch_ / num_replicas_) +
         (last + num_replicas_ - 1) / num_replicas_;
}

std::vector<int64_t> ShardedBatchSampler::next_epoch() {
  const std::vector<int64_t> all = base_->next_epoch();
  const auto n = static_cast<int64_t>(all.size());
  std::vector<int64_t> mine;
  mine.reserve(static_cast<size_t>(size()));
  for (int64_t start = 0; start < n; start += global_batch_) {
    const int64_t m = std::min(global_batch_, n - start);
    const int64_t share = (m + num_replicas_ - 1) / num_replicas_;  // B / N but for the last
    for (int64_t i = rank_ * share; i < (rank_ + 1) * share; ++i) {
      mine.push_back(all[static_cast<size_t>(start + i % m)]);  // i >= m: padding from the start
    }
  }
  return mine;
}

}  // namespace toadstool::train
