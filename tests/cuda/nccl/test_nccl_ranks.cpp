// The NCCL process group on several ranks, under mpirun (2 and 3 ranks):
// init_process_group("nccl") as users call it (MPI launches the ranks and
// carries NCCL's unique id), collectives whose results depend on every
// rank's data, and DistributedDataParallel, ZeRO-1 and the trainer on CUDA
// tensors against one process on the CPU.
//
// Where they run: on a machine with a GPU per rank; and in the emulated
// build (TOADSTOOL_CUDA=EMULATED, scripts/cuda_emulated.sh), where every
// process has an emulated device of its own and NCCL is the model of
// tests/cuda_emulation/shim/nccl.h. They skip without a GPU, on one rank,
// and where a machine has fewer GPUs than ranks (NCCL refuses two ranks on
// one GPU). Every rank runs every test in the same order and checks with
// EXPECT_ (an ASSERT_ that returned early on one rank would desynchronise
// the ranks).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cuda_test_util.h"
#include "ddp_test_util.h"
#include "toadstool/kernels/backend.h"
#include "toadstool/toadstool.h"

namespace toadstool::testing {
namespace {

using distributed::ReduceOp;

int environment_int(const char* name, int fallback) {
  const char* text = std::getenv(name);
  return text != nullptr ? std::atoi(text) : fallback;
}

// Why this machine cannot run the tests, or "" (the same on every rank).
std::string reason_to_skip() {
  if (!cuda_is_available()) return "no CUDA device available";
  if (environment_int("OMPI_COMM_WORLD_SIZE", 1) < 2) return "needs 2 or more ranks (mpirun)";
#if !TOADSTOOL_TEST_EMULATED_CUDA
  const int local_ranks = environment_int("OMPI_COMM_WORLD_LOCAL_SIZE", 1);
  if (kernels::cuda_device_count() < local_ranks) {
    return "NCCL needs a GPU per rank: " + std::to_string(local_ranks) + " ranks on this machine";
  }
#endif
  return "";
}

ProcessGroupRef nccl_world() {
  static ProcessGroupRef group = distributed::init_process_group("nccl");
  return group;
}

class NcclRanks : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string why = reason_to_skip();
    if (!why.empty()) GTEST_SKIP() << why;
    pg_ = nccl_world();
    n_ = pg_->size();
    rank_ = pg_->rank();
  }

  ProcessGroupRef pg_;
  int n_ = 0;
  int rank_ = 0;
};

TEST_F(NcclRanks, EachRankOnItsLocalGpu) {
  EXPECT_EQ(pg_->backend(), "nccl");
  EXPECT_TRUE(pg_->device().is_cuda());
  EXPECT_EQ(pg_->device().index, pg_->local_rank() % kernels::cuda_device_count());
}

// Rank r holds k * (r + 1) at element k: the sum is k * n (n + 1) / 2 and
// the mean k (n + 1) / 2, exact in every dtype (small integers and halves).
TEST_F(NcclRanks, AllReduceSumsAndAveragesEveryRanksValues) {
  const double ranks_sum = n_ * (n_ + 1) / 2.0;
  for (DType dtype : {kFloat32, kFloat64, kInt64, kBFloat16, kFloat16}) {
    for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Average}) {
      if (op == ReduceOp::Average && dtype == kInt64) continue;
      SCOPED_TRACE(::testing::Message() << dtype << (op == ReduceOp::Sum ? " sum" : " average"));
      Tensor t = (arange(0, 12) * (rank_ + 1)).to(dtype).view({3, 4}).to(pg_->device());
      pg_->all_reduce(t, op)->wait();
      const Tensor expected =
          arange(0, 12).to(kFloat64) * (op == ReduceOp::Sum ? ranks_sum : ranks_sum / n_);
      EXPECT_EQ(t.dtype(), dtype);
      EXPECT_EQ(values(t), values(expected));
    }
  }
}

TEST_F(NcclRanks, BroadcastFromTheLastRank) {
  const int root = n_ - 1;
  for (DType dtype : {kFloat32, kInt64, kBool, kBFloat16}) {
    SCOPED_TRACE(::testing::Message() << dtype);
    // Only the root's values are odd at the odd positions.
    const auto make = [&](int rank) {
      return (from_vector<int64_t>({0, 1, 0, 1, 0, 1, 0}) * (rank == root ? 1 : 0)).to(dtype);
    };
    Tensor t = make(rank_).to(pg_->device());
    pg_->broadcast(t, root)->wait();
    EXPECT_EQ(values(t), values(make(root)));
  }
}

// Rank r's [2, 3] block is 10 r + k: output [n, 2, 3] in rank order, out
// of place and in place (input this rank's slice of output).
TEST_F(NcclRanks, AllGatherPutsTheRanksInOrder) {
  const auto block = [](int rank) { return (arange(0, 6) + 10 * rank).to(kFloat32).view({2, 3}); };
  std::vector<Tensor> blocks;
  blocks.reserve(static_cast<size_t>(n_));
  for (int r = 0; r < n_; ++r) blocks.push_back(block(r));
  const Tensor expected = stack(blocks, 0);

  Tensor output = full({n_, 2, 3}, -1.0, pg_->device());
  pg_->all_gather(output, block(rank_).to(pg_->device()))->wait();
  EXPECT_EQ(values(output), values(expected));

  Tensor flat = full({n_ * 6}, -1.0, pg_->device());
  flat.narrow(0, rank_ * 6, 6).copy_(block(rank_).view({6}).to(pg_->device()));
  pg_->all_gather(flat, flat.narrow(0, rank_ * 6, 6))->wait();
  EXPECT_EQ(values(flat), values(expected));
}

// Every rank holds k (r + 1) at element k of n x 4: rank r gets elements
// 4 r ... 4 r + 3 reduced, k n (n + 1) / 2 summed, k (n + 1) / 2 averaged.
TEST_F(NcclRanks, ReduceScatterGivesEachRankItsSliceReduced) {
  const double ranks_sum = n_ * (n_ + 1) / 2.0;
  for (DType dtype : {kFloat32, kFloat64, kInt64}) {
    for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Average}) {
      if (op == ReduceOp::Average && dtype == kInt64) continue;
      SCOPED_TRACE(::testing::Message() << dtype << (op == ReduceOp::Sum ? " sum" : " average"));
      const Tensor input = (arange(0, n_ * 4) * (rank_ + 1)).to(dtype).to(pg_->device());
      Tensor output = full({4}, -1, TensorOptions(dtype).device(pg_->device()));
      pg_->reduce_scatter(output, input, op)->wait();
      const Tensor slice = arange(rank_ * 4, rank_ * 4 + 4).to(kFloat64);
      EXPECT_EQ(values(output), values(slice * (op == ReduceOp::Sum ? ranks_sum : ranks_sum / n_)));
    }
  }
}

TEST_F(NcclRanks, BarrierCompletes) {
  auto work = pg_->barrier();
  work->wait();
  EXPECT_TRUE(work->is_completed());
}

// A collective's tensor, dropped while the collective still waits for a
// late rank, is not handed out again before the collective has written it
// (the group records it on its stream): a tensor of the same size made
// then keeps its own values. Rank 0 is late by 300 ms; the other ranks
// drop theirs and allocate within that time.
TEST_F(NcclRanks, ATensorDroppedDuringItsCollectiveIsNotReusedBeforeItEnds) {
  pg_->barrier()->wait();
  if (rank_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Tensor t = full({1024}, 1.0, pg_->device());
  pg_->all_reduce(t);  // not waited for
  t = Tensor();
  const Tensor other = full({1024}, 7.0, pg_->device());
  pg_->barrier()->wait();  // after the all_reduce on the group's stream
  EXPECT_EQ(other.amin().item<double>(), 7.0);
  EXPECT_EQ(other.amax().item<double>(), 7.0);
}

// Ten AdamW steps on each rank's share of the global batch, on CUDA, end
// where one process on the CPU ends on the whole batch: DDP (buckets small
// enough to make several, each rank starting from other weights, which the
// constructor's broadcast replaces) and ZeRO-1.
TEST_F(NcclRanks, DdpAndZeroOnTheGpusMatchOneProcessOnTheCpu) {
  const Device gpu = pg_->device();
  const std::shared_ptr<nn::MLP> reference = reference_run(7, kSteps, kBatch);

  distributed::DistributedDataParallelOptions options;
  options.bucket_cap_mb = 200.0 / (1024 * 1024);  // 200 bytes: several buckets
  auto ddp_model = make_mlp(rank_ == 0 ? 7 : 100 + rank_);
  ddp_model->to(gpu);
  distributed::DistributedDataParallel ddp(ddp_model, pg_, options);
  EXPECT_GT(ddp.bucket_parameter_names().size(), 1U);
  optim::AdamW ddp_opt(ddp.parameters(), adamw_options());

  auto zero_model = make_mlp(7);
  zero_model->to(gpu);
  distributed::ZeroRedundancyOptimizer zero(
      zero_model->parameters(), pg_, [](std::vector<optim::ParamGroup> groups) {
        return std::make_unique<optim::AdamW>(std::move(groups), adamw_options());
      });
  // AdamW hardly sees a gradient's scale (a sum in place of a mean would
  // pass the end check), so the first step's gradients are checked too.
  auto first = make_mlp(7);
  const Batch whole = global_batch(0, kBatch);
  mse((*first)(whole.x), whole.y).backward();
  double first_gradients = 0;
  for (int s = 0; s < kSteps; ++s) {
    const Batch b = local_share(global_batch(s, kBatch), *pg_);
    const Tensor x = b.x.to(gpu);
    const Tensor y = b.y.to(gpu);
    mse(ddp(x), y).backward();
    if (s == 0) first_gradients = max_grad_diff(*ddp_model, *first);
    ddp_opt.step();
    ddp_opt.zero_grad();
    mse((*zero_model)(x), y).backward();
    zero.step();
    zero.zero_grad();
  }
  EXPECT_LT(first_gradients, 1e-12);
  EXPECT_EQ(ddp.synchronized_backwards(), kSteps);
  ddp_model->to(kCPU);
  zero_model->to(kCPU);
  EXPECT_LT(max_param_diff(*ddp_model, *reference), 1e-6);
  EXPECT_LT(max_param_diff(*zero_model, *reference), 1e-6);
}

// The trainer with DDP over NCCL and DeviceCallback: batches of B / n rows
// of a DistributedSampler each, two epochs with validation; its weights and
// its losses (averaged across the ranks on the GPU) are one CPU process's
// on batches of B.
TEST_F(NcclRanks, TrainerOnTheGpusMatchesOneProcessOnTheCpu) {
  constexpr int64_t kRows = 24, kGlobalBatch = 6;
  const Batch train_rows = global_batch(50, kRows);
  const Batch valid_rows = global_batch(51, kRows / 2);
  const auto data = std::make_shared<train::TensorDataset>(train_rows.x, train_rows.y);
  const auto valid = std::make_shared<train::TensorDataset>(valid_rows.x, valid_rows.y);
  struct Run {
    std::shared_ptr<nn::MLP> model;
    double train_loss, valid_loss;
  };
  const auto fit = [&](const ProcessGroupRef& pg) {
    const int world = pg ? pg->size() : 1;
    const int rank = pg ? pg->rank() : 0;
    const Device device = pg ? pg->device() : kCPU;
    Run run{make_mlp(7 + rank), 0, 0};
    run.model->to(device);
    std::shared_ptr<nn::UnaryModule> model = run.model;
    if (pg) model = std::make_shared<distributed::DistributedDataParallel>(run.model, pg);
    auto optimizer = std::make_shared<optim::AdamW>(model->parameters(), adamw_options());
    std::vector<std::shared_ptr<train::Callback>> callbacks;
    if (pg) callbacks.push_back(std::make_shared<train::DeviceCallback>(device));
    train::TrainerOptions options;
    options.process_group = pg;
    train::Trainer trainer(model, optimizer, mse, callbacks, options);
    const auto loader = [&](const std::shared_ptr<train::TensorDataset>& set) {
      train::DataLoaderOptions o;
      o.batch_size = kGlobalBatch / world;
      o.sampler = std::make_shared<train::DistributedSampler>(set->size(), world, rank, false);
      return train::DataLoader(set, o);
    };
    train::DataLoader train_loader = loader(data);
    train::DataLoader valid_loader = loader(valid);
    trainer.fit(2, train_loader, &valid_loader);
    run.model->to(kCPU);
    run.train_loss = trainer.train_loss();
    run.valid_loss = trainer.valid_loss();
    return run;
  };
  const Run on_gpus = fit(pg_);
  const Run one = fit(nullptr);
  EXPECT_LT(max_param_diff(*on_gpus.model, *one.model), 1e-6);
  EXPECT_NEAR(on_gpus.train_loss, one.train_loss, 1e-9);
  EXPECT_NEAR(on_gpus.valid_loss, one.valid_loss, 1e-9);
}

}  // namespace
}  // namespace toadstool::testing
