#pragma once
// The NCCL group's failure scenarios (nccl_scenarios.cpp), each run by
// every rank of an mpirun that test_nccl_failures.cpp starts and watches.
#include <string>

namespace toadstool::testing {

// Runs the scenario `name` on this rank with a new NCCL group; returns
// main's exit status. An unknown name is an Error.
int run_nccl_scenario(const std::string& name);

}  // namespace toadstool::testing
