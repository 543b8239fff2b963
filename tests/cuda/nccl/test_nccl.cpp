// The NCCL process group (toadstool/distributed/nccl/) on one rank, label
// cuda: every test skips without a GPU. One rank because the GPU machine has
// one GPU and NCCL refuses two ranks on one; without MPI because that
// machine has no Open MPI: NCCL's unique id travels over OneRankGroup below
// instead of the MPI group that init_process_group("nccl") uses (the
// distributed suite checks init_process_group("nccl")'s Errors).
//
// On one rank a reduction leaves values as they were, so what these tests
// can catch is the plumbing: the NCCL calls and types accepted, data moved
// by the out-of-place forms, the NCCL stream ordered after the caller's
// stream and before it again (wait()), the Work completed by the watchdog,
// the Errors, and DDP and ZeRO-1 over the group giving plain training's
// weights. Timeouts and several ranks need more GPUs (docs/distributed.md).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cuda_test_util.h"
#include "toadstool/distributed/nccl/process_group_nccl.h"
#include "toadstool/toadstool.h"

namespace toadstool::testing {
namespace {

using distributed::ProcessGroup;
using distributed::ReduceOp;
using distributed::Work;

// A group of one rank over CPU tensors, standing in for MPI to carry NCCL's
// unique id: with one rank every collective's result is its input, so each
// completes at once (all_gather and reduce_scatter copy input to output).
class OneRankGroup final : public ProcessGroup {
 public:
  OneRankGroup() : ProcessGroup(0, 1, 0, std::chrono::seconds(60)) {}
  std::string backend() const override { return "one-rank"; }
  Device device() const override { return kCPU; }

 protected:
  void check_device(const char* collective, const Tensor& tensor) const override {
    TS_CHECK(tensor.device().is_cpu(), where(collective), ": CPU tensors only");
  }
  std::shared_ptr<Work> do_all_reduce(Tensor& /*tensor*/, ReduceOp /*op*/,
                                      bool /*synchronous*/) override {
    return done("all_reduce");
  }
  std::shared_ptr<Work> do_broadcast(Tensor& /*tensor*/, int /*root*/) override {
    return done("broadcast");
  }
  std::shared_ptr<Work> do_all_gather(Tensor& output, const Tensor& input) override {
    return copy(output, input, "all_gather");
  }
  std::shared_ptr<Work> do_reduce_scatter(Tensor& output, const Tensor& input,
                                          ReduceOp /*op*/) override {
    return copy(output, input, "reduce_scatter");
  }
  std::shared_ptr<Work> do_barrier() override { return done("barrier"); }

 private:
  static std::shared_ptr<Work> done(const char* what) {
    auto work = std::make_shared<Work>(what, Work::Clock::now());
    work->mark_completed();
    return work;
  }
  static std::shared_ptr<Work> copy(Tensor& output, const Tensor& input, const char* what) {
    if (!output.is_same(input)) output.view({-1}).copy_(input.reshape({-1}));
    return done(what);
  }
};

std::vector<double> values(const Tensor& t) {
  Tensor host = t.to(kCPU).to(kFloat64).contiguous();
  const double* p = host.data_ptr<double>();
  return {p, p + host.numel()};
}

class Nccl : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_GPU();
    distributed::ProcessGroupOptions options;
    options.timeout = std::chrono::seconds(60);
    // A failure fails the test rather than ending the binary.
    options.abort_on_timeout = false;
    group_ = distributed::ProcessGroupNccl::create(bootstrap_, options);
  }

  OneRankGroup bootstrap_;
  std::shared_ptr<ProcessGroup> group_;
};

TEST_F(Nccl, GroupOfOneOnTheFirstGpu) {
  EXPECT_EQ(group_->backend(), "nccl");
  EXPECT_EQ(group_->rank(), 0);
  EXPECT_EQ(group_->size(), 1);
  EXPECT_EQ(group_->device(), kCuda);
}

TEST_F(Nccl, AllReduceEveryDtype) {
  for (DType dtype : {kFloat32, kFloat64, kInt64, kBFloat16, kFloat16}) {
    SCOPED_TRACE(::testing::Message() << dtype);
    const Tensor expected = arange(-3, 9).to(dtype).view({3, 4});
    for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Average}) {
      if (op == ReduceOp::Average && dtype == kInt64) continue;
      Tensor t = expected.to(kCuda);
      group_->all_reduce(t, op)->wait();
      EXPECT_EQ(t.dtype(), dtype);
      EXPECT_EQ(t.shape(), (Shape{3, 4}));
      EXPECT_EQ(values(t), values(expected));
    }
  }
}

TEST_F(Nccl, BroadcastAnyDtype) {
  for (DType dtype : {kFloat32, kInt64, kBool, kBFloat16}) {
    SCOPED_TRACE(::testing::Message() << dtype);
    const Tensor expected = from_vector<int64_t>({0, 1, 1, 0, 1, 0, 0}).to(dtype);
    Tensor t = expected.to(kCuda);
    group_->broadcast(t, 0)->wait();
    EXPECT_EQ(values(t), values(expected));
  }
  Tensor empty_tensor = zeros({0}, kCuda);
  group_->broadcast(empty_tensor, 0)->wait();  // nothing to move, still a Work
}

// Out of place, NCCL moves the bytes: output (filled with -1) gets input.
TEST_F(Nccl, AllGatherOutOfPlaceAndInPlace) {
  const Tensor input = randn({2, 3}).to(kCuda);
  Tensor output = full({1, 2, 3}, -1.0, kCuda);
  group_->all_gather(output, input)->wait();
  EXPECT_EQ(values(output), values(input));

  Tensor flat = randn({6}).to(kCuda);
  const std::vector<double> before = values(flat);
  group_->all_gather(flat, flat.narrow(0, 0, 6))->wait();  // this rank's slice: in place
  EXPECT_EQ(values(flat), before);
}

TEST_F(Nccl, ReduceScatterOutOfPlace) {
  for (DType dtype : {kFloat32, kFloat64, kInt64}) {
    SCOPED_TRACE(::testing::Message() << dtype);
    const Tensor input = arange(0, 10).to(dtype).to(kCuda);
    Tensor output = full({10}, -1, TensorOptions(dtype).device(kCuda));
    group_->reduce_scatter(output, input, ReduceOp::Sum)->wait();
    EXPECT_EQ(values(output), values(input));
  }
}

// The collective runs after the kernels the caller queued on its current
// stream (a pool stream here, which does not order with the default one),
// and wait() orders the caller's later kernels after it: a large input
// computed just before, copied by the all_gather, read just after.
TEST_F(Nccl, OrderedWithTheCallersStream) {
  // 2048 on a GPU; the emulated device is slow enough with 128.
  constexpr int64_t kSide = TOADSTOOL_TEST_EMULATED_CUDA ? 128 : 2048;
  const Stream side = cuda_new_stream(kCuda);
  const StreamGuard guard(side);
  const Tensor a = randn({kSide, kSide}).to(kCuda);
  for (int round = 0; round < 3; ++round) {
    const Tensor input = a.matmul(a).mul_(1.0 / kSide);  // queued on `side`
    Tensor output = full({kSide, kSide}, 7.0, kCuda);
    auto work = group_->all_gather(output, input);
    work->wait();
    EXPECT_EQ((output - input).abs().amax().item<double>(), 0.0);
  }
}

// wait() does not block the host (PyTorch's semantics); the watchdog marks
// the Work completed once its end event has completed.
TEST_F(Nccl, WorkCompletesOnceTheStreamHasRunIt) {
  Tensor t = ones({1 << 20}, kCuda);
  auto work = group_->all_reduce(t, ReduceOp::Sum);
  work->wait();
  cuda_current_stream(kCuda).synchronize();  // so the collective has run too
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!work->is_completed() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(work->is_completed());
  work->wait();  // completed: returns at once
}

TEST_F(Nccl, BarrierBlocksTheHostUntilDone) {
  auto work = group_->barrier();
  work->wait();
  EXPECT_TRUE(work->is_completed());
}

TEST_F(Nccl, ErrorsNameTheCollectiveAndTheShapes) {
  Tensor cpu = zeros({3});
  EXPECT_ERROR(group_->all_reduce(cpu),
               std::vector<std::string>({"all_reduce (rank 0 of 1)", "CUDA tensors on its GPU",
                                         "cuda:0", "[3] float32", "on cpu"}));
  Tensor gpu = zeros({6}, kCuda);
  EXPECT_ERROR(group_->all_gather(gpu, cpu), "all_gather (rank 0 of 1)");
  Tensor mask = zeros({3}, TensorOptions(kBool).device(kCuda));
  EXPECT_ERROR(group_->all_reduce(mask),
               std::vector<std::string>({"the nccl process group reduces float32, float64, int64, "
                                         "bfloat16 or float16 tensors",
                                         "bool"}));
  Tensor ints = zeros({3}, TensorOptions(kInt64).device(kCuda));
  EXPECT_ERROR(group_->all_reduce(ints, ReduceOp::Average),
               "Average needs a float32, float64, bfloat16 or float16 tensor");
  // The group still works after refused calls (nothing was issued).
  group_->all_reduce(gpu)->wait();
}

std::shared_ptr<nn::MLP> make_mlp(uint64_t seed) {
  manual_seed(seed);
  auto model = std::make_shared<nn::MLP>(std::vector<int64_t>{5, 8, 8, 3}, "tanh");
  model->to(kFloat64);
  model->to(kCuda);
  return model;
}

Tensor mse(const Tensor& prediction, const Tensor& target) {
  const Tensor d = prediction - target;
  return (d * d).mean();
}

double max_param_diff(const nn::Module& a, const nn::Module& b) {
  const std::vector<Tensor> pa = a.parameters();
  const std::vector<Tensor> pb = b.parameters();
  double worst = 0;
  for (size_t i = 0; i < pa.size(); ++i) {
    worst = std::max(worst, (pa[i] - pb[i]).abs().amax().item<double>());
  }
  return worst;
}

// Ten AdamW steps of a float64 MLP on the GPU: DDP over the NCCL group
// (buckets small enough to make several) and ZeRO-1 over it give plain
// training's weights.
TEST_F(Nccl, DdpAndZeroMatchPlainTraining) {
  optim::AdamWOptions adamw;
  adamw.lr = 0.01;
  auto plain = make_mlp(7);
  optim::AdamW plain_opt(plain->parameters(), adamw);
  distributed::DistributedDataParallelOptions ddp_options;
  ddp_options.bucket_cap_mb = 200.0 / (1024 * 1024);  // 200 bytes: several buckets
  distributed::DistributedDataParallel ddp(make_mlp(7), group_, ddp_options);
  EXPECT_GT(ddp.bucket_parameter_names().size(), 1U);
  optim::AdamW ddp_opt(ddp.parameters(), adamw);
  auto zero_model = make_mlp(7);
  distributed::ZeroRedundancyOptimizer zero(
      zero_model->parameters(), group_, [&](std::vector<optim::ParamGroup> groups) {
        return std::make_unique<optim::AdamW>(std::move(groups), adamw);
      });
  for (int step = 0; step < 10; ++step) {
    manual_seed(1000 + step);
    const Tensor x = randn({12, 5}).to(kFloat64).to(kCuda);
    const Tensor y = randn({12, 3}).to(kFloat64).to(kCuda);
    mse((*plain)(x), y).backward();
    plain_opt.step();
    plain_opt.zero_grad();
    mse(ddp(x), y).backward();
    ddp_opt.step();
    ddp_opt.zero_grad();
    mse((*zero_model)(x), y).backward();
    zero.step();
    zero.zero_grad();
  }
  EXPECT_EQ(ddp.synchronized_backwards(), 10);
  EXPECT_LT(max_param_diff(*ddp.module, *plain), 1e-6);
  EXPECT_LT(max_param_diff(*zero_model, *plain), 1e-6);
}

// The helpers the trainer uses make their tensors on the group's device.
TEST_F(Nccl, HelpersWorkOnTheGroupsDevice) {
  EXPECT_DOUBLE_EQ(distributed::local_batch_weight(*group_, 5), 1.0);
  const Tensor rows = randn({3, 2});
  const Tensor gathered = distributed::all_gather_rows(*group_, rows.to(kCuda));
  EXPECT_EQ(gathered.device(), kCuda);
  EXPECT_EQ(values(gathered), values(rows));
}

}  // namespace
}  // namespace toadstool::testing
