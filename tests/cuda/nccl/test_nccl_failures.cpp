// A failing rank ends a job of the NCCL group, non-zero and in bounded
// time: each test starts `mpirun -np 2` on a scenario of nccl_scenarios.cpp
// and checks the exit status, the time and the message. These tests run
// outside mpirun (ctest's nccl_failures), on a machine with two GPUs, or
// in the emulated build over the NCCL model (scripts/cuda_emulated.sh).
#include <gtest/gtest.h>

#include <string>

#include "job_launch.h"
#include "toadstool/kernels/backend.h"
#include "toadstool/toadstool.h"

namespace toadstool::testing {
namespace {

class NcclFailureLaunch : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_is_available()) GTEST_SKIP() << "no CUDA device available";
#if !TOADSTOOL_TEST_EMULATED_CUDA
    if (kernels::cuda_device_count() < 2) GTEST_SKIP() << "NCCL needs a GPU per rank: 2 ranks";
#endif
  }
};

TEST_F(NcclFailureLaunch, AllRanksSucceedExitsZero) {
  const JobResult job = run_job("all_succeed", "30");
  EXPECT_EQ(job.status, 0) << job.output;
}

// Rank 1 leaves while rank 0's host waits behind the collective on the
// GPU: rank 0's watchdog aborts the job at its 2 s timeout, naming the
// rank, the collective and the shape.
TEST_F(NcclFailureLaunch, RankThatLeavesEndsTheJobByTimeout) {
  const JobResult job = run_job("rank_returns", "2");
  expect_failed_in_time(job);
  EXPECT_NE(job.output.find(
                "toadstool.distributed: all_reduce (sum) of [3] float32 on cuda:0 (collective "
                "#2 of nccl group 1, rank 0 of 2): timed out after 2 s"),
            std::string::npos)
      << job.output;
}

// The timeout is 300 s: only mpirun's reaction to the aborted rank can end
// the job within the bound.
TEST_F(NcclFailureLaunch, RankThatThrowsEndsTheJob) {
  const JobResult job = run_job("rank_throws", "300");
  expect_failed_in_time(job);
  EXPECT_NE(job.output.find("rank 1 fails on purpose"), std::string::npos) << job.output;
}

// Collectives that differ between the ranks: the model's asynchronous
// error ends the job through the watchdog, not the 300 s timeout. (Real
// NCCL does not check: its collective hangs, or mixes buffers, and the
// timeout ends it, as in RankThatLeavesEndsTheJobByTimeout.)
TEST_F(NcclFailureLaunch, RanksThatDisagreeEndTheJobByNcclsError) {
#if !TOADSTOOL_TEST_EMULATED_CUDA
  GTEST_SKIP() << "NCCL itself does not detect collectives that differ";
#endif
  const JobResult job = run_job("ranks_disagree", "300");
  expect_failed_in_time(job);
  EXPECT_NE(job.output.find("(collective #2 of nccl group 1, rank 0 of 2): NCCL reported an "
                            "asynchronous error"),
            std::string::npos)
      << job.output;
}

}  // namespace
}  // namespace toadstool::testing
