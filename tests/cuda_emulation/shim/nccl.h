#pragma once
// NCCL's API, as much of it as the NCCL process group calls
// (toadstool/distributed/nccl/), for the emulated CUDA build
// (TOADSTOOL_CUDA=EMULATED, where the library compiles against this header):
// a model of NCCL's documented contract whose ranks are the processes of
// one machine (mpirun's), exchanging their buffers through POSIX shared
// memory. The emulated device runs synchronously (shim/cuda_runtime.h), so
// a collective has run when its call returns.
//
// The model is strict where a caller's mistake would hang or corrupt a real
// job, so that the group's mistakes show as failures:
//   - the unique id names the communicator: ranks that join with another
//     id, or the same rank twice, never meet (a timeout), and ranks that
//     disagree on the rank count are refused;
//   - non-blocking mode (config.blocking = 0): every call returns
//     ncclInProgress, and the communicator's state stays ncclInProgress
//     until ncclCommGetAsyncError has reported it once; a call before that
//     is ncclInvalidUsage (NCCL: poll until the state leaves
//     ncclInProgress before the next call), as is a collective after
//     ncclCommFinalize; any other error stays the communicator's state;
//   - every rank issues the same collectives in the same order, with the
//     same count, type, operation and root (else NCCL hangs or mixes
//     buffers; here the call fails on every rank, naming both);
//   - two threads inside one communicator at once abort the process
//     (communicators are not thread-safe).
// Reductions run in rank order, floating types in double rounded once to the
// type (NCCL's order differs: the last bit may too); ncclAvg is the sum
// divided by the rank count.
// What it cannot show: NCCL's asynchrony (a collective waiting on the GPU
// for a late peer while the host goes on), its own hangs (a peer that does
// not come makes the call fail after TOADSTOOL_NCCL_MODEL_TIMEOUT_S, 60 s
// by default, with ncclRemoteError), networks, and several GPUs: each
// process has its own emulated device 0.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
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

struct ncclComm {
  int rank = 0;
  int ranks = 0;
  bool blocking = true;
  std::string name;  // the shared segment's; a collective's buffers are name-sequence-rank
  nccl_model::Mapping segment;
  nccl_model::Shared* shared = nullptr;
  uint64_t barriers = 0;
  uint64_t sequence = 0;
  ncclResult_t state = ncclSuccess;  // what ncclCommGetAsyncError reports
  bool finalized = false;
  std::string last_error;
  std::atomic<bool> busy{false};

  // Every rank's next barrier: false when a peer has not come in time.
  bool barrier() {
    const uint64_t target = ++barriers * static_cast<uint64_t>(ranks);
    shared->arrivals.fetch_add(1, std::memory_order_acq_rel);
    const auto deadline = std::chrono::steady_clock::now() + nccl_model::timeout();
    while (shared->arrivals.load(std::memory_order_acquire) < target) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    return true;
  }
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

// A failure: the communicator's state from now on, and its last error.
inline ncclResult_t fail(ncclComm_t comm, ncclResult_t result, const std::string& message) {
  comm->state = result;
  comm->last_error = "NCCL model, rank " + std::to_string(comm->rank) + ": " + message;
  return result;
}

// Done: non-blocking mode reports it as still in progress until polled.
inline ncclResult_t done(ncclComm_t comm) {
  if (comm->blocking) return ncclSuccess;
  comm->state = ncclInProgress;
  return ncclInProgress;
}

// Whether a call may start: not before the last one has been seen to
// settle, nor after an error.
inline ncclResult_t may_start(ncclComm_t comm, const char* call) {
  if (comm->state == ncclInProgress) {
    comm->last_error = std::string(call) +
                       " called while the communicator is still in progress (poll "
                       "ncclCommGetAsyncError until it is not)";
    return ncclInvalidUsage;
  }
  return comm->state;
}

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

// One collective. Every rank publishes its `send_bytes` (broadcast: the
// root alone) in an object of its own, meets the others, checks that they
// issued the same call, then reads theirs and writes its own result.
inline ncclResult_t collective(ncclComm_t comm, Call call, const void* send, size_t send_bytes,
                               void* recv) {
  const Inside inside(comm);
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
  // What this rank's peers read: its send buffer (a broadcast's root's alone).
  const bool publishes =
      send_bytes > 0 && (call.kind != Kind::Broadcast || comm->rank == call.root);
  if (call.count > 0 && (recv == nullptr || (publishes && send == nullptr))) {
    return fail(comm, ncclInvalidArgument,
                std::string(kind_name(call.kind)) + ": a null buffer for a count of " +
                    std::to_string(call.count));
  }
  call.sequence = ++comm->sequence;
  comm->shared->calls[comm->rank] = call;
  const std::string mine =
      comm->name + "-" + std::to_string(call.sequence) + "-" + std::to_string(comm->rank);
  Mapping published;
  if (publishes) {
    published = map_object(mine, send_bytes, true);
    if (published.data() == nullptr) {
      return fail(comm, ncclSystemError, "cannot make the shared object " + mine);
    }
    std::memcpy(published.data(), send, send_bytes);
  }
  const auto cleanup = [&] {
    if (publishes) shm_unlink(mine.c_str());
  };
  if (!comm->barrier()) {
    cleanup();
    return fail(comm, ncclRemoteError,
                describe(call) + ": a peer did not issue it within the model's timeout");
  }
  for (int r = 0; r < comm->ranks; ++r) {
    Call theirs = comm->shared->calls[r];
    if (std::memcmp(&theirs, &call, sizeof call) != 0) {
      comm->barrier();
      cleanup();
      return fail(comm, ncclInvalidUsage,
                  "this rank issued " + describe(call) + ", rank " + std::to_string(r) +
                      " issued " + describe(theirs));
    }
  }
  // Every rank's buffer (a broadcast's: the root's alone), then this rank's
  // result.
  std::vector<Mapping> peers(static_cast<size_t>(comm->ranks));
  std::vector<const unsigned char*> in(static_cast<size_t>(comm->ranks), nullptr);
  for (int r = 0; r < comm->ranks && send_bytes > 0; ++r) {
    if (call.kind == Kind::Broadcast && r != call.root) continue;
    const std::string theirs =
        comm->name + "-" + std::to_string(call.sequence) + "-" + std::to_string(r);
    peers[static_cast<size_t>(r)] = map_object(theirs, send_bytes, false);
    in[static_cast<size_t>(r)] = peers[static_cast<size_t>(r)].data();
    if (in[static_cast<size_t>(r)] == nullptr) {
      comm->barrier();
      cleanup();
      return fail(comm, ncclSystemError, "cannot read the shared object " + theirs);
    }
  }
  auto* out = static_cast<unsigned char*>(recv);
  const size_t size = type_bytes(call.type);
  switch (call.kind) {
    case Kind::AllReduce: reduce(call.type, call.op, comm->ranks, in, out, call.count); break;
    case Kind::Broadcast:
      if (send_bytes > 0) std::memcpy(out, in[static_cast<size_t>(call.root)], send_bytes);
      break;
    case Kind::AllGather:
      for (int r = 0; r < comm->ranks && send_bytes > 0; ++r) {
        std::memcpy(out + static_cast<size_t>(r) * send_bytes, in[static_cast<size_t>(r)],
                    send_bytes);
      }
      break;
    case Kind::ReduceScatter: {
      const size_t offset = static_cast<size_t>(comm->rank) * call.count * size;
      std::vector<const unsigned char*> slices(in.size());
      for (size_t r = 0; r < in.size(); ++r)
        slices[r] = in[r] == nullptr ? nullptr : in[r] + offset;
      if (call.count > 0) reduce(call.type, call.op, comm->ranks, slices, out, call.count);
      break;
    }
  }
  peers.clear();
  // Nobody removes its buffer before every rank has read it.
  const bool met = comm->barrier();
  cleanup();
  if (!met) {
    return fail(comm, ncclRemoteError,
                describe(call) + ": a peer did not finish it within the model's timeout");
  }
  return done(comm);
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
// they meet there (within the model's timeout).
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
  made->name = id.internal + magic;
  *comm = made;
  made->segment = nccl_model::map_object(made->name, sizeof(nccl_model::Shared), true);
  made->shared = reinterpret_cast<nccl_model::Shared*>(made->segment.data());
  if (made->shared == nullptr) {
    return nccl_model::fail(made, ncclSystemError, "cannot map the segment " + made->name);
  }
  // A join that fails removes the segment's name (the job is over).
  const auto refuse = [made](ncclResult_t result, const std::string& why) {
    shm_unlink(made->name.c_str());
    return nccl_model::fail(made, result, why);
  };
  int expected = 0;
  if (!made->shared->ranks.compare_exchange_strong(expected, ranks) && expected != ranks) {
    return refuse(ncclInvalidUsage, "joined with " + std::to_string(ranks) +
                                        " ranks, another rank with " + std::to_string(expected));
  }
  const uint64_t bit = uint64_t{1} << rank;
  if ((made->shared->joined.fetch_or(bit) & bit) != 0) {
    return refuse(ncclInvalidUsage, "another process joined as this rank");
  }
  if (!made->barrier()) {
    return refuse(ncclRemoteError, "not every rank joined within the model's timeout");
  }
  if (rank == 0) shm_unlink(made->name.c_str());  // mapped by every rank now
  return nccl_model::done(made);
}

// The state, and the end of a pending ncclInProgress once it is reported.
inline ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* state) {
  const nccl_model::Inside inside(comm);
  *state = comm->state;
  if (comm->state == ncclInProgress) comm->state = ncclSuccess;
  return ncclSuccess;
}

inline ncclResult_t ncclAllReduce(const void* send, void* recv, size_t count, ncclDataType_t type,
                                  ncclRedOp_t op, ncclComm_t comm, cudaStream_t /*stream*/) {
  return nccl_model::collective(comm, {0, nccl_model::Kind::AllReduce, type, op, 0, count}, send,
                                count * nccl_model::type_bytes(type), recv);
}

inline ncclResult_t ncclBroadcast(const void* send, void* recv, size_t count, ncclDataType_t type,
                                  int root, ncclComm_t comm, cudaStream_t /*stream*/) {
  return nccl_model::collective(comm, {0, nccl_model::Kind::Broadcast, type, 0, root, count}, send,
                                count * nccl_model::type_bytes(type), recv);
}

// recv holds every rank's `count` elements, in rank order.
inline ncclResult_t ncclAllGather(const void* send, void* recv, size_t count, ncclDataType_t type,
                                  ncclComm_t comm, cudaStream_t /*stream*/) {
  return nccl_model::collective(comm, {0, nccl_model::Kind::AllGather, type, 0, 0, count}, send,
                                count * nccl_model::type_bytes(type), recv);
}

// send holds ranks x `count` elements; recv gets this rank's slice, reduced.
inline ncclResult_t ncclReduceScatter(const void* send, void* recv, size_t count,
                                      ncclDataType_t type, ncclRedOp_t op, ncclComm_t comm,
                                      cudaStream_t /*stream*/) {
  return nccl_model::collective(
      comm, {0, nccl_model::Kind::ReduceScatter, type, op, 0, count}, send,
      count * static_cast<size_t>(comm->ranks) * nccl_model::type_bytes(type), recv);
}

inline ncclResult_t ncclCommFinalize(ncclComm_t comm) {
  const nccl_model::Inside inside(comm);
  if (const ncclResult_t start = nccl_model::may_start(comm, "ncclCommFinalize");
      start != ncclSuccess) {
    return start;
  }
  comm->finalized = true;
  return nccl_model::done(comm);
}

// After a finalisation has settled (or an error); not while in progress.
inline ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  {
    const nccl_model::Inside inside(comm);
    if (comm->state == ncclInProgress) return nccl_model::may_start(comm, "ncclCommDestroy");
  }
  delete comm;
  return ncclSuccess;
}

inline ncclResult_t ncclCommAbort(ncclComm_t comm) {
  if (comm == nullptr) return ncclSuccess;
  { const nccl_model::Inside inside(comm); }
  delete comm;
  return ncclSuccess;
}
