// All-reduce (sum) of float32 tensors of 4 KiB .. 64 MiB: Toadstool's
// ProcessGroupMpi against raw MPI on the same buffer: its synchronous
// all_reduce (async_op false: a small one is one blocking call) against
// MPI_Allreduce (Open MPI's blocking algorithms), and its asynchronous one
// (issue, then wait) against MPI_Iallreduce + MPI_Wait (the non-blocking
// algorithm the process group starts).
//
//   mpirun -np 2 build/release/bench/distributed/toadstool_dist_bench
//
// Every rank runs every benchmark with a fixed iteration count (Google
// Benchmark's adaptive count could differ between ranks, and the ranks must
// issue the same collectives). Each run starts at a barrier. Rank 0 prints
// the runs, then a table of bus bandwidth, 2 (n - 1) / n * bytes / time
// (NCCL's convention: what each rank's link carries in a ring), from the
// best of five rounds, with ours / raw for both pairs.
//
// The program initialises MPI itself (MPI_THREAD_SERIALIZED) so that it may
// call MPI_Allreduce from its main thread; the process group adopts that MPI
// and makes its calls from its communication thread while no raw call runs.
// Like the process group's runtime, it has Open MPI's MPI_Iallreduce use the
// ring (raw_MPI_Iallreduce runs it too).
#include <benchmark/benchmark.h>
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "toadstool/toadstool.h"

namespace {

using toadstool::Tensor;

std::shared_ptr<toadstool::distributed::ProcessGroup> group;
constexpr int kRounds = 5;

enum class Variant { Raw, RawNonBlocking, Toadstool, ToadstoolAsync };
const char* variant_name(Variant v) {
  switch (v) {
    case Variant::Raw: return "raw_MPI_Allreduce";
    case Variant::RawNonBlocking: return "raw_MPI_Iallreduce";
    case Variant::Toadstool: return "toadstool";
    case Variant::ToadstoolAsync: return "toadstool_async";
  }
  return "";
}

void allreduce(Variant variant, Tensor& t) {
  const int count = static_cast<int>(t.numel());
  switch (variant) {
    case Variant::Raw:
      MPI_Allreduce(MPI_IN_PLACE, t.data_ptr(), count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      break;
    case Variant::RawNonBlocking: {
      MPI_Request request = MPI_REQUEST_NULL;
      MPI_Iallreduce(MPI_IN_PLACE, t.data_ptr(), count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                     &request);
      MPI_Wait(&request, MPI_STATUS_IGNORE);
      break;
    }
    case Variant::Toadstool:
      group->all_reduce(t, toadstool::distributed::ReduceOp::Sum, /*async_op=*/false);
      break;
    case Variant::ToadstoolAsync: group->all_reduce(t)->wait(); break;
  }
}

// Zeros stay zeros however often they are summed: no overflow, no subnormals.
void BM_AllReduce(benchmark::State& state, Variant variant, int64_t bytes) {
  Tensor t = toadstool::zeros({bytes / 4});
  MPI_Barrier(MPI_COMM_WORLD);
  for (int i = 0; i < 2; ++i) allreduce(variant, t);  // warm-up: buffers, connections
  MPI_Barrier(MPI_COMM_WORLD);
  for (auto _ : state) allreduce(variant, t);
  const double n = group->size();
  state.counters["busbw"] = benchmark::Counter(2 * (n - 1) / n * static_cast<double>(bytes),
                                               benchmark::Counter::kIsIterationInvariantRate);
}

// Rank 0's console output, plus the best time of each variant and size
// over the rounds, for the table.
class Reporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      const std::string& name = run.run_name.function_name;
      const std::string key = name.substr(0, name.rfind("/round:"));
      const double seconds = run.real_accumulated_time / static_cast<double>(run.iterations);
      const auto it = best_s.find(key);
      if (it == best_s.end() || seconds < it->second) best_s[key] = seconds;
    }
  }
  std::map<std::string, double> best_s;  // by "AllReduce/<variant>/<bytes>"
};

// Discards everything: ranks other than 0.
class Silent : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>&) override {}
};

std::string name_of(Variant v, int64_t bytes) {
  return std::string("AllReduce/") + variant_name(v) + "/" + std::to_string(bytes);
}

}  // namespace

int main(int argc, char** argv) {
  // What the process group's runtime sets when it initialises MPI itself
  // (toadstool/distributed/mpi/runtime.cpp): the ring for MPI_Iallreduce.
  setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "ring", 0);
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  group = toadstool::distributed::init_process_group("mpi");
  const int world = group->size();

  std::vector<int64_t> sizes;
  for (int64_t bytes = 4 << 10; bytes <= (64 << 20); bytes *= 4) sizes.push_back(bytes);
  const Variant variants[] = {Variant::Raw, Variant::RawNonBlocking, Variant::Toadstool,
                              Variant::ToadstoolAsync};
  // Each size's variants in turn, five rounds: the machine's drift (a
  // shared VM) hits every variant alike, and the best round counts.
  for (int64_t bytes : sizes) {
    // About 128 MiB reduced per run: ~0.02-0.2 s.
    const int64_t iterations = std::clamp<int64_t>((128 << 20) / bytes, 5, 2000);
    for (int round = 0; round < kRounds; ++round) {
      for (Variant v : variants) {
        const std::string name = name_of(v, bytes) + "/round:" + std::to_string(round);
        benchmark::RegisterBenchmark(name.c_str(), BM_AllReduce, v, bytes)
            ->Iterations(iterations)
            ->UseRealTime()
            ->Unit(benchmark::kMicrosecond);
      }
    }
  }
  benchmark::Initialize(&argc, argv);
  Reporter reporter;
  Silent silent;
  if (rank == 0) {
    benchmark::RunSpecifiedBenchmarks(&reporter);
  } else {
    benchmark::RunSpecifiedBenchmarks(&silent);
  }

  if (rank == 0 && !reporter.best_s.empty()) {
    std::printf(
        "\nall-reduce (sum) of float32, %d ranks: bus bandwidth 2(n-1)/n * bytes / time, "
        "best of %d rounds\n",
        world, kRounds);
    std::printf("%10s %12s %12s %12s %12s %9s %9s\n", "bytes", "raw GB/s", "ours GB/s",
                "raw-nb GB/s", "async GB/s", "ours/raw", "async/nb");
    for (int64_t bytes : sizes) {
      const auto time_of = [&](Variant v) { return reporter.best_s[name_of(v, bytes)]; };
      const double bus = 2.0 * (world - 1) / world * static_cast<double>(bytes) * 1e-9;
      const double raw = time_of(Variant::Raw), nb = time_of(Variant::RawNonBlocking),
                   ours = time_of(Variant::Toadstool), async = time_of(Variant::ToadstoolAsync);
      if (raw <= 0 || nb <= 0 || ours <= 0 || async <= 0) continue;
      std::printf("%10lld %12.3f %12.3f %12.3f %12.3f %9.3f %9.3f\n", static_cast<long long>(bytes),
                  bus / raw, bus / ours, bus / nb, bus / async, raw / ours, nb / async);
    }
  }
  group.reset();  // before MPI_Finalize: it frees its communicator
  benchmark::Shutdown();
  MPI_Finalize();
  return 0;
}
