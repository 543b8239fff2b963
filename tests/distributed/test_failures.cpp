// A failing rank ends the whole job, non-zero and in bounded time: each
// test starts `mpirun -np 2` on a scenario of scenarios.cpp and checks the
// exit status, the time and the message. These tests run outside mpirun
// (ctest's distributed_failures).
#include <gtest/gtest.h>

#include <string>

#include "dist_test_util.h"
#include "job_launch.h"

#if TOADSTOOL_WITH_MPI
namespace toadstool::testing {
namespace {

TEST(FailureLaunch, AllRanksSucceedExitsZero) {
  const JobResult job = run_job("all_succeed", "30");
  EXPECT_EQ(job.status, 0) << job.output;
}

// The timeout bounds each collective, not a run of them: 3 s of synchronous
// all_reduces with a 1 s timeout end normally.
TEST(FailureLaunch, BackToBackSynchronousAllReducesDoNotTimeOut) {
  const JobResult job = run_job("synchronous_all_reduces_outlast_the_timeout", "1");
  EXPECT_EQ(job.status, 0) << job.output;
  EXPECT_EQ(job.output.find("timed out"), std::string::npos) << job.output;
}

// The timeout is 300 s: only mpirun's reaction to the aborted rank can end
// the job within the bound.
TEST(FailureLaunch, RankThatThrowsEndsTheJob) {
  const JobResult job = run_job("rank_throws", "300");
  expect_failed_in_time(job);
  EXPECT_NE(job.output.find("rank 1 fails on purpose"), std::string::npos) << job.output;
}

// Rank 1 throws inside a DistributedDataParallel backward while rank 0
// waits for its gradient buckets: the job ends, by mpirun, not the timeout.
TEST(FailureLaunch, RankThatThrowsInADdpBackwardEndsTheJob) {
  const JobResult job = run_job("ddp_rank_throws_in_backward", "300");
  expect_failed_in_time(job);
  EXPECT_NE(job.output.find("rank 1 fails in backward on purpose"), std::string::npos)
      << job.output;
}

// Rank 1 leaves cleanly while rank 0 waits: rank 0's 2 s timeout aborts the
// job with a message naming the rank, the collective and the shape.
// The same with rank 0 in a synchronous all_reduce (one blocking MPI call):
// its communication thread ends the process at the deadline.
TEST(FailureLaunch, RankThatLeavesEndsTheJobByTimeout) {
  for (const char* scenario : {"rank_returns", "rank_returns_synchronous"}) {
    SCOPED_TRACE(scenario);
    const JobResult job = run_job(scenario, "2");
    expect_failed_in_time(job);
    EXPECT_NE(job.output.find("toadstool.distributed: all_reduce (sum) of [3] float32 (collective "
                              "#2 of group 1, rank 0 of 2): timed out after 2 s"),
              std::string::npos)
        << job.output;
  }
}

}  // namespace
}  // namespace toadstool::testing
#endif  // TOADSTOOL_WITH_MPI
