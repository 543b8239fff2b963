// Failure scenarios of the NCCL group, each run by every rank of an
// `mpirun -np 2` that test_nccl_failures.cpp starts and watches: the job
// must end non-zero, in bounded time, with a message naming the rank and
// the collective. On a GPU a collective that waits for a missing peer holds
// the GPU's stream, not the host's call: the host then waits behind it at
// its next read (item()), and only the group's watchdog, or mpirun's
// reaction to a rank that died, can end the job.
#include "nccl_scenarios.h"

#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <stdexcept>
#include <thread>

#include "toadstool/toadstool.h"

namespace toadstool::testing {
namespace {

using distributed::ProcessGroup;

// A first all_reduce that every rank finishes, on the group's GPU.
Tensor first_all_reduce(ProcessGroup& pg) {
  Tensor t = ones({3}, pg.device());
  pg.all_reduce(t)->wait();
  (void)t.sum().item<double>();
  return t;
}

// Rank 1 returns after the first all_reduce, later than rank 0's timeout
// ($TOADSTOOL_DIST_TIMEOUT_S, 2 s in the test), while rank 0 issues a
// second and reads its result: the watchdog aborts the job at the deadline.
int rank_returns(ProcessGroup& pg) {
  Tensor t = first_all_reduce(pg);
  if (pg.rank() == 1) {
    std::this_thread::sleep_for(std::chrono::seconds(4));
    std::fprintf(stderr, "rank 1 returns 1 on purpose\n");
    return 1;
  }
  pg.all_reduce(t)->wait();
  return t.sum().item<double>() == 12.0 ? 0 : 1;
}

// Rank 1 throws out of main after the first all_reduce, while rank 0 waits
// behind a second: std::terminate aborts rank 1, and mpirun ends the job
// long before the 300 s timeout.
int rank_throws(ProcessGroup& pg) {
  Tensor t = first_all_reduce(pg);
  if (pg.rank() == 1) throw std::runtime_error("rank 1 fails on purpose");
  pg.all_reduce(t)->wait();
  return t.sum().item<double>() == 12.0 ? 0 : 1;
}

// The ranks issue all_reduces of different sizes (a bug of the caller):
// NCCL's asynchronous error ends the job through the watchdog, long before
// the 300 s timeout.
int ranks_disagree(ProcessGroup& pg) {
  (void)first_all_reduce(pg);
  Tensor t = ones({pg.rank() == 0 ? 3 : 4}, pg.device());
  pg.all_reduce(t)->wait();
  return t.sum().item<double>() > 0 ? 0 : 1;
}

// Every rank succeeds: the control, which must exit 0.
int all_succeed(ProcessGroup& pg) {
  Tensor t = first_all_reduce(pg);
  pg.all_reduce(t)->wait();
  return t.sum().item<double>() == 3.0 * pg.size() * pg.size() ? 0 : 1;
}

}  // namespace

int run_nccl_scenario(const std::string& name) {
  static const std::map<std::string, std::function<int(ProcessGroup&)>> scenarios = {
      {"rank_returns", rank_returns},
      {"rank_throws", rank_throws},
      {"ranks_disagree", ranks_disagree},
      {"all_succeed", all_succeed},
  };
  const auto it = scenarios.find(name);
  TS_CHECK(it != scenarios.end(), "unknown scenario '", name, "'");
  const auto group = distributed::init_process_group("nccl");
  return it->second(*group);
}

}  // namespace toadstool::testing
