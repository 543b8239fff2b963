#pragma once
// Reducer: DistributedDataParallel's gradient communication (PyTorch's
// c10d::Reducer). The parameters that require grad are split into buckets
// (reverse registration order, so a bucket fills in backward order); when
// backward has accumulated the last gradient of a bucket, the bucket's
// all_reduce (Average) starts while the rest of the backward runs, and at
// the end of the backward (an engine callback) every bucket is waited and
// its averaged values copied into the parameters' grad().
//
// A bucket is one flat tensor of its parameters' dtype:
//   [g_0 (n_0 elements) | g_1 | ... | g_{k-1} | f_0 ... f_{k-1}]
// g_j is parameter j's gradient, flattened; f_j is 1 where this rank had a
// gradient for parameter j in this step and 0 where it had none (unused).
// After the Average, f_j > 0 says some rank had one: the parameter gets the
// averaged gradient (absent ranks counting as zeros); f_j = 0 says no rank
// had one, and its grad() is left as it was (undefined, as for a parameter
// that is unused everywhere in PyTorch).
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "toadstool/distributed/process_group.h"
#include "toadstool/tensor/tensor.h"

namespace toadstool::distributed {

struct ReducerOptions {
  // The most bytes of gradients in one bucket; a parameter larger than this
  // gets a bucket of its own.
  double bucket_cap_mb = 25;
  // false: no bucket starts before the end of the backward (all are issued
  // by the end-of-backward callback): the benchmark's no-overlap baseline.
  bool overlap = true;
};

// Times of the last synchronized backward, in seconds from its first
// post-accumulate hook (the first gradient of a DDP parameter ready), which
// was at `start` (steady clock: comparable across the processes of one
// machine, as the benchmark does).
struct SyncStats {
  std::chrono::steady_clock::time_point start;
  int buckets = 0;
  int buckets_issued_in_backward = 0;  // started before the backward ended
  double first_issue_s = 0;            // the first bucket's all_reduce issued
  double backward_end_s = 0;           // the engine's end-of-backward callback started
  double waited_s = 0;                 // every bucket's all_reduce complete
  double synced_s = 0;                 // and the averages copied into grad()
  int64_t unused_parameters = 0;       // this rank's parameters without a gradient
};

class Reducer {
 public:
  // params: the parameters in registration order (only those that require
  // grad), names for messages. Registers a post-accumulate hook on each.
  Reducer(std::vector<Tensor> params, std::vector<std::string> names,
          std::shared_ptr<ProcessGroup> group, const ReducerOptions& options);
  ~Reducer();
  Reducer(const Reducer&) = delete;
  Reducer& operator=(const Reducer&) = delete;

  // Whether the next backward reduces (DistributedDataParallel's forward
  // sets it: false inside no_sync). An Error when an earlier synchronized
  // backward did not finish (it threw): the ranks' collectives may be out
  // of step, and training cannot go on.
  void prepare_for_backward(bool sync);

  // The parameter numbers (into the constructor's list) of each bucket, in
  // bucket order (the order their all_reduces are issued).
  std::vector<std::vector<size_t>> bucket_assignment() const;
  const SyncStats& last_stats() const { return stats_; }
  // Backwards that reduced the gradients so far (no_sync ones do not count).
  int64_t synchronized_backwards() const { return synchronized_backwards_; }

 private:
  struct Bucket {
    std::vector<size_t> params;    // parameter numbers, in bucket order
    std::vector<int64_t> offsets;  // where each one's gradient starts in `flat`
    int64_t numel = 0;             // gradient elements; the flags follow them
    Tensor flat;                   // [numel + params.size()], the parameters' dtype
    size_t pending = 0;            // parameters whose gradient is not in `flat` yet
    std::shared_ptr<Work> work;
  };
  using Clock = std::chrono::steady_clock;

  void build_buckets(double bucket_cap_mb);
  // The post-accumulate hook of parameter i.
  void on_grad_ready(size_t i);
  // Copies parameter i's grad (or zeros, when it has none) into its bucket.
  void fill(size_t i, bool had_grad);
  // Issues the all_reduce of every ready bucket not issued yet, in order.
  void issue_ready_buckets();
  // The end-of-backward callback: completes the unready buckets, issues
  // what is left, waits for every bucket and copies the averages back.
  void finalize();
  double since_start(Clock::time_point t) const;

  std::vector<Tensor> params_;
  std::vector<std::string> names_;
  std::shared_ptr<ProcessGroup> group_;
  ReducerOptions options_;
  std::vector<size_t> hook_ids_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_;  // parameter -> bucket
  std::vector<size_t> slot_of_;    // parameter -> its place in the bucket
  std::vector<char> ready_;        // parameter -> its gradient is in the bucket
  size_t next_to_issue_ = 0;
  bool sync_ = true;
  bool in_pass_ = false;     // a synchronized backward has started and not finished
  bool finalizing_ = false;  // finalize() is running (its issues are not overlapped)
  Clock::time_point pass_start_;
  SyncStats stats_;
  int64_t synchronized_backwards_ = 0;
};

}  // namespace toadstool::distributed
