// ZeroRedundancyOptimizer (ZeRO stage 1) under mpirun (2 and 3 ranks): the
// MLP's 147 parameters are split into shards that cut through parameters;
// ten AdamW steps must match one process on the whole batch, and each rank
// must hold only its shard's optimizer state.
#include <string>
#include <vector>

#include "ddp_test_util.h"

namespace toadstool::testing {
namespace {

using distributed::ZeroRedundancyOptimizer;

constexpr int kSteps = 10;
constexpr int64_t kBatch = 12;

distributed::OptimizerFactory adamw_factory() {
  return [](std::vector<optim::ParamGroup> groups) {
    return std::make_unique<optim::AdamW>(std::move(groups), adamw_options());
  };
}

TEST(ZeroRedundancyOptimizer, MatchesOneProcessAdamWAfterTenSteps) {
  ProcessGroupRef pg = world_ptr();
  // Ranks other than 0 start elsewhere: the constructor takes rank 0's values.
  auto model = make_mlp(pg->rank() == 0 ? 7 : 50 + pg->rank());
  ZeroRedundancyOptimizer opt(model->parameters(), pg, adamw_factory());
  for (int s = 0; s < kSteps; ++s) {
    const Batch b = local_share(global_batch(s, kBatch), *pg);
    mse((*model)(b.x), b.y).backward();
    opt.step();
    opt.zero_grad();
  }
  EXPECT_LT(max_param_diff(*model, *reference_run(7, kSteps, kBatch)), 1e-6);
}

// SGD sees the gradient's scale (AdamW hardly does): the reduce-scatter
// must average, not sum. Plain SGD keeps no state, so every rank's
// optimizer is empty: still the same weights as one process.
TEST(ZeroRedundancyOptimizer, MatchesOneProcessSgd) {
  ProcessGroupRef pg = world_ptr();
  auto sgd = [](std::vector<optim::ParamGroup> groups) {
    return std::make_unique<optim::SGD>(std::move(groups), optim::SGDOptions{0.1});
  };
  auto model = make_mlp(7);
  ZeroRedundancyOptimizer opt(model->parameters(), pg, sgd);
  auto reference = make_mlp(7);
  optim::SGD ref_opt(reference->parameters(), optim::SGDOptions{0.1});
  for (int s = 0; s < 3; ++s) {
    const Batch b = global_batch(s, kBatch);
    const Batch mine = local_share(b, *pg);
    mse((*model)(mine.x), mine.y).backward();
    opt.step();
    opt.zero_grad();
    mse((*reference)(b.x), b.y).backward();
    ref_opt.step();
    ref_opt.zero_grad();
  }
  EXPECT_LT(max_param_diff(*model, *reference), 1e-12);
}

// AdamW keeps exp_avg and exp_avg_sq: 2 x 8 bytes per float64 element. A
// rank holds them for its shard's real elements only (the last shard is
// short by the padding), so the ranks' bytes add up to one optimizer's.
TEST(ZeroRedundancyOptimizer, EachRankHoldsItsShardOfTheState) {
  ProcessGroupRef pg = world_ptr();
  auto model = make_mlp(7);
  ZeroRedundancyOptimizer opt(model->parameters(), pg, adamw_factory());
  const int64_t total = model->num_parameters();
  EXPECT_EQ(opt.total_elements(), total);
  EXPECT_EQ(opt.shard_size(), (total + pg->size() - 1) / pg->size());
  EXPECT_EQ(opt.local_state_bytes(), 0);  // nothing before the first step
  const Batch b = local_share(global_batch(0, kBatch), *pg);
  mse((*model)(b.x), b.y).backward();
  opt.step();
  const int64_t real = std::min(opt.shard_size(), total - opt.shard_begin());
  EXPECT_EQ(opt.local_state_bytes(), 2 * 8 * real);
  Tensor sum = full({1}, opt.local_state_bytes(), kInt64);
  pg->all_reduce(sum)->wait();
  EXPECT_EQ(sum.item<int64_t>(), 2 * 8 * total);
}

// A parameter without a gradient on any rank is not stepped (weight decay
// included), as the plain optimizer skips it; one with a gradient on some
// rank only is stepped with the mean.
TEST(ZeroRedundancyOptimizer, SkipsParametersNoRankHasAGradientFor) {
  ProcessGroupRef pg = world_ptr();
  auto model = make_mlp(7);
  ZeroRedundancyOptimizer opt(model->parameters(), pg, adamw_factory());
  const Tensor last_bias = model->parameters().back();
  const Tensor before = last_bias.clone();
  const Batch b = local_share(global_batch(0, kBatch), *pg);
  mse((*model)(b.x), b.y).backward();
  last_bias.zero_grad();  // no rank has one
  opt.step();
  EXPECT_EQ(max_abs_diff(last_bias, before), 0.0);
  EXPECT_GT(max_abs_diff(model->parameters()[0], make_mlp(7)->parameters()[0]), 1e-4);
}

TEST(ZeroRedundancyOptimizer, StateDictIsPerRankAndResumes) {
  ProcessGroupRef pg = world_ptr();
  auto run = [&](int first, int last, ZeroRedundancyOptimizer& opt, nn::Module& model) {
    for (int s = first; s < last; ++s) {
      const Batch b = local_share(global_batch(s, kBatch), *pg);
      mse(dynamic_cast<nn::UnaryModule&>(model)(b.x), b.y).backward();
      opt.step();
      opt.zero_grad();
    }
  };
  auto straight = make_mlp(7);
  ZeroRedundancyOptimizer straight_opt(straight->parameters(), pg, adamw_factory());
  run(0, 4, straight_opt, *straight);
  // Stop after two steps, save, resume into a fresh model and optimizer.
  auto first = make_mlp(7);
  ZeroRedundancyOptimizer first_opt(first->parameters(), pg, adamw_factory());
  run(0, 2, first_opt, *first);
  const TensorDict saved = first_opt.state_dict();
  EXPECT_EQ(saved.at("zero.rank").item<int64_t>(), pg->rank());
  EXPECT_EQ(saved.at("zero.world_size").item<int64_t>(), pg->size());
  auto resumed = make_mlp(7);
  resumed->load_state_dict(first->state_dict());
  ZeroRedundancyOptimizer resumed_opt(resumed->parameters(), pg, adamw_factory());
  resumed_opt.load_state_dict(saved);
  run(2, 4, resumed_opt, *resumed);
  EXPECT_LT(max_param_diff(*resumed, *straight), 1e-15);
  // Another rank's state is refused.
  TensorDict wrong;
  for (const auto& [name, t] : saved) wrong.insert(name, t);
  wrong.set("zero.rank", full({}, (pg->rank() + 1) % pg->size(), kInt64));
  EXPECT_ERROR(resumed_opt.load_state_dict(wrong),
               (std::vector<std::string>{"ZeroRedundancyOptimizer: load_state_dict (rank " +
                                         std::to_string(pg->rank()) +
                                         "): the state was saved with zero.rank = "}));
}

TEST(ZeroRedundancyOptimizer, RejectsMixedDtypes) {
  Tensor a = zeros({3}, kFloat64).requires_grad_();
  Tensor b = zeros({3}, kFloat32).requires_grad_();
  EXPECT_ERROR(ZeroRedundancyOptimizer({a, b}, world_ptr(), adamw_factory()),
               "ZeroRedundancyOptimizer: every parameter must have one dtype, float32 or "
               "float64; parameter 0 is float64, parameter 1 is");
}

}  // namespace
}  // namespace toadstool::testing
