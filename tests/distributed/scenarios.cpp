// Failure scenarios, each run by every rank of an mpirun that
// test_failures.cpp starts and watches: the job must end non-zero, in
// bounded time, with a message naming the rank and the collective.
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <stdexcept>
#include <thread>
#include <vector>

#include "dist_test_util.h"

namespace toadstool::testing {
namespace {

using distributed::ProcessGroup;

// Rank 1 throws out of main after a first all_reduce, while rank 0 waits in
// a second one: std::terminate aborts rank 1, and mpirun ends the job.
int rank_throws(ProcessGroup& pg) {
  Tensor t = ones({3});
  pg.all_reduce(t)->wait();
  if (pg.rank() == 1) throw std::runtime_error("rank 1 fails on purpose");
  pg.all_reduce(t)->wait();
  return 0;
}

// Rank 1 catches its failure and returns 1 from main (MPI is finalised at
// exit) while rank 0 waits in an all_reduce: only the timeout
// ($TOADSTOOL_DIST_TIMEOUT_S, set short by the test) ends rank 0's wait (and
// would end rank 1's barrier at exit) with MPI_Abort.
// Rank 1 returns after the first all_reduce while rank 0 issues a second:
// asynchronous (rank 0 polls), or synchronous (rank 0 inside one blocking
// MPI call, watched by the communication thread).
int rank_returns_from(ProcessGroup& pg, bool async_op) {
  Tensor t = ones({3});
  pg.all_reduce(t)->wait();
  if (pg.rank() == 1) {
    // Later than rank 0's timeout, so that its message comes first.
    std::this_thread::sleep_for(std::chrono::seconds(1));
    std::fprintf(stderr, "rank 1 returns 1 on purpose\n");
    return 1;
  }
  pg.all_reduce(t, distributed::ReduceOp::Sum, async_op)->wait();
  return 0;
}
int rank_returns(ProcessGroup& pg) { return rank_returns_from(pg, true); }
int rank_returns_synchronous(ProcessGroup& pg) { return rank_returns_from(pg, false); }

// Rank 1 throws from inside a DistributedDataParallel backward (a hook on
// the first layer's weight, whose gradient comes last), after its earlier
// buckets' all_reduces have been issued; rank 0 waits for every bucket at
// the end of its backward. The exception leaves rank 1's main, and mpirun
// ends the job long before the 300 s timeout.
int ddp_rank_throws_in_backward(ProcessGroup& pg) {
  manual_seed(0);
  auto model = std::make_shared<nn::MLP>(std::vector<int64_t>{4, 8, 2});
  distributed::DistributedDataParallelOptions options;
  options.bucket_cap_mb = 64.0 / (1024 * 1024);  // a bucket per parameter
  distributed::DistributedDataParallel ddp(model, world_ptr(), options);
  if (pg.rank() == 1) {
    model->parameters()[0].register_hook([](const Tensor&) -> Tensor {
      throw std::runtime_error("rank 1 fails in backward on purpose");
    });
  }
  ddp(randn({3, 4})).sum().backward();
  return 0;
}

// Synchronous small all_reduces (each one blocking MPI call, watched by
// the communication thread) back to back for three times the timeout
// (1 s, set by the test): each call has its own timeout, so none times out.
// Rank 0 says when to stop, in the reduced tensor itself, so that every
// rank issues the same number of collectives.
int synchronous_all_reduces_outlast_the_timeout(ProcessGroup& pg) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    const bool go_on = std::chrono::steady_clock::now() - start < std::chrono::seconds(3);
    Tensor t = full({4}, pg.rank() == 0 && go_on ? 1.0 : 0.0);
    pg.all_reduce(t, distributed::ReduceOp::Sum, /*async_op=*/false);
    if (t.sum().item<double>() == 0.0) return 0;
  }
}

// Every rank succeeds: the control, which must exit 0.
int all_succeed(ProcessGroup& pg) {
  Tensor t = ones({3});
  pg.all_reduce(t)->wait();
  return t.sum().item<double>() == 3.0 * pg.size() ? 0 : 1;
}

}  // namespace

int run_scenario(const std::string& name) {
  static const std::map<std::string, std::function<int(ProcessGroup&)>> scenarios = {
      {"rank_throws", rank_throws},
      {"rank_returns", rank_returns},
      {"rank_returns_synchronous", rank_returns_synchronous},
      {"all_succeed", all_succeed},
      {"synchronous_all_reduces_outlast_the_timeout", synchronous_all_reduces_outlast_the_timeout},
      {"ddp_rank_throws_in_backward", ddp_rank_throws_in_backward},
  };
  const auto it = scenarios.find(name);
  TS_CHECK(it != scenarios.end(), "unknown scenario '", name, "'");
  return it->second(world());
}

}  // namespace toadstool::testing
