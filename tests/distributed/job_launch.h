#pragma once
// Runs a failure scenario of this test binary on every rank of an
// `mpirun -np 2` of its own (the binary's `--scenario NAME`) and gathers
// how the job ended: tests/distributed/test_failures.cpp (MPI) and
// tests/cuda/nccl/test_nccl_failures.cpp (NCCL). TOADSTOOL_MPIEXEC is
// mpirun's path.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <string>

namespace toadstool::testing {

struct JobResult {
  int status = -1;  // mpirun's exit status (-1: it did not exit normally)
  double seconds = 0;
  std::string output;  // stdout and stderr of every rank
};

inline std::string self_path() {
  std::array<char, 4096> path{};
  const ssize_t n = readlink("/proc/self/exe", path.data(), path.size() - 1);
  return n > 0 ? std::string(path.data(), static_cast<size_t>(n)) : std::string();
}

// `timeout` is the last guard: a hang shows as status 124 after 120 s.
inline JobResult run_job(const std::string& scenario, const std::string& timeout_s) {
  const std::string command = std::string("timeout -k 5 120 ") + TOADSTOOL_MPIEXEC +
                              " --oversubscribe -np 2 --mca btl self,vader"
                              " -x TOADSTOOL_DIST_TIMEOUT_S=" +
                              timeout_s + " " + self_path() + " --scenario " + scenario + " 2>&1";
  JobResult result;
  const auto start = std::chrono::steady_clock::now();
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    result.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (WIFEXITED(status)) result.status = WEXITSTATUS(status);
  return result;
}

// The job failed (non-zero), did not hang (the guard's status 124) and
// ended within 30 s.
inline void expect_failed_in_time(const JobResult& job) {
  EXPECT_NE(job.status, 0) << job.output;
  EXPECT_NE(job.status, 124) << "the job hung:\n" << job.output;
  EXPECT_LT(job.seconds, 30) << job.output;
}

}  // namespace toadstool::testing
