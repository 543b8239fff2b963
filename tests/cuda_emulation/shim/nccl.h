#pragma once
// NCCL's API, as much of it as the NCCL process group calls
// (toadstool/distributed/nccl/), for the emulated CUDA build
// (TOADSTOOL_CUDA=EMULATED, where the library compiles against this header):
// a model of NCCL's documented contract whose ranks are the processes of
// one machine (mpirun's), exchanging their buffers through POSIX shared
// memory.
//
// As on a GPU, a collective runs on its stream: the call checks it and
// queues it on the emulated device (shim/emulated_device.h), and returns;
// when the device reaches it, the communicator's progress thread meets the
// other ranks and writes the result, while the stream waits. A peer that is
// late or never comes holds the stream (and whatever waits on it), not the
// host; ncclCommAbort lets it go on.
//
// The model is strict where a caller's mistake would hang or corrupt a real
// job, so that the group's mistakes show as failures:
//   - the unique id names the communicator: ranks that join with another
//     id never meet (a timeout); the same rank joining twice, and ranks
//     that disagree on the rank count, are refused at once;
//   - non-blocking mode (config.blocking = 0): every join, collective and
//     finalisation that passes its checks returns ncclInProgress, and the
//     communicator's state stays ncclInProgress
//     until ncclCommGetAsyncError has reported it once (the join and a
//     finalisation: until they are over); a call before that is
//     ncclInvalidUsage (NCCL: poll until the state leaves ncclInProgress
//     before the next call), as is a collective after ncclCommFinalize; any
//     other error stays the communicator's state;
//   - every rank issues the same collectives in the same order, with the
//     same count, type, operation and root (else NCCL hangs or mixes
//     buffers; here the progress thread of every rank fails, naming both,
//     and its stream waits for the abort, as NCCL's kernels would);
//   - two threads inside one communicator at once abort the process
//     (communicators are not thread-safe).
// Reductions run in rank order, floating types in double rounded once to the
// type (NCCL's order differs: the last bit may too); ncclAvg is the sum
// divided by the rank count. A peer that has not come after
// TOADSTOOL_NCCL_MODEL_TIMEOUT_S (60 s by default) is the communicator's
// ncclRemoteError, as NCCL reports a lost connection.
// What it cannot show: networks, NCCL's own deadlocks (a collective holds
// no GPU resources here), and several GPUs: each process has its own
// emulated device 0. Ranks that are threads of one process (its own tests)
// share that device: each needs a stream of its own, or one rank's
// collective holds the stream the others' wait behind.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../element_bytes.h"
#include "cuda_runtime.h"

#define NCCL_UNIQUE_ID_BYTES 128
struct ncclUniqueId {
  char internal[NCCL_UNIQUE_ID_BYTES];
};
enum ncclResult_t {
  ncclSuccess = 0,
  ncclUnhandledCudaError = 1,
  ncclSystemError = 2,
  ncclInternalError = 3,
  ncclInvalidArgument = 4,
  ncclInvalidUsage = 5,
  ncclRemoteError = 6,
  ncclInProgress = 7,
};
enum ncclRedOp_t { ncclSum = 0, ncclProd = 1, ncclMax = 2, ncclMin = 3, ncclAvg = 4 };
enum ncclDataType_t {
  ncclInt8 = 0,
  ncclUint8 = 1,
  ncclInt32 = 2,
  ncclUint32 = 3,
  ncclInt64 = 4,
  ncclUint64 = 5,
  ncclFloat16 = 6,
  ncclFloat32 = 7,
  ncclFloat64 = 8,
  ncclBfloat16 = 9,
};
struct ncclConfig_t {
  int blocking = 1;
};
#define NCCL_CONFIG_INITIALIZER \
  {}
struct ncclComm;
using ncclComm_t = ncclComm*;

namespace nccl_model {

inline constexpr char kMagic[] = "toadstool-nccl-model";
inline constexpr int kMaxRanks = 64;
enum class Kind : int { AllReduce = 1, Broadcast, AllGather, ReduceScatter };

// What a rank issued, compared across the ranks before any data moves.
struct Call {
  uint64_t sequence = 0;
  Kind kind{};
  int type = 0;
  int op = 0;
  int root = 0;
  uint64_t count = 0;
};

// The communicator's shared segment (zero bytes when made).
struct Shared {
  std::atomic<uint64_t> arrivals;  // one per rank per barrier
  std::atomic<uint64_t> joined;    // a bit per rank
  std::atomic<int> ranks;          // the rank count the first rank gave
  Call calls[kMaxRanks];
};
static_assert(std::atomic<uint64_t>::is_always_lock_free, "atomics shared between processes");

inline std::chrono::duration<double> timeout() {
  const char* text = std::getenv("TOADSTOOL_NCCL_MODEL_TIMEOUT_S");
  return std::chrono::duration<double>(text != nullptr ? std::atof(text) : 60.0);
}

inline thread_local std::string last_error_without_comm;

inline const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::AllReduce: return "ncclAllReduce";
    case Kind::Broadcast: return "ncclBroadcast";
    case Kind::AllGather: return "ncclAllGather";
    case Kind::ReduceScatter: return "ncclReduceScatter";
  }
  return "?";
}

inline size_t type_bytes(int type) {
  switch (type) {
    case ncclInt8:
    case ncclUint8: return 1;
    case ncclFloat16:
    case ncclBfloat16: return 2;
    case ncclInt32:
    case ncclUint32:
    case ncclFloat32: return 4;
    case ncclInt64:
    case ncclUint64:
    case ncclFloat64: return 8;
    default: return 0;
  }
}

// A mapping of a shared-memory object, unmapped when it goes.
class Mapping {
 public:
  Mapping() = default;
  Mapping(void* at, size_t bytes) : at_(at), bytes_(bytes) {}
  Mapping(Mapping&& other) noexcept : at_(other.at_), bytes_(other.bytes_) { other.at_ = nullptr; }
  Mapping& operator=(Mapping&& other) noexcept {
    std::swap(at_, other.at_);
    std::swap(bytes_, other.bytes_);
    return *this;
  }
  ~Mapping() {
    if (at_ != nullptr) munmap(at_, bytes_);
  }
  unsigned char* data() const { return static_cast<unsigned char*>(at_); }

 private:
  void* at_ = nullptr;
  size_t bytes_ = 0;
};

// Opens (creating it with `create`) and maps the object `name` of `bytes`.
inline Mapping map_object(const std::string& name, size_t bytes, bool create) {
  const int fd = shm_open(name.c_str(), create ? O_RDWR | O_CREAT : O_RDONLY, 0600);
  if (fd < 0) return {};
  if (create && ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    close(fd);
    return {};
  }
  void* at = mmap(nullptr, bytes, create ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  return at == MAP_FAILED ? Mapping() : Mapping(at, bytes);
}

}  // namespace nccl_model

namespace nccl_model {

inline toadstool::DType dtype_of(int type) {
  switch (type) {
    case ncclFloat16: return toadstool::DType::Float16;
    case ncclBfloat16: return toadstool::DType::BFloat16;
    case ncclFloat32: return toadstool::DType::Float32;
    case ncclFloat64: return toadstool::DType::Float64;
    default: return toadstool::DType::Int64;
  }
}

// out[i] = op over the ranks of in[r][i], for `count` elements; int64 in
// int64, floating types in double.
inline void reduce(int type, int op, int ranks, const std::vector<const unsigned char*>& in,
                   unsigned char* out, size_t count) {
  const toadstool::DType dtype = dtype_of(type);
  const size_t size = type_bytes(type);
  const auto combine = [op](auto a, auto b) {
    switch (op) {
      case ncclProd: return a * b;
      case ncclMax: return a > b ? a : b;
      case ncclMin: return a < b ? a : b;
      default: return a + b;
    }
  };
  for (size_t i = 0; i < count; ++i) {
    if (type == ncclInt64) {
      int64_t acc = 0;
      for (int r = 0; r < ranks; ++r) {
        int64_t v = 0;
        std::memcpy(&v, in[r] + i * size, size);
        acc = r == 0 ? v : combine(acc, v);
      }
      if (op == ncclAvg) acc /= ranks;
      std::memcpy(out + i * size, &acc, size);
    } else {
      double acc = 0;
      for (int r = 0; r < ranks; ++r) {
        const double v = toadstool::kernels::cuda::load_element(dtype, in[r] + i * size);
        acc = r == 0 ? v : combine(acc, v);
      }
      if (op == ncclAvg) acc /= ranks;
      toadstool::kernels::cuda::store_element(dtype, out + i * size, acc);
    }
  }
}

inline bool reducible(int type) {
  return type == ncclInt64 || type == ncclFloat16 || type == ncclBfloat16 || type == ncclFloat32 ||
         type == ncclFloat64;
}

inline std::string describe(const Call& c) {
  return std::string(kind_name(c.kind)) + " #" + std::to_string(c.sequence) + " of " +
         std::to_string(c.count) + " elements of type " + std::to_string(c.type) + ", op " +
         std::to_string(c.op) + ", root " + std::to_string(c.root);
}

// A queued collective: what the rank sends and where its result goes. Its
// stream waits on `completion` until the progress thread has run it.
struct Job {
  Call call;
  const void* send = nullptr;
  size_t send_bytes = 0;
  void* recv = nullptr;
  std::shared_ptr<emu::Completion> completion;
};

// A communicator's progress thread, which plays the part of NCCL's kernels
// and proxy: it runs the collectives in order as their streams reach them,
// meeting the other ranks in the shared segment. Shared by the
// communicator and its queued operations, which may outlive it (an
// operation the device reaches after an abort finishes at once).
class Progress {
 public:
  Progress(int rank, int ranks, std::string name, Mapping segment)
      : rank_(rank),
        ranks_(ranks),
        name_(std::move(name)),
        segment_(std::move(segment)),
        shared_(reinterpret_cast<Shared*>(segment_.data())) {}
  ~Progress() { stop(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Every rank's next barrier: false when a peer has not come within the
  // model's timeout, or on an abort. On the joining thread, then on the
  // progress thread alone.
  bool barrier() {
    const uint64_t target = ++barriers_ * static_cast<uint64_t>(ranks_);
    shared_->arrivals.fetch_add(1, std::memory_order_acq_rel);
    const auto deadline = std::chrono::steady_clock::now() + timeout();
    while (shared_->arrivals.load(std::memory_order_acquire) < target) {
      if (aborted_.load() || std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    return true;
  }

  // Starts the thread; `join` first meets the other ranks (a non-blocking
  // ncclCommInitRankConfig), else they have met already.
  void start(bool join) {
    joined_ = !join;
    thread_ = std::thread([this, join] { run(join); });
  }

  // The device reached a collective: queued for the thread, or done at once
  // after an abort.
  std::shared_ptr<emu::Completion> enqueue(Job job) {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (aborted_.load()) return nullptr;
    job.completion = std::make_shared<emu::Completion>();
    jobs_.push_back(job);
    wake_.notify_all();
    return job.completion;
  }

  // The asynchronous error, with its message (ncclSuccess: none).
  ncclResult_t error(std::string* message) {
    const std::lock_guard<std::mutex> lock(mutex_);
    *message = error_message_;
    return error_;
  }
  bool joined() {
    const std::lock_guard<std::mutex> lock(mutex_);
    return joined_;
  }
  // The `issued` collectives of the communicator have all run (or one failed).
  bool drained(uint64_t issued) {
    const std::lock_guard<std::mutex> lock(mutex_);
    return done_ == issued || error_ != ncclSuccess;
  }

  // Ends the thread, even inside a collective whose peers never come, and
  // lets every stream that waits on a collective go on (its buffers keep
  // whatever they held), as ncclCommAbort ends NCCL's kernels.
  void abort() {
    aborted_.store(true);
    stop();
    std::deque<Job> left;
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      left.swap(jobs_);
    }
    for (Job& job : left) emu::Device::get().finish(*job.completion);
  }

  // Ends the thread once its queue is empty (or at an abort).
  void stop() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void fail(ncclResult_t result, const std::string& message) {
    const std::lock_guard<std::mutex> lock(mutex_);
    error_ = result;
    error_message_ = "NCCL model, rank " + std::to_string(rank_) + ": " + message;
  }

  void run(bool join) {
    if (join) {
      if (!barrier()) {
        shm_unlink(name_.c_str());
        if (!aborted_.load()) {
          fail(ncclRemoteError, "not every rank joined within the model's timeout");
        }
        return;
      }
      if (rank_ == 0) shm_unlink(name_.c_str());  // mapped by every rank now
      const std::lock_guard<std::mutex> lock(mutex_);
      joined_ = true;
    }
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return !jobs_.empty() || stopping_; });
        if (jobs_.empty() || aborted_.load()) return;
        job = jobs_.front();
      }
      std::string message;
      const ncclResult_t result = exchange(job, &message);
      if (aborted_.load()) return;
      if (result != ncclSuccess) {
        // As NCCL's kernels after an error: the stream waits until the
        // communicator is aborted.
        fail(result, message);
        return;
      }
      // The stream goes on before the communicator says it has drained.
      emu::Device::get().finish(*job.completion);
      {
        const std::lock_guard<std::mutex> lock(mutex_);
        jobs_.pop_front();
        ++done_;
      }
    }
  }

  // One collective. Every rank publishes its `send_bytes` (broadcast: the
  // root alone) in an object of its own, meets the others, checks that they
  // issued the same call, then reads theirs and writes its own result.
  ncclResult_t exchange(const Job& job, std::string* message) {
    const Call& call = job.call;
    shared_->calls[rank_] = call;
    const bool publishes =
        job.send_bytes > 0 && (call.kind != Kind::Broadcast || rank_ == call.root);
    const std::string mine = object_name(call.sequence, rank_);
    Mapping published;
    if (publishes) {
      published = map_object(mine, job.send_bytes, true);
      if (published.data() == nullptr) {
        *message = "cannot make the shared object " + mine;
        return ncclSystemError;
      }
      std::memcpy(published.data(), job.send, job.send_bytes);
    }
    const auto cleanup = [&] {
      if (publishes) shm_unlink(mine.c_str());
    };
    if (!barrier()) {
      cleanup();
      *message = describe(call) + ": a peer did not issue it within the model's timeout";
      return ncclRemoteError;
    }
    for (int r = 0; r < ranks_; ++r) {
      const Call theirs = shared_->calls[r];
      if (std::memcmp(&theirs, &call, sizeof call) != 0) {
        barrier();
        cleanup();
        *message = "this rank issued " + describe(call) + ", rank " + std::to_string(r) +
                   " issued " + describe(theirs);
        return ncclInvalidUsage;
      }
    }
    // Every rank's buffer (a broadcast's: the root's alone), then this
    // rank's result.
    std::vector<Mapping> peers(static_cast<size_t>(ranks_));
    std::vector<const unsigned char*> in(static_cast<size_t>(ranks_), nullptr);
    for (int r = 0; r < ranks_ && job.send_bytes > 0; ++r) {
      if (call.kind == Kind::Broadcast && r != call.root) continue;
      const std::string theirs = object_name(call.sequence, r);
      peers[static_cast<size_t>(r)] = map_object(theirs, job.send_bytes, false);
      in[static_cast<size_t>(r)] = peers[static_cast<size_t>(r)].data();
      if (in[static_cast<size_t>(r)] == nullptr) {
        barrier();
        cleanup();
        *message = "cannot read the shared object " + theirs;
        return ncclSystemError;
      }
    }
    combine(call, in, job.send_bytes, static_cast<unsigned char*>(job.recv));
    peers.clear();
    // Nobody removes its buffer before every rank has read it.
    const bool met = barrier();
    cleanup();
    if (!met) {
      *message = describe(call) + ": a peer did not finish it within the model's timeout";
      return ncclRemoteError;
    }
    return ncclSuccess;
  }

  // This rank's result from the ranks' buffers `in`.
  void combine(const Call& call, const std::vector<const unsigned char*>& in, size_t send_bytes,
               unsigned char* out) const {
    switch (call.kind) {
      case Kind::AllReduce: reduce(call.type, call.op, ranks_, in, out, call.count); break;
      case Kind::Broadcast:
        if (send_bytes > 0) std::memcpy(out, in[static_cast<size_t>(call.root)], send_bytes);
        break;
      case Kind::AllGather:
        for (int r = 0; r < ranks_ && send_bytes > 0; ++r) {
          std::memcpy(out + static_cast<size_t>(r) * send_bytes, in[static_cast<size_t>(r)],
                      send_bytes);
        }
        break;
      case Kind::ReduceScatter: {
        const size_t offset = static_cast<size_t>(rank_) * call.count * type_bytes(call.type);
        std::vector<const unsigned char*> slices(in.size());
        for (size_t r = 0; r < in.size(); ++r) {
          slices[r] = in[r] == nullptr ? nullptr : in[r] + offset;
        }
        if (call.count > 0) reduce(call.type, call.op, ranks_, slices, out, call.count);
        break;
      }
    }
  }

  // A collective's buffer of one rank: name-sequence-rank.
  std::string object_name(uint64_t sequence, int rank) const {
    return name_ + "-" + std::to_string(sequence) + "-" + std::to_string(rank);
  }

  const int rank_;
  const int ranks_;
  const std::string name_;
  const Mapping segment_;
  Shared* const shared_;
  uint64_t barriers_ = 0;
  std::atomic<bool> aborted_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;  // reached by the device, not run yet
  bool joined_ = false;
  bool stopping_ = false;
  uint64_t done_ = 0;
  ncclResult_t error_ = ncclSuccess;
  std::string error_message_;
};

}  // namespace nccl_model

struct ncclComm {
  int rank = 0;
  int ranks = 0;
  bool blocking = true;
  uint64_t sequence = 0;                  // collectives issued
  bool in_progress = false;               // non-blocking: a call not reported settled yet
  ncclResult_t host_error = ncclSuccess;  // an error the calls found themselves
  bool finalized = false;
  std::string last_error;
  std::atomic<bool> busy{false};
  std::shared_ptr<nccl_model::Progress> progress;
};

namespace nccl_model {

// One call into a communicator: only one thread at a time may be inside.
class Inside {
 public:
  explicit Inside(ncclComm_t comm) : comm_(comm) {
    if (comm_->busy.exchange(true)) {
      emu::fail("NCCL model: two threads called into one communicator at once");
    }
  }
  ~Inside() { comm_->busy.store(false); }
  Inside(const Inside&) = delete;
  Inside& operator=(const Inside&) = delete;

 private:
  ncclComm_t comm_;
};

// A failure a call finds itself: the communicator's state from now on, and
// its last error.
inline ncclResult_t fail(ncclComm_t comm, ncclResult_t result, const std::string& message) {
  comm->host_error = result;
  comm->last_error = "NCCL model, rank " + std::to_string(comm->rank) + ": " + message;
  return result;
}

// Issued: non-blocking mode reports it as still in progress until polled.
inline ncclResult_t issued(ncclComm_t comm) {
  if (comm->blocking) return ncclSuccess;
  comm->in_progress = true;
  return ncclInProgress;
}

// The communicator's state: an error (the calls' own, then the progress
// thread's), or ncclInProgress while it joins or a finalisation flushes.
inline ncclResult_t state_of(ncclComm_t comm) {
  if (comm->host_error != ncclSuccess) return comm->host_error;
  std::string message;
  const ncclResult_t async = comm->progress->error(&message);
  if (async != ncclSuccess) {
    comm->last_error = message;
    return async;
  }
  if (!comm->progress->joined() || (comm->finalized && !comm->progress->drained(comm->sequence))) {
    return ncclInProgress;
  }
  return ncclSuccess;
}

// Whether a call may start: not before the last one has been seen to
// settle, nor after an error.
inline ncclResult_t may_start(ncclComm_t comm, const char* call) {
  if (comm->in_progress || state_of(comm) == ncclInProgress) {
    comm->last_error = std::string(call) +
                       " called while the communicator is still in progress (poll "
                       "ncclCommGetAsyncError until it is not)";
    return ncclInvalidUsage;
  }
  return state_of(comm);
}

// Checks a collective and queues it on `stream`: the progress thread runs
// it when the device reaches it.
inline ncclResult_t collective(ncclComm_t comm, Call call, const void* send, size_t send_bytes,
                               void* recv, cudaStream_t stream) {
  const Inside inside(comm);
  if (!emu::Device::get().asynchronous()) {
    // A collective that fails would hold its caller for ever.
    emu::fail("NCCL model: needs the asynchronous emulated device");
  }
  if (const ncclResult_t start = may_start(comm, kind_name(call.kind)); start != ncclSuccess) {
    return start;
  }
  if (comm->finalized) {
    return fail(comm, ncclInvalidUsage,
                std::string(kind_name(call.kind)) + " on a finalised communicator");
  }
  if (type_bytes(call.type) == 0 ||
      (call.kind != Kind::Broadcast && call.kind != Kind::AllGather && !reducible(call.type))) {
    return fail(comm, ncclInvalidArgument,
                std::string(kind_name(call.kind)) + ": type " + std::to_string(call.type) +
                    " is not one the model handles");
  }
  if (call.root < 0 || call.root >= comm->ranks) {
    return fail(comm, ncclInvalidArgument, "root " + std::to_string(call.root) + " out of range");
  }
  const bool publishes =
      send_bytes > 0 && (call.kind != Kind::Broadcast || comm->rank == call.root);
  if (call.count > 0 && (recv == nullptr || (publishes && send == nullptr))) {
    return fail(comm, ncclInvalidArgument,
                std::string(kind_name(call.kind)) + ": a null buffer for a count of " +
                    std::to_string(call.count));
  }
  call.sequence = ++comm->sequence;
  const Job job{call, send, send_bytes, recv, nullptr};
  emu::Device::get().submit(
      stream, {nullptr, [progress = comm->progress, job] { return progress->enqueue(job); }});
  return issued(comm);
}

// Waits until every collective issued has run, or the communicator has
// failed (a collective still queued after the model's timeout fails it):
// its state then.
inline ncclResult_t flush(ncclComm_t comm) {
  const auto deadline = std::chrono::steady_clock::now() + timeout();
  while (!comm->progress->drained(comm->sequence)) {
    if (std::chrono::steady_clock::now() > deadline) {
      return fail(comm, ncclRemoteError,
                  "collectives issued but not run within the model's timeout (their streams "
                  "never reached them)");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  return state_of(comm);
}

}  // namespace nccl_model

inline const char* ncclGetErrorString(ncclResult_t result) {
  switch (result) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "unhandled cuda error";
    case ncclSystemError: return "unhandled system error";
    case ncclInternalError: return "internal error";
    case ncclInvalidArgument: return "invalid argument";
    case ncclInvalidUsage: return "invalid usage";
    case ncclRemoteError: return "remote process exited or there was a network error";
    case ncclInProgress: return "NCCL operation in progress";
  }
  return "unknown result code";
}

inline const char* ncclGetLastError(ncclComm_t comm) {
  return comm != nullptr ? comm->last_error.c_str() : nccl_model::last_error_without_comm.c_str();
}

// The id carries the name of the communicator's shared segment:
// "/toadstool-nccl-<pid>-<n>-<random>", unique on the machine (the random
// part keeps a reused pid from meeting a segment left by a killed job).
inline ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
  static std::atomic<int> made{0};
  std::memset(id->internal, 0, sizeof id->internal);
  std::snprintf(id->internal, sizeof id->internal, "%s/toadstool-nccl-%ld-%d-%08x",
                nccl_model::kMagic, static_cast<long>(getpid()), ++made, std::random_device{}());
  return ncclSuccess;
}

// Joins the communicator the id names: every rank maps its segment, and
// they meet there within the model's timeout: before the call returns in
// blocking mode, on the progress thread in non-blocking mode (the state is
// ncclInProgress until they have met).
inline ncclResult_t ncclCommInitRankConfig(ncclComm_t* comm, int ranks, ncclUniqueId id, int rank,
                                           ncclConfig_t* config) {
  *comm = nullptr;
  const size_t magic = sizeof nccl_model::kMagic - 1;
  if (std::memcmp(id.internal, nccl_model::kMagic, magic) != 0 ||
      id.internal[NCCL_UNIQUE_ID_BYTES - 1] != '\0') {
    nccl_model::last_error_without_comm =
        "NCCL model: the unique id was not made by ncclGetUniqueId";
    return ncclInvalidArgument;
  }
  if (ranks < 1 || ranks > nccl_model::kMaxRanks || rank < 0 || rank >= ranks) {
    nccl_model::last_error_without_comm = "NCCL model: rank " + std::to_string(rank) + " of " +
                                          std::to_string(ranks) + " is out of range";
    return ncclInvalidArgument;
  }
  auto* made = new ncclComm;
  made->rank = rank;
  made->ranks = ranks;
  made->blocking = config == nullptr || config->blocking != 0;
  *comm = made;
  const std::string name = id.internal + magic;
  nccl_model::Mapping segment = nccl_model::map_object(name, sizeof(nccl_model::Shared), true);
  auto* shared = reinterpret_cast<nccl_model::Shared*>(segment.data());
  if (shared == nullptr) {
    return nccl_model::fail(made, ncclSystemError, "cannot map the segment " + name);
  }
  // A join that fails removes the segment's name (the job is over).
  const auto refuse = [&](ncclResult_t result, const std::string& why) {
    shm_unlink(name.c_str());
    return nccl_model::fail(made, result, why);
  };
  int expected = 0;
  if (!shared->ranks.compare_exchange_strong(expected, ranks) && expected != ranks) {
    return refuse(ncclInvalidUsage, "joined with " + std::to_string(ranks) +
                                        " ranks, another rank with " + std::to_string(expected));
  }
  const uint64_t bit = uint64_t{1} << rank;
  if ((shared->joined.fetch_or(bit) & bit) != 0) {
    return refuse(ncclInvalidUsage, "another process joined as this rank");
  }
  made->progress = std::make_shared<nccl_model::Progress>(rank, ranks, name, std::move(segment));
  if (!made->blocking) {
    made->progress->start(/*join=*/true);
    return nccl_model::issued(made);
  }
  if (!made->progress->barrier()) {
    return refuse(ncclRemoteError, "not every rank joined within the model's timeout");
  }
  if (rank == 0) shm_unlink(name.c_str());  // mapped by every rank now
  made->progress->start(/*join=*/false);
  return ncclSuccess;
}

// The state: an error, or ncclInProgress while the communicator joins or
// flushes, or once after a non-blocking call.
inline ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* state) {
  const nccl_model::Inside inside(comm);
  const ncclResult_t now = nccl_model::state_of(comm);
  *state = now == ncclSuccess && comm->in_progress ? ncclInProgress : now;
  if (now != ncclInProgress) comm->in_progress = false;  // reported: settled, or an error
  return ncclSuccess;
}

inline ncclResult_t ncclAllReduce(const void* send, void* recv, size_t count, ncclDataType_t type,
                                  ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream) {
  return nccl_model::collective(comm, {0, nccl_model::Kind::AllReduce, type, op, 0, count}, send,
                                count * nccl_model::type_bytes(type), recv, stream);
}

inline ncclResult_t ncclBroadcast(const void* send, void* recv, size_t count, ncclDataType_t type,
                                  int root, ncclComm_t comm, cudaStream_t stream) {
  return nccl_model::collective(comm, {0, nccl_model::Kind::Broadcast, type, 0, root, count}, send,
                                count * nccl_model::type_bytes(type), recv, stream);
}

// recv holds every rank's `count` elements, in rank order.
inline ncclResult_t ncclAllGather(const void* send, void* recv, size_t count, ncclDataType_t type,
                                  ncclComm_t comm, cudaStream_t stream) {
  return nccl_model::collective(comm, {0, nccl_model::Kind::AllGather, type, 0, 0, count}, send,
                                count * nccl_model::type_bytes(type), recv, stream);
}

// send holds ranks x `count` elements; recv gets this rank's slice, reduced.
inline ncclResult_t ncclReduceScatter(const void* send, void* recv, size_t count,
                                      ncclDataType_t type, ncclRedOp_t op, ncclComm_t comm,
                                      cudaStream_t stream) {
  return nccl_model::collective(
      comm, {0, nccl_model::Kind::ReduceScatter, type, op, 0, count}, send,
      count * static_cast<size_t>(comm->ranks) * nccl_model::type_bytes(type), recv, stream);
}

// Flushes what was issued: before it returns in blocking mode; in
// non-blocking mode the state is ncclInProgress until then.
inline ncclResult_t ncclCommFinalize(ncclComm_t comm) {
  const nccl_model::Inside inside(comm);
  if (const ncclResult_t start = nccl_model::may_start(comm, "ncclCommFinalize");
      start != ncclSuccess) {
    return start;
  }
  comm->finalized = true;
  if (!comm->blocking) return nccl_model::issued(comm);
  return nccl_model::flush(comm);
}

// Flushes what was issued (as a finalisation does), then frees; not while
// a non-blocking call is in progress.
inline ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  {
    const nccl_model::Inside inside(comm);
    if (comm->in_progress) return nccl_model::may_start(comm, "ncclCommDestroy");
    if (comm->progress != nullptr) {  // null: a join refused before it began
      if (nccl_model::flush(comm) != ncclSuccess) comm->progress->abort();
      comm->progress->stop();
    }
  }
  delete comm;
  return ncclSuccess;
}

// Ends the communicator at once, and its collectives with it.
inline ncclResult_t ncclCommAbort(ncclComm_t comm) {
  if (comm == nullptr) return ncclSuccess;
  {
    const nccl_model::Inside inside(comm);
    if (comm->progress != nullptr) comm->progress->abort();
  }
  delete comm;
  return ncclSuccess;
}
