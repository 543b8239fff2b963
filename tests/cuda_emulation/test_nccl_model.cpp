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

#include <chrono>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "element_bytes.h"

namespace toadstool::kernels::cuda {
namespace {

// Runs body(rank, comm) on `ranks` threads, each with its communicator
// joined in blocking mode (or non-blocking, settled), then destroys them.
void run_ranks(int ranks, const std::function<void(int, ncclComm_t)>& body, bool blocking = true) {
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
      ncclResult_t state = ncclInProgress;
      EXPECT_EQ(ncclCommGetAsyncError(comm, &state), ncclSuccess);
      EXPECT_EQ(state, blocking ? ncclSuccess : ncclInProgress);
      body(r, comm);
      EXPECT_EQ(ncclCommDestroy(comm), ncclSuccess);
    });
  }
  for (auto& t : threads) t.join();
}

std::vector<float> floats(std::initializer_list<float> v) { return v; }

TEST(NcclModel, CollectivesCombineEveryRanksBuffer) {
  constexpr int kRanks = 3;
  run_ranks(kRanks, [](int rank, ncclComm_t comm) {
    const float r = static_cast<float>(rank);
    // all-reduce, in place: sum and average of (r, 10 r).
    std::vector<float> v = floats({r, 10 * r});
    EXPECT_EQ(ncclAllReduce(v.data(), v.data(), 2, ncclFloat32, ncclSum, comm, nullptr),
              ncclSuccess);
    EXPECT_EQ(v, floats({3, 30}));
    v = floats({r, 10 * r});
    EXPECT_EQ(ncclAllReduce(v.data(), v.data(), 2, ncclFloat32, ncclAvg, comm, nullptr),
              ncclSuccess);
    EXPECT_EQ(v, floats({1, 10}));
    // bfloat16, through kernels/half.h: 1 + 2 + 3 = 6.
    Bytes h(2);
    store_element(DType::BFloat16, h.data(), rank + 1);
    EXPECT_EQ(ncclAllReduce(h.data(), h.data(), 1, ncclBfloat16, ncclSum, comm, nullptr),
              ncclSuccess);
    EXPECT_EQ(load_element(DType::BFloat16, h.data()), 6);
    // broadcast from rank 2: the others' send buffers are not read.
    std::vector<float> b = floats({r, r});
    EXPECT_EQ(ncclBroadcast(b.data(), b.data(), 2, ncclFloat32, 2, comm, nullptr), ncclSuccess);
    EXPECT_EQ(b, floats({2, 2}));
    // all-gather in place: this rank's slice of the output is its input.
    std::vector<float> g(kRanks, -1);
    g[static_cast<size_t>(rank)] = 5 * r;
    EXPECT_EQ(ncclAllGather(g.data() + rank, g.data(), 1, ncclFloat32, comm, nullptr), ncclSuccess);
    EXPECT_EQ(g, floats({0, 5, 10}));
    // reduce-scatter: rank r gets element r summed, (r + 1) (0 + 1 + 2).
    std::vector<double> s = {1 * r, 2 * r, 3 * r};
    double mine = -1;
    EXPECT_EQ(ncclReduceScatter(s.data(), &mine, 1, ncclFloat64, ncclSum, comm, nullptr),
              ncclSuccess);
    EXPECT_EQ(mine, (rank + 1) * 3.0);
  });
}

// Non-blocking mode: each call returns ncclInProgress; the next call is
// refused until ncclCommGetAsyncError has reported the state once.
TEST(NcclModel, NonBlockingCallsMustSettleBeforeTheNext) {
  run_ranks(
      2,
      [](int /*rank*/, ncclComm_t comm) {
        float x = 1;
        EXPECT_EQ(ncclAllReduce(&x, &x, 1, ncclFloat32, ncclSum, comm, nullptr), ncclInProgress);
        EXPECT_EQ(ncclAllReduce(&x, &x, 1, ncclFloat32, ncclSum, comm, nullptr), ncclInvalidUsage);
        EXPECT_NE(std::string(ncclGetLastError(comm)).find("still in progress"), std::string::npos);
        ncclResult_t state = ncclSuccess;
        EXPECT_EQ(ncclCommGetAsyncError(comm, &state), ncclSuccess);
        EXPECT_EQ(state, ncclInProgress);
        EXPECT_EQ(ncclCommGetAsyncError(comm, &state), ncclSuccess);
        EXPECT_EQ(state, ncclSuccess);
        EXPECT_EQ(x, 2);  // the first call ran
        EXPECT_EQ(ncclCommFinalize(comm), ncclInProgress);
        EXPECT_EQ(ncclCommGetAsyncError(comm, &state), ncclSuccess);
        EXPECT_EQ(state, ncclInProgress);
        EXPECT_EQ(ncclAllReduce(&x, &x, 1, ncclFloat32, ncclSum, comm, nullptr), ncclInvalidUsage);
        EXPECT_NE(std::string(ncclGetLastError(comm)).find("finalised"), std::string::npos);
      },
      /*blocking=*/false);
}

// Ranks that issue different collectives: every rank's call fails, naming
// both, and the error stays the communicator's.
TEST(NcclModel, MismatchedCollectivesFailOnEveryRank) {
  run_ranks(2, [](int rank, ncclComm_t comm) {
    std::vector<float> v(5, 1);
    const size_t count = rank == 0 ? 4 : 5;
    EXPECT_EQ(ncclAllReduce(v.data(), v.data(), count, ncclFloat32, ncclSum, comm, nullptr),
              ncclInvalidUsage);
    const std::string error = ncclGetLastError(comm);
    EXPECT_NE(error.find("of 4 elements"), std::string::npos) << error;
    EXPECT_NE(error.find("of 5 elements"), std::string::npos) << error;
    ncclResult_t state = ncclSuccess;
    EXPECT_EQ(ncclCommGetAsyncError(comm, &state), ncclSuccess);
    EXPECT_EQ(state, ncclInvalidUsage);
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
TEST(NcclModel, JoinsThatCannotSucceedFail) {
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
