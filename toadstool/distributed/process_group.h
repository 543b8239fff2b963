#pragma once
// ProcessGroup: collectives over the ranks of a multi-process job, with
// torch.distributed's names and semantics (docs/distributed.md).
//
//   auto pg = distributed::init_process_group("mpi");   // under mpirun
//   Tensor grad = ...;                                   // contiguous CPU float32
//   auto work = pg->all_reduce(grad, distributed::ReduceOp::Average);
//   ...                                                  // other work meanwhile
//   work->wait();                                        // grad holds the mean
//
// Every collective is asynchronous: it returns a Work handle at once, and
// its tensors must not be read or written until wait() returns (all_reduce
// also has a synchronous form). Ordering
// rule (as in PyTorch): every rank issues the same collectives on a group in
// the same order, with the same shapes, dtypes and roots; a mismatch gives a
// timeout or wrong values, not a diagnosis. Each group has its own
// communication channel, so collectives of different groups never match
// each other.
//
// The public methods check what every backend needs (defined, contiguous
// tensors of a supported dtype, the shape contracts below) and throw
// toadstool::Error naming the collective, the rank and the shapes; the
// backend (MPI: CPU tensors; NCCL: CUDA tensors on the group's GPU) checks
// the device and runs the collective.
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "toadstool/distributed/work.h"
#include "toadstool/tensor/tensor.h"

namespace toadstool::distributed {

// Average divides the sum by the group's size once the sum is complete
// (floating tensors only).
enum class ReduceOp { Sum, Average };
const char* reduce_op_name(ReduceOp op);  // "sum", "average"

struct ProcessGroupOptions {
  // The longest a collective may take from its issue to its completion.
  // Unset: $TOADSTOOL_DIST_TIMEOUT_S (seconds, may be fractional), else 300 s.
  std::optional<std::chrono::duration<double>> timeout;
  // On a timeout: true (default) prints the message (rank, collective,
  // shapes) and aborts the whole job (MPI_Abort), so that no rank hangs;
  // false fails the Work instead (wait() throws the Error) and leaves the
  // group unusable: every later collective on it throws.
  bool abort_on_timeout = true;
};

// The timeout the options give (see ProcessGroupOptions::timeout); an
// Error for a malformed or non-positive $TOADSTOOL_DIST_TIMEOUT_S.
std::chrono::duration<double> resolve_timeout(const ProcessGroupOptions& options);

class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  virtual std::string backend() const = 0;  // "mpi", "nccl"
  // Where this group's tensors live: the CPU (MPI) or its GPU (NCCL, the
  // local rank's). Code that works with any group (DDP, ZeRO, the trainer)
  // makes its own small tensors here.
  virtual Device device() const = 0;
  int rank() const { return rank_; }  // 0 .. size() - 1
  int size() const { return size_; }  // the world size
  // The rank among the processes on this machine (which GPU to take).
  int local_rank() const { return local_rank_; }
  std::chrono::duration<double> timeout() const { return timeout_; }

  // tensor (any shape, float32/float64/int64; NCCL also bfloat16/float16)
  // <- the element-wise reduction of every rank's tensor. Average: floating
  // dtypes only. async_op false (PyTorch's async_op=False): returns once the
  // collective has completed (the Work is complete, or wait() has thrown);
  // the MPI group may then run a small all-reduce as one blocking MPI call,
  // faster than the non-blocking algorithm for a few KiB
  // (docs/distributed.md).
  std::shared_ptr<Work> all_reduce(Tensor& tensor, ReduceOp op = ReduceOp::Sum,
                                   bool async_op = true);
  // tensor (any shape and dtype) <- root's tensor, on every rank.
  std::shared_ptr<Work> broadcast(Tensor& tensor, int root = 0);
  // input: n elements (any shape and dtype); output: size() * n elements of
  // the same dtype, any shape ([size * d0, d1, ...] to concatenate along
  // dim 0, [size, d0, ...] to stack). Rank r's input lands in output's
  // elements [r * n, (r + 1) * n) in row-major order. In place: input may be
  // exactly that slice of output (output.view({-1}).narrow(0, rank * n, n));
  // any other overlap is an Error.
  std::shared_ptr<Work> all_gather(Tensor& output, const Tensor& input);
  // input: size() * n elements; output: n elements, same dtype (those of
  // all_reduce), any shapes. output <- the reduction over ranks
  // of input's elements [rank * n, (rank + 1) * n). input and output must
  // not overlap.
  std::shared_ptr<Work> reduce_scatter(Tensor& output, const Tensor& input,
                                       ReduceOp op = ReduceOp::Sum);
  // Completes once every rank has issued it.
  std::shared_ptr<Work> barrier();

 protected:
  ProcessGroup(int rank, int size, int local_rank, std::chrono::duration<double> timeout);

  // "all_reduce (rank 1 of 2)": how messages name a collective.
  std::string where(const char* collective) const;

  // The backend's device rule (MPI: CPU tensors only); throws Error naming
  // the collective.
  virtual void check_device(const char* collective, const Tensor& tensor) const = 0;
  // Whether all_reduce and reduce_scatter take `dtype` (the default:
  // float32, float64 and int64, what every backend reduces), and the list
  // for messages ("float32, float64 or int64").
  virtual bool reduces(DType dtype) const;
  virtual std::string reducible_dtypes() const;
  // The collectives, called with checked arguments.
  // `synchronous`: the caller waits for the Work at once (the backend may
  // complete it before returning).
  virtual std::shared_ptr<Work> do_all_reduce(Tensor& tensor, ReduceOp op, bool synchronous) = 0;
  virtual std::shared_ptr<Work> do_broadcast(Tensor& tensor, int root) = 0;
  virtual std::shared_ptr<Work> do_all_gather(Tensor& output, const Tensor& input) = 0;
  virtual std::shared_ptr<Work> do_reduce_scatter(Tensor& output, const Tensor& input,
                                                  ReduceOp op) = 0;
  virtual std::shared_ptr<Work> do_barrier() = 0;

 private:
  void check_tensor(const char* collective, const char* name, const Tensor& tensor) const;
  void check_reducible(const char* collective, const Tensor& tensor, ReduceOp op) const;

  const int rank_;
  const int size_;
  const int local_rank_;
  const std::chrono::duration<double> timeout_;
};

// A process group over every rank of the job. backend: "mpi" (needs a build
// with MPI, TOADSTOOL_MPI, and a launch by mpirun or another MPI launcher;
// the first call initialises MPI, which is finalised at exit) or "nccl"
// (CUDA tensors; needs a build with NCCL, TOADSTOOL_NCCL, a GPU, and the
// same launch: MPI carries NCCL's unique id; each rank takes GPU
// local_rank % device count). Each call is a collective that creates a new
// group with its own communicator: every rank makes the same calls in the
// same order.
std::shared_ptr<ProcessGroup> init_process_group(const std::string& backend = "mpi",
                                                 const ProcessGroupOptions& options = {});

}  // namespace toadstool::distributed
