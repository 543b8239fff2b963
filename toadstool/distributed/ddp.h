#pragma once
// DistributedDataParallel: data-parallel training of a module across the
// ranks of a process group (torch.nn.parallel.DistributedDataParallel's
// names and semantics; docs/distributed.md, "DistributedDataParallel").
//
//   auto pg = distributed::init_process_group("mpi");
//   auto model = std::make_shared<nn::MLP>(std::vector<int64_t>{784, 256, 10});
//   distributed::DistributedDataParallel ddp(model, pg);   // rank 0's weights everywhere
//   optim::AdamW opt(ddp.parameters());
//   Tensor loss = loss_fn(ddp(x_local), y_local);          // this rank's share of the batch
//   loss.backward();            // returns with grad() = the mean over ranks of each rank's grad
//   opt.step();
//
// Construction (a collective): checks that every rank's module has the same
// parameters and buffers (names, shapes, dtypes; the same Error on every
// rank otherwise) and broadcasts rank 0's values. Backward: the Reducer
// (reducer.h) all-reduces gradient buckets as they fill, overlapping the
// rest of the backward, and waits for them at the end of the backward, so
// the optimizer step after backward() sees averaged gradients.
#include <memory>

#include "toadstool/distributed/process_group.h"
#include "toadstool/distributed/reducer.h"
#include "toadstool/nn/module.h"

namespace toadstool::distributed {

struct DistributedDataParallelOptions {
  // The most bytes of gradients a bucket holds (PyTorch's default 25 MiB).
  double bucket_cap_mb = 25;
  // false: every bucket starts at the end of the backward (for measuring
  // what the overlap saves).
  bool overlap = true;
};

class DistributedDataParallel : public nn::UnaryModule {
 public:
  DistributedDataParallel(std::shared_ptr<nn::UnaryModule> module,
                          std::shared_ptr<ProcessGroup> group,
                          const DistributedDataParallelOptions& options = {});

  // module(input); decides whether the backward of its result reduces the
  // gradients (not inside no_sync, and only with grad mode on).
  Tensor forward(const Tensor& input) override;

  // RAII: while alive, forwards run without gradient synchronization: their
  // backwards only accumulate into grad(), locally. The first backward of a
  // forward run after the guard is gone reduces everything accumulated.
  class NoSync {
   public:
    explicit NoSync(DistributedDataParallel& ddp) : ddp_(ddp), previous_(ddp.require_sync_) {
      ddp_.require_sync_ = false;
    }
    ~NoSync() { ddp_.require_sync_ = previous_; }
    NoSync(const NoSync&) = delete;
    NoSync& operator=(const NoSync&) = delete;
    NoSync(NoSync&&) = delete;
    NoSync& operator=(NoSync&&) = delete;

   private:
    DistributedDataParallel& ddp_;
    bool previous_;
  };
  [[nodiscard]] NoSync no_sync() { return NoSync(*this); }

  ProcessGroup& process_group() const { return *group_; }
  // The bucketed parameters' names (those that require grad), bucket by
  // bucket in the order their all_reduces are issued.
  std::vector<std::vector<std::string>> bucket_parameter_names() const;
  // Timings of the last synchronized backward (reducer.h).
  const SyncStats& last_sync_stats() const { return reducer_->last_stats(); }
  // How many backwards have reduced the gradients (not those under no_sync).
  int64_t synchronized_backwards() const { return reducer_->synchronized_backwards(); }

  std::shared_ptr<nn::UnaryModule> module;  // the wrapped module ("module." in state_dict)

 private:
  std::shared_ptr<ProcessGroup> group_;
  std::vector<std::string> bucketed_names_;
  std::unique_ptr<Reducer> reducer_;
  bool require_sync_ = true;
};

// Uneven batches: DDP averages the ranks' gradients with equal weights
// (PyTorch's semantics), which is the gradient of the global batch mean only
// when every rank has the same number of samples. Multiplying a rank's
// mean loss by local_batch_weight(group, local_count) = N * local_count /
// (sum of every rank's local_count) makes the average the global mean's
// gradient. A collective (an all_reduce of the counts, waited); an Error
// when every count is 0.
double local_batch_weight(ProcessGroup& group, int64_t local_count);

}  // namespace toadstool::distributed
