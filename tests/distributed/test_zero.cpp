// ZeroRedundancyOptimizer (ZeRO stage 1) under mpirun (2 and 3 ranks): the
// MLP's 147 parameters are split into shards that cut through parameters;
// ten AdamW steps must match one process on the whole batch, each rank must
// hold only its shard's optimizer state, and the state dict must be the one
// process's.
#include <string>
#include <vector>

#include "ddp_test_util.h"

namespace toadstool::testing {
namespace {

using distributed::ZeroRedundancyOptimizer;

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

// `steps` AdamW steps of `model` with `opt`, from global step `first`, on
// this rank's share of each global batch.
void run_steps(int first, int steps, optim::Optimizer& opt, nn::MLP& model,
               const distributed::ProcessGroup* pg) {
  for (int s = first; s < first + steps; ++s) {
    const Batch whole = global_batch(s, kBatch);
    const Batch b = pg != nullptr ? local_share(whole, *pg) : whole;
    mse(model(b.x), b.y).backward();
    opt.step();
    opt.zero_grad();
  }
}

// The state dict is the plain optimizer's, gathered from every rank: equal
// to one process's AdamW after the same steps, and it resumes in ZeRO with
// this world size or in the plain optimizer (any world size).
TEST(ZeroRedundancyOptimizer, StateDictIsTheOneProcessOptimizersAndResumesAnywhere) {
  ProcessGroupRef pg = world_ptr();
  auto straight = make_mlp(7);
  ZeroRedundancyOptimizer straight_opt(straight->parameters(), pg, adamw_factory());
  run_steps(0, 4, straight_opt, *straight, pg.get());

  auto first = make_mlp(7);
  ZeroRedundancyOptimizer first_opt(first->parameters(), pg, adamw_factory());
  run_steps(0, 2, first_opt, *first, pg.get());
  const TensorDict saved = first_opt.state_dict();
  auto one = make_mlp(7);
  optim::AdamW one_opt(one->parameters(), adamw_options());
  run_steps(0, 2, one_opt, *one, nullptr);
  const TensorDict expected = one_opt.state_dict();
  ASSERT_EQ(saved.size(), expected.size());
  for (const auto& [name, tensor] : expected) {
    ASSERT_NE(saved.find(name), nullptr) << name;
    EXPECT_EQ(saved.at(name).shape(), tensor.shape()) << name;
    EXPECT_LT(max_abs_diff(saved.at(name).to(kFloat64), tensor.to(kFloat64)), 1e-9) << name;
  }

  auto resumed = make_mlp(7);
  resumed->load_state_dict(first->state_dict());
  ZeroRedundancyOptimizer resumed_opt(resumed->parameters(), pg, adamw_factory());
  resumed_opt.load_state_dict(saved);
  run_steps(2, 2, resumed_opt, *resumed, pg.get());
  EXPECT_LT(max_param_diff(*resumed, *straight), 1e-15);

  // In one process, with the plain optimizer.
  auto plain = make_mlp(7);
  plain->load_state_dict(first->state_dict());
  optim::AdamW plain_opt(plain->parameters(), adamw_options());
  plain_opt.load_state_dict(saved);
  run_steps(2, 2, plain_opt, *plain, nullptr);
  EXPECT_LT(max_param_diff(*plain, *straight), 1e-6);

  // And the other way: the plain optimizer's state into ZeRO.
  auto from_plain = make_mlp(7);
  from_plain->load_state_dict(one->state_dict());
  ZeroRedundancyOptimizer from_plain_opt(from_plain->parameters(), pg, adamw_factory());
  from_plain_opt.load_state_dict(expected);
  run_steps(2, 2, from_plain_opt, *from_plain, pg.get());
  EXPECT_LT(max_param_diff(*from_plain, *straight), 1e-6);
}

// A dict for other parameters is refused as the plain optimizer refuses it,
// and nothing changes.
TEST(ZeroRedundancyOptimizer, LoadStateDictChecksAsThePlainOptimizerDoes) {
  ProcessGroupRef pg = world_ptr();
  auto model = make_mlp(7);
  ZeroRedundancyOptimizer opt(model->parameters(), pg, adamw_factory());
  auto other = make_mlp(7, {5, 4, 3});
  optim::AdamW other_opt(other->parameters(), adamw_options());
  run_steps(0, 1, other_opt, *other, nullptr);
  EXPECT_ERROR(opt.load_state_dict(other_opt.state_dict()),
               "AdamW.load_state_dict: group 0 has 4 parameters in the state dict, 6 in the "
               "optimizer");
  EXPECT_EQ(opt.local_state_bytes(), 0);
}

// A schedule sets the learning rate in param_groups(); the local optimizer
// steps with it.
TEST(ZeroRedundancyOptimizer, StepsWithTheHyperParametersOfItsGroups) {
  ProcessGroupRef pg = world_ptr();
  auto model = make_mlp(7);
  ZeroRedundancyOptimizer opt(model->parameters(), pg, adamw_factory());
  EXPECT_EQ(opt.param_groups()[0].lr(), adamw_options().lr);
  EXPECT_EQ(opt.param_groups()[0].get("weight_decay"), 0.01);
  opt.param_groups()[0].set_lr(0.0);
  auto before = make_mlp(7);
  run_steps(0, 1, opt, *model, pg.get());
  EXPECT_EQ(max_param_diff(*model, *before), 0.0);
}

// GradScaler's found-inf flag set on one rank only: no rank steps, and the
// flag is the ranks' sum on every rank (so each scaler backs off alike).
TEST(ZeroRedundancyOptimizer, AGatedStepSkippedOnOneRankIsSkippedOnEvery) {
  ProcessGroupRef pg = world_ptr();
  auto model = make_mlp(7);
  ZeroRedundancyOptimizer opt(model->parameters(), pg, adamw_factory());
  auto before = make_mlp(7);
  const Batch b = local_share(global_batch(0, kBatch), *pg);
  mse((*model)(b.x), b.y).backward();
  Tensor found_inf = full({}, pg->rank() == pg->size() - 1 ? 1.0 : 0.0, kFloat32);
  opt.step(found_inf);
  EXPECT_EQ(max_param_diff(*model, *before), 0.0);
  EXPECT_EQ(found_inf.item<float>(), 1.0F);
  // The next, ungated step counts as the first (Adam's bias correction).
  opt.step();
  EXPECT_EQ(opt.state_dict().at("state.0.step").item<float>(), 1.0F);
}

// Clipping clips the mean gradient (each rank's own differs): the same
// norms and weights as one process clipping its whole-batch gradient, by
// norm (2 and inf) and by value.
TEST(ZeroRedundancyOptimizer, ClipsTheMeanGradientAsOneProcess) {
  ProcessGroupRef pg = world_ptr();
  auto model = make_mlp(7);
  ZeroRedundancyOptimizer opt(model->parameters(), pg, adamw_factory());
  auto one = make_mlp(7);
  optim::AdamW one_opt(one->parameters(), adamw_options());
  for (int s = 0; s < 3; ++s) {
    const Batch b = global_batch(s, kBatch);
    const Batch mine = local_share(b, *pg);
    mse((*model)(mine.x), mine.y).backward();
    mse((*one)(b.x), b.y).backward();
    if (s == 2) {
      opt.clip_grad_value_(0.01);
      nn::clip_grad_value_(one->parameters(), 0.01);
    } else {
      const double norm_type = s == 0 ? 2.0 : nn::kInfNorm;
      const double total = opt.clip_grad_norm_(0.05, norm_type);
      EXPECT_NEAR(total, nn::clip_grad_norm_(one->parameters(), 0.05, norm_type), 1e-12);
      EXPECT_GT(total, 0.05);  // it clipped
    }
    opt.step();
    opt.zero_grad();
    one_opt.step();
    one_opt.zero_grad();
  }
  EXPECT_LT(max_param_diff(*model, *one), 1e-6);
}

// zero_grad forgets a clipped reduction that no step used: the next step
// reduces the new gradients.
TEST(ZeroRedundancyOptimizer, ZeroGradForgetsAnUnusedClippedReduction) {
  ProcessGroupRef pg = world_ptr();
  auto model = make_mlp(7);
  ZeroRedundancyOptimizer opt(model->parameters(), pg, adamw_factory());
  const Batch b = local_share(global_batch(0, kBatch), *pg);
  mse((*model)(b.x), b.y).backward();
  opt.clip_grad_norm_(0.0);  // every gradient scaled to 0
  opt.zero_grad();
  run_steps(0, 1, opt, *model, pg.get());
  EXPECT_LT(max_param_diff(*model, *reference_run(7, 1, kBatch)), 1e-6);
}

TEST(ZeroRedundancyOptimizer, TakesNoGroupsAfterConstruction) {
  auto model = make_mlp(7);
  ZeroRedundancyOptimizer opt(model->parameters(), world_ptr(), adamw_factory());
  EXPECT_ERROR(opt.add_param_group(optim::ParamGroup({zeros({2}, kFloat64).requires_grad_()})),
               "ZeroRedundancyOptimizer: add_param_group after construction is not supported");
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
