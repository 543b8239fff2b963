// Data-parallel throughput of the IMDB training step (bench_nn.cpp's
// transformer_step: TransformerClassifier with its default options, global
// batch 32 x 256 tokens, AdamW), run under mpirun (docs/distributed.md,
// "Benchmark"):
//
//   mpirun -np 2 toadstool_dist_bench_ddp --threads 1            # DDP, 16 rows a rank
//   mpirun -np 1 toadstool_dist_bench_ddp --threads 1 --plain    # no DDP: the baseline
//
// Each rank takes its rows of the global batch; a timed step is forward,
// backward (the gradient all-reduces overlap it), AdamW. Prints one line
// per variant on rank 0: the mean step time, samples/s of the global batch,
// and for DDP the time from the end of the backward to the gradients'
// arrival (the all-reduce time not hidden behind the backward) against the
// same buckets' all-reduces timed alone (what the overlap had to hide).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "toadstool/toadstool.h"

namespace {

using namespace toadstool;
using Clock = std::chrono::steady_clock;

constexpr int64_t kGlobalBatch = 32, kSeq = 256, kVocab = 20000, kClasses = 2;

struct Args {
  int threads = 1;
  int steps = 10;
  int warmup = 2;
  bool plain = false;         // no DDP (run with -np 1)
  bool zero = false;          // no DDP: ZeroRedundancyOptimizer over AdamW
  bool overlap = true;        // false: every bucket starts at the end of the backward
  double bucket_cap_mb = 25;  // PyTorch's default
  int64_t vocab = kVocab;     // smaller: the embedding (last in backward) no longer dominates
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> const char* {
      TS_CHECK(i + 1 < argc, "bench_ddp: ", arg, " needs a value");
      return argv[++i];
    };
    if (arg == "--threads") {
      a.threads = std::atoi(next());
    } else if (arg == "--steps") {
      a.steps = std::atoi(next());
    } else if (arg == "--warmup") {
      a.warmup = std::atoi(next());
    } else if (arg == "--plain") {
      a.plain = true;
    } else if (arg == "--zero") {
      a.zero = true;
    } else if (arg == "--no-overlap") {
      a.overlap = false;
    } else if (arg == "--vocab") {
      a.vocab = std::atoll(next());
    } else if (arg == "--bucket-cap-mb") {
      a.bucket_cap_mb = std::atof(next());
    } else {
      TS_CHECK(false, "bench_ddp: unknown argument ", arg,
               " (--threads N --steps N --warmup N --plain --zero --no-overlap --bucket-cap-mb X "
               "--vocab N)");
    }
  }
  return a;
}

// bench_nn.cpp's batch: sequence b has its last 4 b tokens padded (id 0).
Tensor token_ids(int64_t vocab) {
  Generator gen(3);
  const Tensor ids = randint(1, vocab, {kGlobalBatch, kSeq}, kInt64, &gen);
  const Tensor lengths =
      sub(full({kGlobalBatch, 1}, kSeq, kInt64), arange(kGlobalBatch).view({kGlobalBatch, 1}) * 4);
  return masked_fill(ids, ge(arange(kSeq).view({1, kSeq}), lengths), 0);
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// The buckets' all-reduces alone (no compute), each issued and then all
// waited, as the reducer does at best: the communication the overlap hides.
double allreduce_alone_s(distributed::ProcessGroup& pg, const std::vector<int64_t>& bucket_numels,
                         int rounds) {
  std::vector<Tensor> flats;
  flats.reserve(bucket_numels.size());
  for (int64_t n : bucket_numels) flats.push_back(zeros({n}));
  double best = 1e30;
  for (int r = 0; r < rounds; ++r) {
    pg.barrier()->wait();
    const auto start = Clock::now();
    std::vector<std::shared_ptr<distributed::Work>> works;
    works.reserve(flats.size());
    for (Tensor& f : flats) works.push_back(pg.all_reduce(f, distributed::ReduceOp::Average));
    for (auto& w : works) w->wait();
    best = std::min(best, seconds_since(start));
  }
  return best;
}

int run(int argc, char** argv) {
  const Args args = parse(argc, argv);
  set_num_threads(args.threads);
  auto pg = distributed::init_process_group("mpi");
  const int64_t local_batch = kGlobalBatch / pg->size();
  TS_CHECK(local_batch * pg->size() == kGlobalBatch, "bench_ddp: ", pg->size(),
           " ranks do not divide the batch of ", kGlobalBatch);
  const Tensor ids =
      token_ids(args.vocab).narrow(0, pg->rank() * local_batch, local_batch).contiguous();
  Generator gen(4);
  const Tensor labels = randint(0, kClasses, {kGlobalBatch}, kInt64, &gen)
                            .narrow(0, pg->rank() * local_batch, local_batch)
                            .contiguous();

  manual_seed(0);
  nn::TransformerClassifierOptions model_options;
  model_options.vocab_size = args.vocab;
  auto model = std::make_shared<nn::TransformerClassifier>(model_options);
  model->train();
  std::unique_ptr<distributed::DistributedDataParallel> ddp;
  nn::UnaryModule* forward = model.get();
  if (!args.plain && !args.zero) {
    distributed::DistributedDataParallelOptions options;
    options.bucket_cap_mb = args.bucket_cap_mb;
    options.overlap = args.overlap;
    ddp = std::make_unique<distributed::DistributedDataParallel>(model, pg, options);
    forward = ddp.get();
  }
  // One AdamW over every parameter, or (--zero) one over this rank's shard.
  std::unique_ptr<optim::Optimizer> optimizer;
  if (args.zero) {
    optimizer = std::make_unique<distributed::ZeroRedundancyOptimizer>(
        model->parameters(), pg, [](std::vector<optim::ParamGroup> groups) {
          return std::make_unique<optim::AdamW>(std::move(groups));
        });
  } else {
    optimizer = std::make_unique<optim::AdamW>(model->parameters());
  }
  nn::CrossEntropyLoss loss_fn;

  double step_total = 0, exposed_total = 0, skew_total = 0, copy_back_total = 0, backward_total = 0;
  for (int s = 0; s < args.warmup + args.steps; ++s) {
    pg->barrier()->wait();  // every rank starts the step together
    const auto start = Clock::now();
    optimizer->zero_grad();
    Tensor loss = loss_fn(forward->forward(ids), labels);
    const auto backward_start = Clock::now();
    loss.backward();
    const double backward_s = seconds_since(backward_start);
    optimizer->step();
    const double step_s = seconds_since(start);
    if (s < args.warmup) continue;
    step_total += step_s;
    backward_total += backward_s;
    if (ddp) {
      // The communication not hidden: from the end of the last rank's
      // backward (the last bucket cannot start before it) to this rank's
      // buckets all complete. Waiting for a slower rank's backward is skew,
      // not communication, and is left out. Steady-clock times compare
      // across the ranks of one machine.
      const distributed::SyncStats& st = ddp->last_sync_stats();
      auto ns = [&](double offset_s) {
        return static_cast<double>(
                   std::chrono::duration_cast<std::chrono::nanoseconds>(st.start.time_since_epoch())
                       .count()) +
               1e9 * offset_s;
      };
      Tensor mine = from_vector<double>({ns(st.backward_end_s)});
      Tensor ends = empty({pg->size()}, kFloat64);
      pg->all_gather(ends, mine)->wait();
      const double last_end = ends.amax().item<double>();
      exposed_total += std::max(0.0, ns(st.waited_s) - last_end) / 1e9;
      skew_total += (last_end - ends.amin().item<double>()) / 1e9;
      copy_back_total += st.synced_s - st.waited_s;
    }
  }
  const double step_s = step_total / args.steps;
  std::string extra;
  if (ddp) {
    std::vector<int64_t> numels;
    for (const auto& names : ddp->bucket_parameter_names()) {
      int64_t n = 0;
      for (const auto& name : names) {
        for (const auto& [pname, p] : model->named_parameters()) {
          if (pname == name) n += p.numel();
        }
      }
      numels.push_back(n + static_cast<int64_t>(names.size()));
    }
    const double alone = allreduce_alone_s(*pg, numels, 5);
    const double exposed = exposed_total / args.steps;
    const double copy_back = copy_back_total / args.steps;
    char buf[400];
    std::snprintf(buf, sizeof buf,
                  " | buckets %zu, backward %.1f ms, ranks' backward ends %.2f ms apart, "
                  "all-reduce alone %.2f ms, after the last backward %.2f ms (hidden %.0f%%), "
                  "copy back %.2f ms",
                  numels.size(), 1e3 * backward_total / args.steps, 1e3 * skew_total / args.steps,
                  1e3 * alone, 1e3 * exposed,
                  alone > 0 ? 100.0 * std::max(0.0, 1.0 - exposed / alone) : 0.0, 1e3 * copy_back);
    extra = buf;
  }
  // Optimizer state on this rank: AdamW's two buffers per element stepped.
  int64_t state_bytes = 0;
  if (const auto* zero =
          dynamic_cast<const distributed::ZeroRedundancyOptimizer*>(optimizer.get())) {
    state_bytes = zero->local_state_bytes();
  } else {
    for (const Tensor& p : model->parameters()) {
      if (const optim::ParamState* st = optimizer->state(p)) {
        for (const auto& [name, b] : st->buffers) {
          state_bytes += b.numel() * static_cast<int64_t>(b.element_size());
        }
      }
    }
  }
  char memory[160];
  std::snprintf(memory, sizeof memory, " | %lld parameters, optimizer state %.2f MB on rank 0",
                static_cast<long long>(model->num_parameters()), state_bytes / 1e6);
  extra += memory;
  if (pg->rank() == 0) {
    std::printf(
        "%s ranks %d x threads %d (vocab %lld, cap %g MB%s): step %.1f ms, %.1f samples/s%s\n",
        args.plain ? "plain" : (args.zero ? "zero1" : "ddp"), pg->size(), args.threads,
        static_cast<long long>(args.vocab), args.bucket_cap_mb, args.overlap ? "" : ", no overlap",
        1e3 * step_s, kGlobalBatch / step_s, extra.c_str());
  }
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_ddp: %s\n", e.what());
    return 1;
  }
}
