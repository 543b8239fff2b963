// The NCCL model (shim/nccl.h) that the emulated build's NCCL process group
// runs on: its results and the contract it enforces, since the group's
// emulated tests (tests/cuda/nccl/) are only as strict as it is. Its ranks
// are threads here, one communicator each (the model meets them in shared
// memory, whether they are processes or threads).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <nccl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "asynchronous_device.h"
#include "element_bytes.h"

namespace toadstool::kernels::cuda {
namespace {

// The model queues collectives on the asynchronous emulated device.
class NcclModel : public AsynchronousDeviceTest {};

// Polls the communicator while its state is ncclInProgress: the state then.
ncclResult_t settled_state(ncclComm_t comm) {
  ncclResult_t state = ncclInProgress;
  while (state == ncclInProgress) {
    EXPECT_EQ(ncclCommGetAsyncError(comm, &state), ncclSuccess);
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return state;
}

// Polls the communicator until its progress thread reports an error (10 s
// at most): the state then.
ncclResult_t failed_state(ncclComm_t comm) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  ncclResult_t state = ncclSuccess;
  while ((state == ncclSuccess || state == ncclInProgress) &&
         std::chrono::steady_clock::now() < deadline) {
    EXPECT_EQ(ncclCommGetAsyncError(comm, &state), ncclSuccess);
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return state;
}

// A rank's communicator and stream: body(rank, comm, stream) queues its
// collectives there; it may abort the communicator (and set comm null).
using RankBody = std::function<void(int, ncclComm_t&, cudaStream_t)>;

// Runs body on `ranks` threads, each with its communicator joined in
// blocking mode (or non-blocking, settled) and a stream of its own, then
// destroys the communicators.
void run_ranks(int ranks, const RankBody& body, bool blocking = true) {
  ncclUniqueId id;
  ASSERT_EQ(ncclGetUniqueId(&id), ncclSuccess);
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(ranks));
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
      config.blocking = blocking ? 1 : 0;
      ncclComm_t comm = nullptr;
      ncclResult_t joined = ncclCommInitRankConfig(&comm, ranks, id, r, &config);
      EXPECT_EQ(joined, blocking ? ncclSuccess : ncclInProgress);
      EXPECT_EQ(settled_state(comm), ncclSuccess);
      cudaStream_t stream = nullptr;
      EXPECT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
      body(r, comm, stream);
      if (comm != nullptr) {
        EXPECT_EQ(ncclCommDestroy(comm), ncclSuccess);
      }
    });
  }
  for (auto& t : threads) t.join();
}

std::vector<float> floats(std::initializer_list<float> v) { return v; }

bool stream_done(cudaStream_t stream) { return cudaStreamQuery(stream) == cudaSuccess; }

TEST_F(NcclModel, CollectivesCombineEveryRanksBuffer) {
  constexpr int kRanks = 3;
  run_ranks(kRanks, [](int rank, ncclComm_t& comm, cudaStream_t stream) {
    const float r = static_cast<float>(rank);
    // all-reduce, in place: sum and average of (r, 10 r).
    std::vector<float> v = floats({r, 10 * r});
    EXPECT_EQ(ncclAllReduce(v.data(), v.data(), 2, ncclFloat32, ncclSum, comm, stream),
              ncclSuccess);
    cudaStreamSynchronize(stream);
    EXPECT_EQ(v, floats({3, 30}));
    v = floats({r, 10 * r});
    EXPECT_EQ(ncclAllReduce(v.data(), v.data(), 2, ncclFloat32, ncclAvg, comm, stream),
              ncclSuccess);
    cudaStreamSynchronize(stream);
    EXPECT_EQ(v, floats({1, 10}));
    // bfloat16, through kernels/half.h: 1 + 2 + 3 = 6.
    Bytes h(2);
    store_element(DType::BFloat16, h.data(), rank + 1);
    EXPECT_EQ(ncclAllReduce(h.data(), h.data(), 1, ncclBfloat16, ncclSum, comm, stream),
              ncclSuccess);
    // broadcast from rank 2: the others' send buffers are not read.
    std::vector<float> b = floats({r, r});
    EXPECT_EQ(ncclBroadcast(b.data(), b.data(), 2, ncclFloat32, 2, comm, stream), ncclSuccess);
    // all-gather in place: this rank's slice of the output is its input.
    std::vector<float> g(kRanks, -1);
    g[static_cast<size_t>(rank)] = 5 * r;
    EXPECT_EQ(ncclAllGather(g.data() + rank, g.data(), 1, ncclFloat32, comm, stream), ncclSuccess);
    // reduce-scatter: rank r gets element r summed, (r + 1) (0 + 1 + 2).
    std::vector<double> s = {1 * r, 2 * r, 3 * r};
    double mine = -1;
    EXPECT_EQ(ncclReduceScatter(s.data(), &mine, 1, ncclFloat64, ncclSum, comm, stream),
              ncclSuccess);
    cudaStreamSynchronize(stream);  // the four queued ones in order
    EXPECT_EQ(load_element(DType::BFloat16, h.data()), 6);
    EXPECT_EQ(b, floats({2, 2}));
    EXPECT_EQ(g, floats({0, 5, 10}));
    EXPECT_EQ(mine, (rank + 1) * 3.0);
  });
}

// A collective waits on its stream, not in the host's call: rank 1 issues
// its part only once rank 0's call has returned and rank 0 has seen its
// stream still waiting; then the stream finishes with the sum. (With the
// call waiting for the peer, rank 0 would fail after the model's timeout.)
TEST_F(NcclModel, ACollectiveWaitsOnItsStreamNotInTheCall) {
  setenv("TOADSTOOL_NCCL_MODEL_TIMEOUT_S", "10", 1);
  std::atomic<bool> rank0_returned{false};
  run_ranks(2, [&](int rank, ncclComm_t& comm, cudaStream_t stream) {
    float x = static_cast<float>(rank + 1);
    if (rank == 1) {
      while (!rank0_returned.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(ncclAllReduce(&x, &x, 1, ncclFloat32, ncclSum, comm, stream), ncclSuccess);
    if (rank == 0) {
      EXPECT_FALSE(stream_done(stream));
      rank0_returned.store(true);
    }
    cudaStreamSynchronize(stream);
    EXPECT_EQ(x, 3);
  });
  unsetenv("TOADSTOOL_NCCL_MODEL_TIMEOUT_S");
}

// Non-blocking mode: each call returns ncclInProgress; the next call is
// refused until ncclCommGetAsyncError has reported the state once. A
// finalisation stays in progress until what was issued has run.
TEST_F(NcclModel, NonBlockingCallsMustSettleBeforeTheNext) {
  run_ranks(
      2,
      [](int /*rank*/, ncclComm_t& comm, cudaStream_t stream) {
        float x = 1;
        EXPECT_EQ(ncclAllReduce(&x, &x, 1, ncclFloat32, ncclSum, comm, stream), ncclInProgress);
        EXPECT_EQ(ncclAllReduce(&x, &x, 1, ncclFloat32, ncclSum, comm, stream), ncclInvalidUsage);
        EXPECT_NE(std::string(ncclGetLastError(comm)).find("still in progress"), std::string::npos);
        ncclResult_t state = ncclSuccess;
        EXPECT_EQ(ncclCommGetAsyncError(comm, &state), ncclSuccess);
        EXPECT_EQ(state, ncclInProgress);
        EXPECT_EQ(ncclCommGetAsyncError(comm, &state), ncclSuccess);
        EXPECT_EQ(state, ncclSuccess);
        EXPECT_EQ(ncclCommFinalize(comm), ncclInProgress);
        EXPECT_EQ(settled_state(comm), ncclSuccess);
        EXPECT_TRUE(stream_done(stream));  // the finalisation flushed it
        EXPECT_EQ(x, 2);                   // the first call ran
        EXPECT_EQ(ncclAllReduce(&x, &x, 1, ncclFloat32, ncclSum, comm, stream), ncclInvalidUsage);
        EXPECT_NE(std::string(ncclGetLastError(comm)).find("finalised"), std::string::npos);
      },
      /*blocking=*/false);
}

// A non-blocking join returns at once and stays in progress until every
// rank has joined.
TEST_F(NcclModel, ANonBlockingJoinDoesNotHoldTheHost) {
  ncclUniqueId id;
  ASSERT_EQ(ncclGetUniqueId(&id), ncclSuccess);
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  ncclComm_t first = nullptr;
  ASSERT_EQ(ncclCommInitRankConfig(&first, 2, id, 0, &config), ncclInProgress);
  ncclResult_t state = ncclSuccess;
  EXPECT_EQ(ncclCommGetAsyncError(first, &state), ncclSuccess);
  EXPECT_EQ(state, ncclInProgress);
  ncclComm_t second = nullptr;
  ASSERT_EQ(ncclCommInitRankConfig(&second, 2, id, 1, &config), ncclInProgress);
  EXPECT_EQ(settled_state(first), ncclSuccess);
  EXPECT_EQ(settled_state(second), ncclSuccess);
  EXPECT_EQ(ncclCommDestroy(first), ncclSuccess);
  EXPECT_EQ(ncclCommDestroy(second), ncclSuccess);
}

// A peer that never issues the collective: the stream waits (the host does
// not), the model's timeout makes it the communicator's ncclRemoteError,
// and the stream still waits until ncclCommAbort lets it go on.
TEST_F(NcclModel, APeerThatNeverComesHoldsTheStreamUntilTheAbort) {
  setenv("TOADSTOOL_NCCL_MODEL_TIMEOUT_S", "0.3", 1);
  run_ranks(2, [](int rank, ncclComm_t& comm, cudaStream_t stream) {
    if (rank == 1) return;
    float x = 1;
    EXPECT_EQ(ncclAllReduce(&x, &x, 1, ncclFloat32, ncclSum, comm, stream), ncclSuccess);
    EXPECT_EQ(failed_state(comm), ncclRemoteError);
    EXPECT_NE(std::string(ncclGetLastError(comm)).find("did not issue it"), std::string::npos)
        << ncclGetLastError(comm);
    EXPECT_FALSE(stream_done(stream));
    EXPECT_EQ(ncclCommAbort(comm), ncclSuccess);
    comm = nullptr;
    cudaStreamSynchronize(stream);
    EXPECT_TRUE(stream_done(stream));
  });
  unsetenv("TOADSTOOL_NCCL_MODEL_TIMEOUT_S");
}

// Ranks that issue different collectives: every rank's communicator fails,
// naming both; its stream waits until the abort.
TEST_F(NcclModel, MismatchedCollectivesFailOnEveryRank) {
  run_ranks(2, [](int rank, ncclComm_t& comm, cudaStream_t stream) {
    std::vector<float> v(5, 1);
    const size_t count = rank == 0 ? 4 : 5;
    EXPECT_EQ(ncclAllReduce(v.data(), v.data(), count, ncclFloat32, ncclSum, comm, stream),
              ncclSuccess);
    EXPECT_EQ(failed_state(comm), ncclInvalidUsage);
    const std::string error = ncclGetLastError(comm);
    EXPECT_NE(error.find("of 4 elements"), std::string::npos) << error;
    EXPECT_NE(error.find("of 5 elements"), std::string::npos) << error;
    EXPECT_FALSE(stream_done(stream));
    EXPECT_EQ(ncclAllReduce(v.data(), v.data(), count, ncclFloat32, ncclSum, comm, stream),
              ncclInvalidUsage);  // the state stays
    EXPECT_EQ(ncclCommAbort(comm), ncclSuccess);
    comm = nullptr;
    cudaStreamSynchronize(stream);
  });
}

// The segment an id names, if it is still there.
bool segment_exists(const ncclUniqueId& id) {
  const int fd = shm_open(id.internal + sizeof nccl_model::kMagic - 1, O_RDONLY, 0);
  if (fd >= 0) close(fd);
  return fd >= 0;
}

// Joins that cannot succeed fail, and leave no segment behind: a peer that
// never comes (after the model's timeout), a second process as the same
// rank, ranks that disagree on the rank count, an id not made by
// ncclGetUniqueId.
TEST_F(NcclModel, JoinsThatCannotSucceedFail) {
  setenv("TOADSTOOL_NCCL_MODEL_TIMEOUT_S", "0.2", 1);
  ncclUniqueId id;
  ASSERT_EQ(ncclGetUniqueId(&id), ncclSuccess);
  ncclComm_t comm = nullptr;
  EXPECT_EQ(ncclCommInitRankConfig(&comm, 2, id, 0, nullptr), ncclRemoteError);
  EXPECT_NE(std::string(ncclGetLastError(comm)).find("not every rank joined"), std::string::npos);
  EXPECT_EQ(ncclCommAbort(comm), ncclSuccess);
  EXPECT_FALSE(segment_exists(id));
  unsetenv("TOADSTOOL_NCCL_MODEL_TIMEOUT_S");

  for (const auto& [ranks, rank, why] :
       {std::tuple{2, 0, "another process joined as this rank"},
        std::tuple{3, 1, "joined with 3 ranks, another rank with 2"}}) {
    ASSERT_EQ(ncclGetUniqueId(&id), ncclSuccess);
    setenv("TOADSTOOL_NCCL_MODEL_TIMEOUT_S", "0.5", 1);
    // The first joiner waits for its peer: on a thread of its own.
    std::thread first([&] {
      ncclComm_t c = nullptr;
      EXPECT_NE(ncclCommInitRankConfig(&c, 2, id, 0, nullptr), ncclSuccess);
      EXPECT_EQ(ncclCommAbort(c), ncclSuccess);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(ncclCommInitRankConfig(&comm, ranks, id, rank, nullptr), ncclInvalidUsage);
    EXPECT_NE(std::string(ncclGetLastError(comm)).find(why), std::string::npos)
        << ncclGetLastError(comm);
    EXPECT_EQ(ncclCommAbort(comm), ncclSuccess);
    first.join();
    unsetenv("TOADSTOOL_NCCL_MODEL_TIMEOUT_S");
    EXPECT_FALSE(segment_exists(id));
  }

  ncclUniqueId forged{};
  EXPECT_EQ(ncclCommInitRankConfig(&comm, 1, forged, 0, nullptr), ncclInvalidArgument);
  EXPECT_EQ(comm, nullptr);
}

}  // namespace
}  // namespace toadstool::kernels::cuda
