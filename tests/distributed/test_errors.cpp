// Bad input is an Error naming the collective, the rank and the shapes,
// thrown before anything is issued (so the ranks stay in step); a timeout
// without abort fails the Work and leaves the group unusable. The Local
// tests need no MPI (they also run in a build without it).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "dist_test_util.h"

namespace toadstool::testing {
namespace {

using distributed::ProcessGroupOptions;
using distributed::ReduceOp;

std::string rank_of(const distributed::ProcessGroup& pg) {
  return "(rank " + std::to_string(pg.rank()) + " of " + std::to_string(pg.size()) + ")";
}

TEST(Errors, BadTensors) {
  distributed::ProcessGroup& pg = world();
  const std::string who = rank_of(pg);
  Tensor strided = zeros({4, 6}).t();
  EXPECT_ERROR(pg.all_reduce(strided),
               std::vector<std::string>({"all_reduce " + who, "must be contiguous", "[6, 4]"}));
  Tensor undefined;
  EXPECT_ERROR(pg.broadcast(undefined),
               ("broadcast " + who + ": the tensor is an undefined tensor").c_str());
  Tensor mask = zeros({3}, kBool);
  EXPECT_ERROR(
      pg.all_reduce(mask),
      std::vector<std::string>({"all_reduce " + who, "float32, float64 or int64", "bool"}));
  Tensor half = zeros({3}, kBFloat16);
  EXPECT_ERROR(pg.reduce_scatter(half, half), ("reduce_scatter " + who).c_str());
  Tensor ints = zeros({3}, kInt64);
  EXPECT_ERROR(pg.all_reduce(ints, ReduceOp::Average),
               std::vector<std::string>({"Average needs a float32 or float64", "[3] int64"}));
  EXPECT_ERROR(pg.broadcast(ints, pg.size()),
               std::vector<std::string>(
                   {"broadcast " + who, "root " + std::to_string(pg.size()), "out of range"}));
  EXPECT_ERROR(pg.broadcast(ints, -1), "root -1 is out of range");
}

TEST(Errors, ShapeContracts) {
  distributed::ProcessGroup& pg = world();
  const std::string who = rank_of(pg);
  const int64_t s = pg.size();
  Tensor input = zeros({2, 3});
  Tensor short_output = zeros({s * 6 - 1});
  EXPECT_ERROR(pg.all_gather(short_output, input),
               std::vector<std::string>({"all_gather " + who, std::to_string(s * 6) + " elements",
                                         detail::concat("[", s * 6 - 1, "] float32"),
                                         "input [2, 3] float32"}));
  Tensor doubles = zeros({s * 6}, kFloat64);
  EXPECT_ERROR(pg.all_gather(doubles, input), "same dtype");
  Tensor output = zeros({3});
  Tensor bad_input = zeros({s * 3 + 1});
  EXPECT_ERROR(pg.reduce_scatter(output, bad_input),
               std::vector<std::string>({"reduce_scatter " + who, "input must have size",
                                         detail::concat("[", s * 3 + 1, "] float32"),
                                         "output [3] float32"}));
  // Overlaps: reduce_scatter never; all_gather only as this rank's slice.
  Tensor buffer = zeros({s * 3});
  Tensor first = buffer.narrow(0, 0, 3);
  EXPECT_ERROR(pg.reduce_scatter(first, buffer), "must not overlap");
  Tensor wrong_slice = buffer.narrow(0, pg.rank() == 0 ? 1 : 0, 3);
  EXPECT_ERROR(pg.all_gather(buffer, wrong_slice), "overlaps output without being this rank's");
}

TEST(Errors, CudaTensorIsRefused) {
  if (!cuda_is_available()) GTEST_SKIP() << "no CUDA device";
  distributed::ProcessGroup& pg = world();
  Tensor gpu = zeros({3}).to(Device(DeviceType::CUDA, 0));
  EXPECT_ERROR(pg.all_reduce(gpu), "the MPI process group takes CPU tensors");
}

// Rank 0 waits alone on a group with a short timeout and no abort: its Work
// fails with the message, and the group refuses more collectives. The
// others join that all_reduce afterwards, so that nothing stays pending.
TEST(Errors, TimeoutWithoutAbortFailsTheWork) {
  distributed::ProcessGroup& pg = world();
  ProcessGroupOptions options;
  options.timeout = std::chrono::duration<double>(0.3);
  options.abort_on_timeout = false;
  auto group = distributed::init_process_group("mpi", options);
  EXPECT_DOUBLE_EQ(group->timeout().count(), 0.3);
  Tensor t = ones({4});
  if (pg.rank() == 0) {
    auto work = group->all_reduce(t);
    EXPECT_ERROR(work->wait(),
                 std::vector<std::string>({"all_reduce (sum) of [4] float32", "rank 0 of",
                                           "timed out after 0.3 s", "unusable from now on"}));
    EXPECT_TRUE(work->is_completed());
    EXPECT_ERROR(group->barrier(),
                 ("barrier " + rank_of(pg) + ": this process group is unusable").c_str());
  }
  pg.barrier()->wait();  // rank 0 has timed out
  if (pg.rank() != 0) {
    group->all_reduce(t)->wait();
    EXPECT_EQ(values(t), std::vector<double>(4, pg.size()));
  }
  pg.barrier()->wait();
}

// Without MPI in the picture: backend names and the timeout's sources.
TEST(LocalErrors, BackendNames) {
  EXPECT_ERROR(distributed::init_process_group("gloo"), "unknown backend 'gloo'");
#if !TOADSTOOL_WITH_MPI
  EXPECT_ERROR(distributed::init_process_group("mpi"), "built without MPI");
#endif
}

// init_process_group("nccl") says why it cannot run: what the build lacks,
// or (checked before MPI starts) that this machine has no GPU. With one,
// tests/cuda/nccl/ runs the group.
TEST(LocalErrors, NcclWithoutItsRequirements) {
#if !TOADSTOOL_WITH_CUDA
  EXPECT_ERROR(distributed::init_process_group("nccl"),
               "'nccl': this Toadstool was built "
               "without CUDA");
#elif !TOADSTOOL_WITH_MPI
  EXPECT_ERROR(distributed::init_process_group("nccl"), "built without MPI, which launches");
#elif !TOADSTOOL_WITH_NCCL
  EXPECT_ERROR(distributed::init_process_group("nccl"), "built without NCCL");
#else
  if (cuda_is_available()) GTEST_SKIP() << "a GPU is present: tests/cuda/nccl/ runs the group";
  EXPECT_ERROR(distributed::init_process_group("nccl"),
               "backend 'nccl' needs a CUDA GPU, and this process sees none");
#endif
}

TEST(LocalErrors, TimeoutFromOptionsThenEnvironment) {
  ProcessGroupOptions options;
  ::setenv("TOADSTOOL_DIST_TIMEOUT_S", "2.5", 1);
  EXPECT_DOUBLE_EQ(distributed::resolve_timeout(options).count(), 2.5);
  options.timeout = std::chrono::duration<double>(7);
  EXPECT_DOUBLE_EQ(distributed::resolve_timeout(options).count(), 7);
  options.timeout = std::chrono::duration<double>(0);
  EXPECT_ERROR(distributed::resolve_timeout(options), "timeout must be positive");
  options.timeout.reset();
  ::setenv("TOADSTOOL_DIST_TIMEOUT_S", "soon", 1);
  EXPECT_ERROR(distributed::resolve_timeout(options),
               "TOADSTOOL_DIST_TIMEOUT_S must be a positive");
  ::setenv("TOADSTOOL_DIST_TIMEOUT_S", "-1", 1);
  EXPECT_ERROR(distributed::resolve_timeout(options), "got '-1'");
  ::unsetenv("TOADSTOOL_DIST_TIMEOUT_S");
  EXPECT_DOUBLE_EQ(distributed::resolve_timeout(options).count(), 300);
}

}  // namespace
}  // namespace toadstool::testing
