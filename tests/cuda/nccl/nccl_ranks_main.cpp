// The NCCL rank tests' main. Under mpirun every rank runs the GoogleTest
// suites in the same order; `--scenario NAME` runs one failure scenario of
// nccl_scenarios.cpp instead (test_nccl_failures.cpp launches those under
// an mpirun of its own).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "nccl_scenarios.h"

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--scenario") == 0) {
    return toadstool::testing::run_nccl_scenario(argv[2]);
  }
  // Only rank 0 prints every test; the others print their failures alone
  // (Open MPI names the rank in the environment before MPI starts).
  const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
  if (rank != nullptr && std::strcmp(rank, "0") != 0) GTEST_FLAG_SET(brief, true);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
