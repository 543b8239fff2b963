#pragma once
// Helpers of the distributed tests (tests/distributed/): the world group
// that the tests under mpirun share, and the failure scenarios that
// test_failures.cpp runs under an mpirun of its own.
#include <memory>
#include <string>

#include "test_util.h"
#include "toadstool/toadstool.h"

namespace toadstool::testing {

// The process group over every rank, created on first use with the default
// options (ctest sets TOADSTOOL_DIST_TIMEOUT_S so that a bug fails fast).
// Every test under mpirun runs on every rank, in the same order: a test
// issues the same collectives on every rank, checks with EXPECT_ (an
// ASSERT_ that returns early on one rank would desynchronise the ranks).
using ProcessGroupRef = std::shared_ptr<distributed::ProcessGroup>;
inline ProcessGroupRef world_ptr() {
  static ProcessGroupRef group = distributed::init_process_group("mpi");
  return group;
}
inline distributed::ProcessGroup& world() { return *world_ptr(); }

// Runs the failure scenario `name` (scenarios.cpp) on this rank; returns
// main's exit status. An unknown name is an Error.
int run_scenario(const std::string& name);

}  // namespace toadstool::testing
