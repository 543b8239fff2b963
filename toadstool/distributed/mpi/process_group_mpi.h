#pragma once
// ProcessGroupMpi: the process group over MPI for CPU tensors (internal
// header: users reach it through init_process_group("mpi")). Each group
// owns a duplicate of MPI_COMM_WORLD, so that its collectives never match
// another group's; the process's communication thread (mpi/runtime.h)
// makes every MPI call: the collectives are MPI's non-blocking ones
// (MPI_Iallreduce, MPI_Ibcast, MPI_Iallgather, MPI_Ireduce_scatter_block,
// MPI_Ibarrier), started in issue order.
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
  // non-blocking call, finish runs once it has completed. With `blocking`
  // (the same collective as one blocking call), the runtime may run that
  // at once instead (mpi::Runtime::run_blocking says when). Error once the
  // group is unusable.
  std::shared_ptr<Work> submit(const char* collective, Work::Describer what,
                               std::function<int(MPI_Comm, MPI_Request*)> start,
                               std::function<void()> finish = {},
                               const std::function<int(MPI_Comm)>& blocking = {});

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
};

}  // namespace toadstool::distributed
