#pragma once
// ProcessGroupNccl: the process group over NCCL for CUDA tensors (internal
// header: users reach it through init_process_group("nccl")). It includes no
// NCCL or CUDA header: the communicator and the watchdog live in
// nccl::State (process_group_nccl.cpp, the only file that includes
// <nccl.h>).
//
// Each group owns an NCCL communicator (made with ncclCommInitRankConfig,
// non-blocking, so that joining it is bounded by the timeout), one stream of
// its GPU's pool on which every collective runs, and a watchdog thread.
// A collective, issued from any thread:
//   1. the NCCL stream waits (an event) for the caller's current stream, so
//      the collective sees what the caller's kernels wrote;
//   2. the NCCL call is queued on the NCCL stream, and its tensors are
//      recorded on it (record_stream: their memory is not handed out again
//      before the collective has finished, even if the caller drops them);
//   3. an event recorded after it marks its end; the watchdog polls it
//      (cudaEventQuery), completes the Work, and fails it (then aborts the
//      communicator, or the job) past the deadline or on an NCCL
//      asynchronous error.
// Work::wait() follows PyTorch's ProcessGroupNCCL: it makes the caller's
// current stream wait for the end event and returns without blocking the
// host (a failure already known throws); barrier()'s wait() blocks the host
// until every rank has arrived. docs/distributed.md, "The NCCL group".
#include <memory>
#include <string>

#include "toadstool/distributed/process_group.h"

namespace toadstool::distributed {

namespace nccl {
struct State;
}  // namespace nccl

class ProcessGroupNccl final : public ProcessGroup {
 public:
  // A collective over bootstrap's ranks (every rank calls it, in the same
  // order as its other collectives on bootstrap): rank 0 makes NCCL's
  // unique id and broadcasts it over `bootstrap` (the MPI group, for
  // init_process_group("nccl"); any group whose ranks are this job's);
  // each rank takes GPU bootstrap.local_rank() % device count and joins the
  // communicator within the timeout. An Error without a GPU, or when NCCL
  // fails (naming the call); past the timeout the job is aborted, or with
  // abort_on_timeout off an Error is thrown.
  static std::shared_ptr<ProcessGroupNccl> create(ProcessGroup& bootstrap,
                                                  const ProcessGroupOptions& options);
  // Waits (bounded by the deadlines) for the collectives still running,
  // then finalises and destroys the communicator; an unusable group's
  // communicator was aborted already.
  ~ProcessGroupNccl() override;

  std::string backend() const override { return "nccl"; }
  Device device() const override;

 protected:
  void check_device(const char* collective, const Tensor& tensor) const override;
  bool reduces(DType dtype) const override;
  std::string reducible_dtypes() const override;
  std::shared_ptr<Work> do_all_reduce(Tensor& tensor, ReduceOp op, bool synchronous) override;
  std::shared_ptr<Work> do_broadcast(Tensor& tensor, int root) override;
  std::shared_ptr<Work> do_all_gather(Tensor& output, const Tensor& input) override;
  std::shared_ptr<Work> do_reduce_scatter(Tensor& output, const Tensor& input,
                                          ReduceOp op) override;
  std::shared_ptr<Work> do_barrier() override;

 private:
  ProcessGroupNccl(const ProcessGroup& bootstrap, std::chrono::duration<double> timeout,
                   std::unique_ptr<nccl::State> state);

  std::unique_ptr<nccl::State> state_;
};

}  // namespace toadstool::distributed
