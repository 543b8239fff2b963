// The NCCL process group (process_group_nccl.h): the only file that includes
// <nccl.h>. Streams, events and record_stream come from tensor/stream.h; the
// device count and the calling thread's current device from the backend
// table's runtime calls (kernels/backend.h), which keep Toadstool's
// per-thread record of the current device right.
#include "toadstool/distributed/nccl/process_group_nccl.h"

#include <nccl.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "toadstool/kernels/backend.h"
#include "toadstool/tensor/error.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/shape_utils.h"
#include "toadstool/tensor/stream.h"

namespace toadstool::distributed {

using detail::concat;
using detail::describe;

namespace {

using Clock = Work::Clock;

Clock::time_point deadline_after(std::chrono::duration<double> timeout) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(timeout);
}

// "ncclAllReduce failed: invalid argument (NCCL error 4): <NCCL's last
// message>". comm may be null (ncclGetLastError then gives the thread's).
std::string nccl_failure(const char* call, ncclResult_t result, ncclComm_t comm) {
  std::string text = concat(call, " failed: ", ncclGetErrorString(result), " (NCCL error ",
                            static_cast<int>(result), ")");
  const char* last = ncclGetLastError(comm);
  if (last != nullptr && *last != '\0') text += concat(": ", last);
  return text;
}

// Ends this rank at once: under mpirun a rank that exits non-zero without
// MPI_Finalize ends the whole job, as MPI_Abort does for the MPI group. (This
// file calls no MPI: the bootstrap group may be any backend.)
[[noreturn]] void abort_job(const std::string& message) {
  std::fprintf(stderr, "toadstool.distributed: %s; aborting the job\n", message.c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

// NCCL's non-blocking mode (config.blocking = 0): a call may return
// ncclInProgress, and the communicator must then be polled with
// ncclCommGetAsyncError until it leaves that state before the next call on
// it. Returns the final result, or ncclInProgress when `deadline` passed
// first.
ncclResult_t settle(ncclComm_t comm, ncclResult_t result, Clock::time_point deadline) {
  while (result == ncclInProgress) {
    if (Clock::now() > deadline) return ncclInProgress;
    std::this_thread::yield();
    ncclResult_t state = ncclSuccess;
    const ncclResult_t rc = ncclCommGetAsyncError(comm, &state);
    result = rc != ncclSuccess ? rc : state;
  }
  return result;
}

ncclDataType_t nccl_type(DType dtype) {
  switch (dtype) {
    case DType::Float32: return ncclFloat32;
    case DType::Float64: return ncclFloat64;
    case DType::Int64: return ncclInt64;
    case DType::BFloat16: return ncclBfloat16;
    case DType::Float16: return ncclFloat16;
    default: break;
  }
  // The front-end admits only the dtypes of reduces().
  throw Error(concat("ProcessGroupNccl: no NCCL reduction type for ", dtype));
}

// Average is NCCL's own ncclAvg (the sum divided by the rank count inside
// the kernel, NCCL 2.10 and later).
ncclRedOp_t nccl_op(ReduceOp op) { return op == ReduceOp::Average ? ncclAvg : ncclSum; }

size_t bytes_of(const Tensor& t) {
  return static_cast<size_t>(t.numel()) * static_cast<size_t>(t.element_size());
}

int next_group_id() {
  static std::atomic<int> id{0};
  return ++id;
}

}  // namespace

namespace nccl {

// A collective's handle. The watchdog completes or fails it; wait() makes
// the caller's current stream wait for the end event (PyTorch's semantics)
// unless the Work is blocking (barrier), which waits on the host. In nccl,
// not the anonymous namespace: State, which the header declares, holds them.
class NcclWork final : public Work {
 public:
  NcclWork(std::string description, Clock::time_point deadline, Device device, bool blocking,
           bool abort_on_timeout)
      : Work(std::move(description), deadline),
        device_(device),
        blocking_(blocking),
        abort_on_timeout_(abort_on_timeout) {}

  void wait() override {
    // Finished (or failed) already, or a barrier: the host-side wait, which
    // throws a failure.
    if (blocking_ || Work::is_completed()) {
      Work::wait();
      return;
    }
    end_.wait(cuda_current_stream(device_));
  }

  Event& end() { return end_; }

 protected:
  void on_stuck() override {
    if (abort_on_timeout_) exit_stuck("the NCCL watchdog is unresponsive");
  }

 private:
  const Device device_;
  const bool blocking_;
  const bool abort_on_timeout_;
  Event end_;  // recorded on the NCCL stream after the collective
};

struct State {
  State(Device device, Stream stream, int id, int rank, int size,
        std::chrono::duration<double> timeout, bool abort_on_timeout)
      : device(device),
        stream(stream),
        id(id),
        rank(rank),
        size(size),
        timeout(timeout),
        abort_on_timeout(abort_on_timeout) {}

  const Device device;
  const Stream stream;  // every collective of the group runs here
  const int id;         // this process's NCCL groups are numbered 1, 2, ...
  const int rank;
  const int size;
  const std::chrono::duration<double> timeout;
  const bool abort_on_timeout;
  Tensor barrier_value;  // [1] float32 on the device: what barrier() all-reduces

  // Lock order: issue_mutex, then comm_mutex, then mutex.
  std::mutex issue_mutex;  // numbers and queues collectives in one order
  int64_t issued = 0;
  // Every NCCL call on comm (NCCL's communicators are not thread-safe: the
  // watchdog polls and aborts from its own thread). Null once aborted.
  std::mutex comm_mutex;
  ncclComm_t comm = nullptr;
  // The collectives not finished yet, in issue order (so in the order their
  // end events complete on the one stream), and the group's health.
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::shared_ptr<NcclWork>> pending;
  std::string broken;  // non-empty: why the group is unusable
  bool stopping = false;
  std::thread watchdog;
};

}  // namespace nccl

namespace {

using nccl::NcclWork;
using nccl::State;

// The group can no longer be trusted (a timeout, an NCCL error): abort the
// job (abort_on_timeout), or fail every pending Work, refuse every later
// collective and abort the communicator, which ends the kernels still
// waiting for other ranks. Called with comm_mutex held.
void fail_group(State& s, const std::string& message) {
  if (s.abort_on_timeout) abort_job(message);
  std::deque<std::shared_ptr<NcclWork>> failed;
  {
    const std::lock_guard<std::mutex> lock(s.mutex);
    if (s.broken.empty()) s.broken = message;
    failed.swap(s.pending);
  }
  const std::string unusable = "; the process group is unusable from now on";
  for (const auto& work : failed) {
    // The message names the collective that failed; the others say why.
    const bool named = message.rfind(work->description(), 0) == 0;
    work->mark_failed(named ? message + unusable
                            : concat(work->description(), ": aborted: ", message, unusable));
  }
  if (s.comm != nullptr) {
    (void)ncclCommAbort(s.comm);  // nothing more to do should it fail
    s.comm = nullptr;
  }
}

// The watchdog thread: completes the pending collectives in order as their
// end events complete, and fails the group past the oldest one's deadline
// or on an NCCL asynchronous error (a peer gone, a network failure). It
// polls every millisecond while something is pending and sleeps otherwise;
// at the group's destruction it ends once nothing is pending.
void watch(State& s) {
  // Its event queries and releases run on the group's GPU (on a thread
  // with no device chosen, the runtime would make a context on GPU 0).
  try {
    kernels::cuda_use_device(s.device.index);
  } catch (const std::exception&) {
    // The queries below report the device's failure.
  }
  for (;;) {
    std::shared_ptr<NcclWork> front;
    {
      std::unique_lock<std::mutex> lock(s.mutex);
      s.wake.wait(lock, [&] { return !s.pending.empty() || s.stopping; });
      if (s.pending.empty()) return;
      front = s.pending.front();
    }
    std::string cuda_error;
    bool done = false;
    try {
      done = front->end().query();
    } catch (const Error& e) {
      cuda_error = e.what();
    }
    if (done) {
      front->mark_completed();
      const std::lock_guard<std::mutex> lock(s.mutex);
      if (!s.pending.empty() && s.pending.front() == front) s.pending.pop_front();
      continue;
    }
    {
      const std::lock_guard<std::mutex> comm_lock(s.comm_mutex);
      ncclResult_t async = ncclSuccess;
      if (!cuda_error.empty()) {
        fail_group(s, concat(front->description(), ": ", cuda_error));
      } else if (s.comm != nullptr && ncclCommGetAsyncError(s.comm, &async) == ncclSuccess &&
                 async != ncclSuccess && async != ncclInProgress) {
        fail_group(s, concat(front->description(), ": NCCL reported an asynchronous error: ",
                             nccl_failure("the communicator", async, s.comm)));
      } else if (Clock::now() > front->deadline()) {
        fail_group(s, concat(front->description(), ": timed out after ", s.timeout.count(),
                             " s: not every rank has joined it (a rank may have died or hung, "
                             "or the ranks issued their collectives in different orders)"));
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// One collective: `run` queues it on the NCCL stream (for empty tensors it
// returns ncclSuccess without calling NCCL, which may reject their null
// buffers); `call` names that NCCL function in messages.
struct Request {
  std::string where;  // "all_reduce (rank 0 of 2)"
  std::string what;   // "all_reduce (sum) of [4] float32"
  std::vector<Tensor> tensors;
  bool blocking = false;
  const char* call = "";  // "ncclAllReduce"
  std::function<ncclResult_t(ncclComm_t, cudaStream_t)> run;
};

std::shared_ptr<Work> issue(State& s, const Request& request) {
  const std::lock_guard<std::mutex> issue_lock(s.issue_mutex);
  {
    const std::lock_guard<std::mutex> lock(s.mutex);
    TS_CHECK(s.broken.empty(), request.where, ": this process group is unusable: ", s.broken);
  }
  ++s.issued;
  auto work = std::make_shared<NcclWork>(
      concat(request.what, " (collective #", s.issued, " of nccl group ", s.id, ", rank ", s.rank,
             " of ", s.size, ")"),
      deadline_after(s.timeout), s.device, request.blocking, s.abort_on_timeout);
  const auto cuda_step = [&](const auto& step) {
    try {
      step();
    } catch (const Error& e) {
      const std::string message = concat(work->description(), ": ", e.what());
      const std::lock_guard<std::mutex> comm_lock(s.comm_mutex);
      fail_group(s, message);
      throw Error(message);
    }
  };
  // 1. The collective runs after what the caller has queued so far.
  cuda_step([&] {
    kernels::cuda_use_device(s.device.index);
    s.stream.wait_stream(cuda_current_stream(s.device));
  });
  // 2. The NCCL call, on the NCCL stream.
  {
    const std::lock_guard<std::mutex> comm_lock(s.comm_mutex);
    TS_CHECK(s.comm != nullptr, request.where, ": this process group is unusable: ", s.broken);
    const ncclResult_t result =
        settle(s.comm, request.run(s.comm, static_cast<cudaStream_t>(s.stream.handle())),
               work->deadline());
    if (result == ncclInProgress) {
      const std::string message = concat(work->description(), ": ", request.call,
                                         " was still in progress after ", s.timeout.count(), " s");
      fail_group(s, message);
      throw Error(message);
    }
    if (result != ncclSuccess) {
      const std::string message =
          concat(work->description(), ": ", nccl_failure(request.call, result, s.comm));
      // Any failure: in non-blocking mode NCCL keeps even a refused
      // argument as the communicator's error, and refuses every later call
      // (our front-end checks the arguments first, so this is not a user's
      // mistake).
      fail_group(s, message);
      throw Error(message);
    }
  }
  // 3. Its tensors' memory is in use on the NCCL stream until it finishes;
  //    the end event marks that.
  cuda_step([&] {
    for (const Tensor& t : request.tensors) record_stream(t, s.stream);
    work->end().record(s.stream);
  });
  {
    // The group may have failed since the call was queued (the watchdog,
    // between the two locks): then the collective was aborted, and its Work
    // must not complete as if it had run.
    const std::lock_guard<std::mutex> lock(s.mutex);
    if (!s.broken.empty()) {
      const std::string message = concat(work->description(), ": aborted: ", s.broken);
      work->mark_failed(message);
      throw Error(message);
    }
    s.pending.push_back(work);
  }
  s.wake.notify_one();
  return work;
}

}  // namespace

std::shared_ptr<ProcessGroupNccl> ProcessGroupNccl::create(ProcessGroup& bootstrap,
                                                           const ProcessGroupOptions& options) {
  const std::chrono::duration<double> timeout = resolve_timeout(options);
  const std::string who = concat("init_process_group: backend 'nccl' (rank ", bootstrap.rank(),
                                 " of ", bootstrap.size(), ")");
  TS_CHECK(cuda_is_available(), who,
           ": needs a CUDA GPU, and this process sees none (cuda_is_available() is false)");
  const Device device(DeviceType::CUDA, bootstrap.local_rank() % kernels::cuda_device_count());
  // This rank's GPU first: its stream, events and communicator are made on
  // it (and no context is made on another GPU).
  kernels::cuda_use_device(device.index);
  auto state =
      std::make_unique<State>(device, cuda_new_stream(device), next_group_id(), bootstrap.rank(),
                              bootstrap.size(), timeout, options.abort_on_timeout);
  state->barrier_value = zeros({1}, device);

  // NCCL's unique id, made by rank 0 and broadcast with a status word in
  // front, so that a failure there is an Error on every rank, not a hang.
  ncclUniqueId id{};
  constexpr int64_t kIdWords = (sizeof(ncclUniqueId) + sizeof(int64_t) - 1) / sizeof(int64_t);
  Tensor message = zeros({1 + kIdWords}, kInt64);
  std::string failure;
  if (bootstrap.rank() == 0) {
    const ncclResult_t result = ncclGetUniqueId(&id);
    if (result == ncclSuccess) {
      message.data_ptr<int64_t>()[0] = 1;
      std::memcpy(message.data_ptr<int64_t>() + 1, &id, sizeof(id));
    } else {
      failure = nccl_failure("ncclGetUniqueId", result, nullptr);
    }
  }
  Tensor sent = message.to(bootstrap.device());
  bootstrap.broadcast(sent, 0)->wait();
  message = sent.to(kCPU);
  TS_CHECK(message.data_ptr<int64_t>()[0] == 1, who, ": rank 0 could not make NCCL's unique id",
           failure.empty() ? "" : ": ", failure);
  std::memcpy(&id, message.data_ptr<int64_t>() + 1, sizeof(id));

  // The communicator, on this rank's GPU (ncclCommInitRankConfig takes the
  // calling thread's current device). Non-blocking: the call returns at
  // once and is polled, so that a rank that never joins ends in a timeout.
  kernels::cuda_use_device(device.index);
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  ncclComm_t comm = nullptr;
  ncclResult_t result =
      ncclCommInitRankConfig(&comm, bootstrap.size(), id, bootstrap.rank(), &config);
  if (comm != nullptr) result = settle(comm, result, deadline_after(timeout));
  if (result != ncclSuccess) {
    const std::string error =
        result == ncclInProgress
            ? concat(who, ": ncclCommInitRankConfig on ", device, " did not complete within ",
                     timeout.count(),
                     " s (a rank may have died or hung, or not called init_process_group)")
            : concat(who, ": ", nccl_failure("ncclCommInitRankConfig", result, comm), " on ",
                     device);
    if (comm != nullptr) (void)ncclCommAbort(comm);
    if (result == ncclInProgress && options.abort_on_timeout) abort_job(error);
    throw Error(error);
  }
  state->comm = comm;

  std::shared_ptr<ProcessGroupNccl> group(
      new ProcessGroupNccl(bootstrap, timeout, std::move(state)));
  State* s = group->state_.get();
  s->watchdog = std::thread([s] { watch(*s); });
  return group;
}

ProcessGroupNccl::ProcessGroupNccl(const ProcessGroup& bootstrap,
                                   std::chrono::duration<double> timeout,
                                   std::unique_ptr<nccl::State> state)
    : ProcessGroup(bootstrap.rank(), bootstrap.size(), bootstrap.local_rank(), timeout),
      state_(std::move(state)) {}

ProcessGroupNccl::~ProcessGroupNccl() {
  State& s = *state_;
  {
    const std::lock_guard<std::mutex> lock(s.mutex);
    s.stopping = true;
  }
  s.wake.notify_all();
  // The watchdog ends once every pending collective has completed or
  // failed (bounded by their deadlines).
  if (s.watchdog.joinable()) s.watchdog.join();
  const std::lock_guard<std::mutex> comm_lock(s.comm_mutex);
  if (s.comm == nullptr) return;
  // ncclCommFinalize flushes what was issued (non-blocking: polled within
  // the timeout); then ncclCommDestroy frees the rest. A communicator that
  // does not finalise in time is aborted. A destructor does not throw.
  const ncclResult_t result = settle(s.comm, ncclCommFinalize(s.comm), deadline_after(s.timeout));
  if (result == ncclSuccess) {
    (void)ncclCommDestroy(s.comm);
  } else {
    (void)ncclCommAbort(s.comm);
  }
  s.comm = nullptr;
}

Device ProcessGroupNccl::device() const { return state_->device; }

void ProcessGroupNccl::check_device(const char* collective, const Tensor& tensor) const {
  TS_CHECK(tensor.device() == state_->device, where(collective),
           ": the NCCL process group takes CUDA tensors on its GPU ", state_->device, ", got ",
           describe(tensor), " on ", tensor.device());
}

bool ProcessGroupNccl::reduces(DType dtype) const {
  return ProcessGroup::reduces(dtype) || dtype == kBFloat16 || dtype == kFloat16;
}

std::string ProcessGroupNccl::reducible_dtypes() const {
  return "float32, float64, int64, bfloat16 or float16";
}

std::shared_ptr<Work> ProcessGroupNccl::do_all_reduce(Tensor& tensor, ReduceOp op,
                                                      bool /*synchronous*/) {
  void* data = tensor.data_ptr();
  const auto count = static_cast<size_t>(tensor.numel());
  const ncclDataType_t type = nccl_type(tensor.dtype());
  const ncclRedOp_t reduction = nccl_op(op);
  return issue(*state_, {where("all_reduce"),
                         concat("all_reduce (", reduce_op_name(op), ") of ", describe(tensor)),
                         {tensor},
                         false,
                         "ncclAllReduce",
                         [=](ncclComm_t comm, cudaStream_t stream) {
                           if (count == 0) return ncclSuccess;
                           return ncclAllReduce(data, data, count, type, reduction, comm, stream);
                         }});
}

std::shared_ptr<Work> ProcessGroupNccl::do_broadcast(Tensor& tensor, int root) {
  // Byte-wise: any dtype travels unchanged.
  void* data = tensor.data_ptr();
  const size_t bytes = bytes_of(tensor);
  return issue(*state_, {where("broadcast"),
                         concat("broadcast from root ", root, " of ", describe(tensor)),
                         {tensor},
                         false,
                         "ncclBroadcast",
                         [=](ncclComm_t comm, cudaStream_t stream) {
                           if (bytes == 0) return ncclSuccess;
                           return ncclBroadcast(data, data, bytes, ncclUint8, root, comm, stream);
                         }});
}

std::shared_ptr<Work> ProcessGroupNccl::do_all_gather(Tensor& output, const Tensor& input) {
  // Byte-wise. The one overlap the front-end admits (input is this rank's
  // slice of output) is NCCL's in-place form.
  const void* send = input.data_ptr();
  void* receive = output.data_ptr();
  const size_t bytes = bytes_of(input);
  return issue(*state_, {where("all_gather"),
                         concat("all_gather of ", describe(input), " into ", describe(output)),
                         {output, input},
                         false,
                         "ncclAllGather",
                         [=](ncclComm_t comm, cudaStream_t stream) {
                           if (bytes == 0) return ncclSuccess;
                           return ncclAllGather(send, receive, bytes, ncclUint8, comm, stream);
                         }});
}

std::shared_ptr<Work> ProcessGroupNccl::do_reduce_scatter(Tensor& output, const Tensor& input,
                                                          ReduceOp op) {
  const void* send = input.data_ptr();
  void* receive = output.data_ptr();
  const auto count = static_cast<size_t>(output.numel());
  const ncclDataType_t type = nccl_type(input.dtype());
  const ncclRedOp_t reduction = nccl_op(op);
  return issue(*state_, {where("reduce_scatter"),
                         concat("reduce_scatter (", reduce_op_name(op), ") of ", describe(input),
                                " into ", describe(output)),
                         {output, input},
                         false,
                         "ncclReduceScatter",
                         [=](ncclComm_t comm, cudaStream_t stream) {
                           if (count == 0) return ncclSuccess;
                           return ncclReduceScatter(send, receive, count, type, reduction, comm,
                                                    stream);
                         }});
}

std::shared_ptr<Work> ProcessGroupNccl::do_barrier() {
  // NCCL has no barrier: a one-element all_reduce (as PyTorch's), whose
  // wait() blocks the host until every rank has reached it.
  void* data = state_->barrier_value.data_ptr();
  return issue(*state_, {where("barrier"),
                         "barrier",
                         {state_->barrier_value},
                         true,
                         "ncclAllReduce",
                         [=](ncclComm_t comm, cudaStream_t stream) {
                           return ncclAllReduce(data, data, 1, ncclFloat32, ncclSum, comm, stream);
                         }});
}

}  // namespace toadstool::distributed
