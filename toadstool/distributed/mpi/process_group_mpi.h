#pragma once
// ProcessGroupMpi: the process group over MPI for CPU tensors (internal
// header: users reach it through init_process_group("mpi")). Each group
// owns a duplicate of MPI_COMM_WORLD, so that its collectives never match
// another group's. The collectives are MPI's non-blocking ones
// (MPI_Iallreduce, MPI_Ibcast, MPI_Iallgather, MPI_Ireduce_scatter_block,
// MPI_Ibarrier), started in issue order through the process's runtime
// (mpi/runtime.h), except a small synchronous all-reduce: one blocking
// MPI_Allreduce when nothing else is in flight.
#include <mpi.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "toadstool/distributed/mpi/runtime.h"
#include "toadstool/distributed/process_group.h"

namespace toadstool::distributed {

class ProcessGroupMpi final : public ProcessGroup {
 public:
  // A collective over every rank (see init_process_group): initialises MPI
  // on the first call, then duplicates MPI_COMM_WORLD (bounded by the
  // timeout like any collective).
  static std::shared_ptr<ProcessGroupMpi> create(const ProcessGroupOptions& options);
  // Frees the communicator (waiting for the communication thread to do it,
  // so that an application that initialised MPI may finalise it next).
  ~ProcessGroupMpi() override;

  std::string backend() const override { return "mpi"; }
  Device device() const override { return kCPU; }

 protected:
  void check_device(const char* collective, const Tensor& tensor) const override;
  std::shared_ptr<Work> do_all_reduce(Tensor& tensor, ReduceOp op, bool synchronous) override;
  std::shared_ptr<Work> do_broadcast(Tensor& tensor, int root) override;
  std::shared_ptr<Work> do_all_gather(Tensor& output, const Tensor& input) override;
  std::shared_ptr<Work> do_reduce_scatter(Tensor& output, const Tensor& input,
                                          ReduceOp op) override;
  std::shared_ptr<Work> do_barrier() override;

 private:
  ProcessGroupMpi(mpi::Runtime& runtime, int id, std::chrono::duration<double> timeout,
                  bool abort_on_timeout);
  // Queues a collective that `what` describes ("all_reduce (sum) of [4]
  // float32", made only for a message): start(comm, request) makes the
  // non-blocking call, finish runs once it has completed. Error once the
  // group is unusable.
  std::shared_ptr<Work> submit(const char* collective, Work::Describer what,
                               std::function<int(MPI_Comm, MPI_Request*)> start,
                               std::function<void()> finish = {});
  // A small synchronous all-reduce as one blocking MPI_Allreduce on this
  // thread, when the runtime allows it now (mpi::Runtime::run_blocking):
  // no queued operation, so none of what a queued collective needs (its
  // Work, its closures' allocations, a clock read: 0.1 us of a 4 KiB
  // all-reduce's 1.3 us here, docs/distributed.md).
  // False when it did not run. Error once the group is unusable.
  bool try_blocking_all_reduce(const Tensor& tensor, ReduceOp op, int count, MPI_Datatype type);
  void check_usable(const char* collective) const;

  // MPI counts are ints: a tensor of more elements (or bytes, for the
  // byte-wise collectives) is an Error rather than truncated.
  int mpi_count(const char* collective, const Tensor& tensor, int64_t count,
                const char* unit) const;

  mpi::Runtime& runtime_;
  const int id_;  // this process's groups are numbered 1, 2, ... (same on every rank)
  const bool abort_on_timeout_;
  // Written by the communication thread once MPI_Comm_idup has completed,
  // read by it only afterwards.
  MPI_Comm comm_ = MPI_COMM_NULL;
  std::mutex issue_mutex_;  // numbers and queues collectives in one order
  int64_t issued_ = 0;
  // Set by the communication thread when a collective timed out (with
  // abort_on_timeout off): later collectives are refused with this reason.
  std::shared_ptr<std::atomic<bool>> broken_ = std::make_shared<std::atomic<bool>>(false);
  // What a synchronous all-reduce that ran blocking returns: one completed
  // Work for all of them (nothing is left to wait for).
  std::shared_ptr<Work> completed_;
};

}  // namespace toadstool::distributed
