#include "toadstool/distributed/mpi/process_group_mpi.h"

#include <climits>
#include <utility>

#include "toadstool/tensor/error.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool::distributed {

using detail::concat;
using detail::describe;

namespace {

// A Work whose waiter polls MPI itself (mpi/runtime.h: no thread wake-up
// between a small collective and its waiter) and, should the collective
// still not finish (another thread is stuck inside MPI), ends the process
// when the group aborts on timeouts: mpirun then ends the job, as it does
// for any rank that exits without MPI_Finalize.
class MpiWork final : public Work {
 public:
  MpiWork(mpi::Runtime& runtime, Describer describe, Clock::time_point deadline,
          bool abort_on_timeout)
      : Work(std::move(describe), deadline),
        runtime_(runtime),
        abort_on_timeout_(abort_on_timeout) {}

  void wait() override {
    if (!is_completed()) runtime_.drive(*this);
    Work::wait();
  }

 protected:
  void on_stuck() override {
    if (abort_on_timeout_) exit_stuck("the thread in MPI is unresponsive");
  }

 private:
  mpi::Runtime& runtime_;
  const bool abort_on_timeout_;
};

MPI_Datatype reduce_type(DType dtype) {
  switch (dtype) {
    case DType::Float32: return MPI_FLOAT;
    case DType::Float64: return MPI_DOUBLE;
    default: return MPI_INT64_T;  // the front-end admits float32, float64, int64
  }
}

// tensor /= n in place (floating dtypes), once a sum is complete.
void divide(const Tensor& tensor, int n) {
  const int64_t count = tensor.numel();
  if (tensor.dtype() == kFloat32) {
    auto* p = static_cast<float*>(tensor.data_ptr());
    const auto d = static_cast<float>(n);
    for (int64_t i = 0; i < count; ++i) p[i] /= d;
  } else {
    auto* p = static_cast<double*>(tensor.data_ptr());
    const auto d = static_cast<double>(n);
    for (int64_t i = 0; i < count; ++i) p[i] /= d;
  }
}

// Which collective of which group on which rank, for its description:
// "<what> (collective #<number> of group <group>, rank <rank> of <size>)".
struct Where {
  int64_t number;
  int group;
  int rank;
  int size;
  std::string describe(const std::string& what) const {
    return concat(what, " (collective #", number, " of group ", group, ", rank ", rank, " of ",
                  size, ")");
  }
};

// All-reduces of at most this many bytes may run as one blocking call.
constexpr int64_t kBlockingAllReduceBytes = 256 << 10;

int next_group_id() {
  static std::atomic<int> id{0};
  return ++id;
}

}  // namespace

std::shared_ptr<ProcessGroupMpi> ProcessGroupMpi::create(const ProcessGroupOptions& options) {
  const std::chrono::duration<double> timeout = resolve_timeout(options);
  mpi::Runtime& runtime = mpi::Runtime::get(timeout);
  std::shared_ptr<ProcessGroupMpi> group(
      new ProcessGroupMpi(runtime, next_group_id(), timeout, options.abort_on_timeout));
  ProcessGroupMpi* self = group.get();
  // The communicator: a non-blocking duplicate of the world, so that its
  // creation is bounded by the timeout too.
  auto comm = std::make_shared<MPI_Comm>(MPI_COMM_NULL);
  group
      ->submit(
          "init_process_group", [] { return std::string("MPI_Comm_idup of MPI_COMM_WORLD"); },
          [comm](MPI_Comm, MPI_Request* request) {
            return MPI_Comm_idup(MPI_COMM_WORLD, comm.get(), request);
          },
          [self, comm] { self->comm_ = *comm; })
      ->wait();
  group->issued_ = 0;  // the user's collectives are numbered from 1
  return group;
}

ProcessGroupMpi::ProcessGroupMpi(mpi::Runtime& runtime, int id,
                                 std::chrono::duration<double> timeout, bool abort_on_timeout)
    : ProcessGroup(runtime.rank(), runtime.size(), runtime.local_rank(), timeout),
      runtime_(runtime),
      id_(id),
      abort_on_timeout_(abort_on_timeout),
      completed_(std::make_shared<Work>(concat("a synchronous all_reduce of group ", id),
                                        Work::Clock::now())) {
  completed_->mark_completed();
  runtime_.add_group();
}

ProcessGroupMpi::~ProcessGroupMpi() {
  runtime_.remove_group();
  // Collectives still queued or active keep their tensors alive and finish
  // on the communication thread; the communicator is freed after them
  // (MPI_Comm_free lets pending operations complete). A timed-out group's
  // operations may never complete: its communicator is left to MPI.
  if (comm_ == MPI_COMM_NULL || broken_->load()) return;
  auto work = std::make_shared<Work>(concat("MPI_Comm_free of group ", id_),
                                     Work::Clock::now() + Work::kStuckGrace);
  mpi::Op op;
  op.work = work;
  op.start = [comm = comm_](MPI_Request*) mutable { return MPI_Comm_free(&comm); };
  op.timeout = timeout();
  if (!runtime_.submit(op)) return;  // shut down (at exit): MPI is finalised
  try {
    work->wait();
  } catch (const Error&) {
    // A destructor does not throw; the communicator is MPI's problem now.
  }
}

int ProcessGroupMpi::mpi_count(const char* collective, const Tensor& tensor, int64_t count,
                               const char* unit) const {
  TS_CHECK(count <= INT_MAX, where(collective), ": ", describe(tensor), " is ", count, " ", unit,
           ", more than MPI's count limit (2^31 - 1); split it");
  return static_cast<int>(count);
}

void ProcessGroupMpi::check_device(const char* collective, const Tensor& tensor) const {
  TS_CHECK(tensor.device().is_cpu(), where(collective),
           ": the MPI process group takes CPU tensors, got ", describe(tensor), " on ",
           tensor.device());
}

void ProcessGroupMpi::check_usable(const char* collective) const {
  TS_CHECK(!broken_->load(), where(collective),
           ": this process group is unusable: an earlier collective on it timed out");
}

std::shared_ptr<Work> ProcessGroupMpi::submit(const char* collective, Work::Describer what,
                                              std::function<int(MPI_Comm, MPI_Request*)> start,
                                              std::function<void()> finish) {
  check_usable(collective);
  std::lock_guard<std::mutex> lock(issue_mutex_);
  ++issued_;
  auto work = std::make_shared<MpiWork>(
      runtime_,
      // By value: the Work may outlive the group (a timed-out collective).
      [what = std::move(what), where = Where{issued_, id_, rank(), size()}] {
        return where.describe(what());
      },
      Work::Clock::now() + std::chrono::duration_cast<Work::Clock::duration>(timeout()),
      abort_on_timeout_);
  mpi::Op op;
  op.work = work;
  // The communicator by value: the group may be gone by the time a queued
  // operation starts (a timed-out group's destructor does not wait).
  op.start = [comm = comm_, start = std::move(start)](MPI_Request* request) {
    return start(comm, request);
  };
  op.finish = std::move(finish);
  op.timeout = timeout();
  op.abort_on_timeout = abort_on_timeout_;
  op.on_timeout = [broken = broken_] { broken->store(true); };
  TS_CHECK(runtime_.submit(op), where(collective),
           ": MPI has been shut down (the process is exiting)");
  return work;
}

bool ProcessGroupMpi::try_blocking_all_reduce(const Tensor& tensor, ReduceOp op, int count,
                                              MPI_Datatype type) {
  check_usable("all_reduce");
  std::lock_guard<std::mutex> lock(issue_mutex_);
  // Everything the call needs, by one reference: each closure below then
  // fits in its std::function's own storage (no allocation).
  struct {
    const ProcessGroupMpi& group;
    const Tensor& tensor;
    ReduceOp op;
    int count;
    MPI_Datatype type;
    Where where;
  } call{*this, tensor, op, count, type, Where{issued_ + 1, id_, rank(), size()}};
  // Made only for a message (a timeout, an MPI error).
  const Work::Describer what = [&call] {
    return call.where.describe(
        concat("all_reduce (", reduce_op_name(call.op), ") of ", describe(call.tensor)));
  };
  std::function<void()> finish;
  if (op == ReduceOp::Average) finish = [&call] { divide(call.tensor, call.group.size()); };
  const bool ran = runtime_.run_blocking(what, timeout(), finish, [&call] {
    return MPI_Allreduce(MPI_IN_PLACE, call.tensor.data_ptr(), call.count, call.type, MPI_SUM,
                         call.group.comm_);
  });
  if (ran) ++issued_;
  return ran;
}

std::shared_ptr<Work> ProcessGroupMpi::do_all_reduce(Tensor& tensor, ReduceOp op,
                                                     bool synchronous) {
  const int count = mpi_count("all_reduce", tensor, tensor.numel(), "elements");
  MPI_Datatype type = reduce_type(tensor.dtype());
  // A small synchronous all-reduce as Open MPI's blocking call when nothing
  // else is in flight: the non-blocking algorithm and the polling cost more
  // than the collective itself below a few hundred KiB
  // (docs/distributed.md). Only in a group that aborts on timeouts: a
  // blocking call cannot be abandoned and its Work failed.
  if (synchronous && abort_on_timeout_ &&
      tensor.numel() * static_cast<int64_t>(tensor.element_size()) <= kBlockingAllReduceBytes &&
      try_blocking_all_reduce(tensor, op, count, type)) {
    return completed_;
  }
  std::function<void()> finish;
  if (op == ReduceOp::Average) finish = [tensor, n = size()] { divide(tensor, n); };
  return submit(
      "all_reduce",
      [tensor, op] {
        return concat("all_reduce (", reduce_op_name(op), ") of ", describe(tensor));
      },
      [tensor, count, type](MPI_Comm comm, MPI_Request* request) {
        return MPI_Iallreduce(MPI_IN_PLACE, tensor.data_ptr(), count, type, MPI_SUM, comm, request);
      },
      std::move(finish));
}

std::shared_ptr<Work> ProcessGroupMpi::do_broadcast(Tensor& tensor, int root) {
  // Byte-wise: any dtype travels unchanged.
  const int bytes = mpi_count(
      "broadcast", tensor, tensor.numel() * static_cast<int64_t>(tensor.element_size()), "bytes");
  return submit(
      "broadcast",
      [tensor, root] { return concat("broadcast from root ", root, " of ", describe(tensor)); },
      [tensor, bytes, root](MPI_Comm comm, MPI_Request* request) {
        return MPI_Ibcast(tensor.data_ptr(), bytes, MPI_BYTE, root, comm, request);
      });
}

std::shared_ptr<Work> ProcessGroupMpi::do_all_gather(Tensor& output, const Tensor& input) {
  const int64_t element = static_cast<int64_t>(input.element_size());
  const int bytes = mpi_count("all_gather", input, input.numel() * element, "bytes");
  mpi_count("all_gather", output, output.numel() * element, "bytes");
  // The front-end admits an overlap only when input is this rank's slice
  // of output: MPI's in-place form.
  const bool in_place =
      input.numel() > 0 && input.data_ptr() == static_cast<char*>(output.data_ptr()) +
                                                   static_cast<int64_t>(rank()) * bytes;
  return submit(
      "all_gather",
      [output, input] {
        return concat("all_gather of ", describe(input), " into ", describe(output));
      },
      [output, input, bytes, in_place](MPI_Comm comm, MPI_Request* request) {
        return MPI_Iallgather(in_place ? MPI_IN_PLACE : input.data_ptr(), bytes, MPI_BYTE,
                              output.data_ptr(), bytes, MPI_BYTE, comm, request);
      });
}

std::shared_ptr<Work> ProcessGroupMpi::do_reduce_scatter(Tensor& output, const Tensor& input,
                                                         ReduceOp op) {
  const int count = mpi_count("reduce_scatter", output, output.numel(), "elements");
  mpi_count("reduce_scatter", input, input.numel(), "elements");
  MPI_Datatype type = reduce_type(input.dtype());
  std::function<void()> finish;
  if (op == ReduceOp::Average) finish = [output, n = size()] { divide(output, n); };
  return submit(
      "reduce_scatter",
      [output, input, op] {
        return concat("reduce_scatter (", reduce_op_name(op), ") of ", describe(input), " into ",
                      describe(output));
      },
      [output, input, count, type](MPI_Comm comm, MPI_Request* request) {
        return MPI_Ireduce_scatter_block(input.data_ptr(), output.data_ptr(), count, type, MPI_SUM,
                                         comm, request);
      },
      std::move(finish));
}

std::shared_ptr<Work> ProcessGroupMpi::do_barrier() {
  return submit(
      "barrier", [] { return std::string("barrier"); },
      [](MPI_Comm comm, MPI_Request* request) { return MPI_Ibarrier(comm, request); });
}

}  // namespace toadstool::distributed
