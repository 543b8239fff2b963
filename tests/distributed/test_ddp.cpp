// DistributedDataParallel under mpirun (2 and 3 ranks): every rank trains
// on its share of each global batch and must end where one process trained
// on the whole batch ends; buckets, no_sync, unused parameters, uneven
// batches, the overlap of all_reduce with backward, and mismatched models.
#include <string>
#include <vector>

#include "ddp_test_util.h"

namespace toadstool::testing {
namespace {

using distributed::DistributedDataParallel;
using distributed::DistributedDataParallelOptions;

// Ten AdamW steps of DDP on this rank's share. Ranks other than 0 start
// from a different initialisation: the constructor's broadcast must replace
// it with rank 0's.
double ddp_vs_reference(const DistributedDataParallelOptions& options) {
  ProcessGroupRef pg = world_ptr();
  auto local = make_mlp(/*seed=*/pg->rank() == 0 ? 7 : 100 + pg->rank());
  DistributedDataParallel ddp(local, pg, options);
  optim::AdamW opt(ddp.parameters(), adamw_options());
  // AdamW hardly sees a gradient's scale (a sum instead of a mean would
  // pass the end check), so the first step's gradients are checked too.
  auto first = make_mlp(7);
  const Batch whole = global_batch(0, kBatch);
  mse((*first)(whole.x), whole.y).backward();
  double worst = 0;
  for (int s = 0; s < kSteps; ++s) {
    const Batch b = local_share(global_batch(s, kBatch), *pg);
    mse(ddp(b.x), b.y).backward();
    if (s == 0) worst = max_grad_diff(*local, *first);
    opt.step();
    opt.zero_grad();
  }
  return std::max(worst, max_param_diff(*local, *reference_run(7, kSteps, kBatch)));
}

TEST(DistributedDataParallel, MatchesOneProcessOnTheWholeBatchAfterTenAdamWSteps) {
  EXPECT_LT(ddp_vs_reference({}), 1e-6);
}

// A 200-byte cap splits the MLP's six float64 parameters (bytes, reverse
// order: layers.4.bias 24, layers.4.weight 192, layers.2.bias 64,
// layers.2.weight 512, layers.0.bias 64, layers.0.weight 320) into six
// buckets; layers.2.weight and layers.0.weight are larger than the cap.
TEST(DistributedDataParallel, SmallBucketsSplitTheParametersAndStillMatch) {
  DistributedDataParallelOptions options;
  options.bucket_cap_mb = 200.0 / (1024 * 1024);
  {
    DistributedDataParallel ddp(make_mlp(7), world_ptr(), options);
    const std::vector<std::vector<std::string>> expected = {{"layers.4.bias"}, {"layers.4.weight"},
                                                            {"layers.2.bias"}, {"layers.2.weight"},
                                                            {"layers.0.bias"}, {"layers.0.weight"}};
    EXPECT_EQ(ddp.bucket_parameter_names(), expected);
    // 600 bytes: 24 + 192 + 64 = 280, then 512 + 64 = 576, then 320.
    options.bucket_cap_mb = 600.0 / (1024 * 1024);
    DistributedDataParallel wider(make_mlp(7), world_ptr(), options);
    const std::vector<std::vector<std::string>> wider_expected = {
        {"layers.4.bias", "layers.4.weight", "layers.2.bias"},
        {"layers.2.weight", "layers.0.bias"},
        {"layers.0.weight"}};
    EXPECT_EQ(wider.bucket_parameter_names(), wider_expected);
    options.bucket_cap_mb = 200.0 / (1024 * 1024);
  }
  EXPECT_LT(ddp_vs_reference(options), 1e-6);
}

// The overlap: with six buckets, each all_reduce is issued from the hook of
// its last gradient, during the backward; the first one before the
// backward's end, which is when the wait happens.
TEST(DistributedDataParallel, IssuesBucketsDuringTheBackward) {
  DistributedDataParallelOptions options;
  options.bucket_cap_mb = 200.0 / (1024 * 1024);
  DistributedDataParallel ddp(make_mlp(7), world_ptr(), options);
  const Batch b = local_share(global_batch(0, kBatch), ddp.process_group());
  mse(ddp(b.x), b.y).backward();
  const distributed::SyncStats& stats = ddp.last_sync_stats();
  EXPECT_EQ(stats.buckets, 6);
  EXPECT_EQ(stats.buckets_issued_in_backward, 6);
  EXPECT_LE(stats.first_issue_s, stats.backward_end_s);
  EXPECT_LE(stats.backward_end_s, stats.synced_s);
  EXPECT_EQ(stats.unused_parameters, 0);
  // With overlap off, nothing starts before the end of the backward.
  options.overlap = false;
  DistributedDataParallel late(make_mlp(7), world_ptr(), options);
  mse(late(b.x), b.y).backward();
  EXPECT_EQ(late.last_sync_stats().buckets_issued_in_backward, 0);
  EXPECT_LT(max_param_diff(*ddp.module, *late.module), 1e-15);  // same weights,
  for (size_t i = 0; i < ddp.parameters().size(); ++i) {        // same gradients
    EXPECT_LT(max_abs_diff(ddp.parameters()[i].grad(), late.parameters()[i].grad()), 1e-15);
  }
}

// Gradient accumulation: two micro-batches per step, the first under
// no_sync (no communication: the gradient stays this rank's own), the
// second synchronized; equals one process on the two micro-batches' summed
// mean losses.
TEST(DistributedDataParallel, NoSyncAccumulationEqualsTheBigBatch) {
  ProcessGroupRef pg = world_ptr();
  auto local = make_mlp(7);
  DistributedDataParallel ddp(local, pg);
  optim::AdamW opt(ddp.parameters(), adamw_options());
  auto reference = make_mlp(7);
  optim::AdamW ref_opt(reference->parameters(), adamw_options());
  const int64_t micro = kBatch / 2;  // global rows per micro-batch
  for (int s = 0; s < 3; ++s) {
    const Batch b = global_batch(s, kBatch);
    {
      auto no_sync = ddp.no_sync();
      const Batch m = local_share(rows(b, 0, micro), *pg);
      mse(ddp(m.x), m.y).backward();
    }
    // Not communicated: exactly this rank's own gradient of its share.
    auto alone = make_mlp(7);
    alone->load_state_dict(local->state_dict());
    const Batch m0 = local_share(rows(b, 0, micro), *pg);
    mse((*alone)(m0.x), m0.y).backward();
    EXPECT_LT(max_abs_diff(alone->parameters()[0].grad(), local->parameters()[0].grad()), 1e-15);
    const Batch m1 = local_share(rows(b, micro, micro), *pg);
    mse(ddp(m1.x), m1.y).backward();
    opt.step();
    opt.zero_grad();
    for (int k = 0; k < 2; ++k) {
      const Batch r = rows(b, k * micro, micro);
      mse((*reference)(r.x), r.y).backward();
    }
    ref_opt.step();
    ref_opt.zero_grad();
  }
  EXPECT_LT(max_param_diff(*local, *reference), 1e-6);
}

// Ranks with different local batch sizes (rank r has r + 1 rows): DDP
// averages the ranks' gradients with equal weights, as PyTorch; scaling each
// rank's mean loss by local_batch_weight gives the global mean's gradient.
TEST(DistributedDataParallel, UnevenLastBatch) {
  ProcessGroupRef pg = world_ptr();
  const int n = pg->size();
  const int64_t total = static_cast<int64_t>(n) * (n + 1) / 2;
  const Batch b = global_batch(0, total);
  const int64_t begin = static_cast<int64_t>(pg->rank()) * (pg->rank() + 1) / 2;
  const int64_t count = pg->rank() + 1;
  const Batch mine = rows(b, begin, count);
  auto grads_of = [](nn::Module& m) {
    std::vector<Tensor> g;
    for (const Tensor& p : m.parameters()) g.push_back(p.grad().clone());
    return g;
  };
  // Equal weights: the mean over ranks of each rank's mean-loss gradient.
  DistributedDataParallel plain(make_mlp(7), pg);
  mse(plain(mine.x), mine.y).backward();
  auto per_rank_mean = make_mlp(7);
  for (int r = 0; r < n; ++r) {
    const Batch share = rows(b, static_cast<int64_t>(r) * (r + 1) / 2, r + 1);
    (mse((*per_rank_mean)(share.x), share.y) / n).backward();
  }
  // Weighted: the gradient of the mean over all rows.
  DistributedDataParallel weighted(make_mlp(7), pg);
  const double w = distributed::local_batch_weight(*pg, count);
  EXPECT_DOUBLE_EQ(w, static_cast<double>(n) * count / total);
  (mse(weighted(mine.x), mine.y) * w).backward();
  auto global_mean = make_mlp(7);
  mse((*global_mean)(b.x), b.y).backward();
  const auto g_plain = grads_of(plain);
  const auto g_weighted = grads_of(weighted);
  const auto g_per_rank = grads_of(*per_rank_mean);
  const auto g_global = grads_of(*global_mean);
  for (size_t i = 0; i < g_plain.size(); ++i) {
    EXPECT_LT(max_abs_diff(g_plain[i], g_per_rank[i]), 1e-12);
    EXPECT_LT(max_abs_diff(g_weighted[i], g_global[i]), 1e-12);
  }
  // With 3 rows over 2 ranks the two differ: the test tells them apart.
  EXPECT_GT(max_abs_diff(g_plain[0], g_global[0]), 1e-6);
}

// a: used everywhere; b: used on rank 0 only; never: used nowhere.
class PartlyUsed : public nn::UnaryModule {
 public:
  explicit PartlyUsed(bool extra = false) : UnaryModule("PartlyUsed") {
    a = register_parameter("a", from_vector<double>({1, 2}));
    b = register_parameter("b", from_vector<double>({3, 4}));
    never = register_parameter("never", from_vector<double>({6}));
    if (extra) register_parameter("extra", from_vector<double>({5}));
  }
  Tensor forward(const Tensor& x) override { return use_b ? x * a + x * b : x * a; }
  Tensor a, b, never;
  bool use_b = true;
};

// Parameters without a gradient on some rank do not hang the backward: the
// end of the backward reduces their buckets with zeros from those ranks; a
// parameter no rank used keeps no gradient.
TEST(DistributedDataParallel, UnusedParametersDoNotHang) {
  ProcessGroupRef pg = world_ptr();
  auto model = std::make_shared<PartlyUsed>();
  model->use_b = pg->rank() == 0;
  DistributedDataParallel ddp(model, pg);
  const double r = pg->rank() + 1;
  const int n = pg->size();
  for (int step = 0; step < 2; ++step) {  // twice: the state resets between backwards
    ddp(full({2}, r, kFloat64)).sum().backward();
    expect_values(model->a.grad(), {(n + 1) / 2.0, (n + 1) / 2.0}, {2});  // mean of r + 1
    expect_values(model->b.grad(), {1.0 / n, 1.0 / n}, {2});              // rank 0's 1, over n
    EXPECT_FALSE(model->never.grad().defined());
    EXPECT_EQ(ddp.last_sync_stats().unused_parameters, pg->rank() == 0 ? 1 : 2);
    ddp.zero_grad();
  }
}

TEST(DistributedDataParallel, MismatchedModelsGiveAnErrorOnEveryRank) {
  ProcessGroupRef pg = world_ptr();
  const int last = pg->size() - 1;
  const std::string last_s = std::to_string(last);
  // A shape: the last rank's first layer has 7 outputs.
  EXPECT_ERROR(
      DistributedDataParallel(
          make_mlp(7, pg->rank() == last ? std::vector<int64_t>{5, 7, 8, 3} : kMlpSizes), pg),
      (std::vector<std::string>{"DistributedDataParallel: the ranks' models differ (seen on rank " +
                                    std::to_string(pg->rank()) + ")",
                                "parameter #0 is 'layers.0.weight' [8, 5] float64 on rank 0 but "
                                "'layers.0.weight' [7, 5] float64 on rank " +
                                    last_s}));
  // A count: the last rank has one parameter more.
  EXPECT_ERROR(DistributedDataParallel(std::make_shared<PartlyUsed>(pg->rank() == last), pg),
               (std::vector<std::string>{"rank 0 has 3 parameters but rank " + last_s +
                                         " has 4; the first extra is 'extra' [1] float64"}));
  // A frozen parameter on one rank only (its buckets would not pair up).
  auto frozen = make_mlp(7);
  if (pg->rank() == last) frozen->parameters()[1].requires_grad_(false);
  EXPECT_ERROR(
      DistributedDataParallel(frozen, pg),
      (std::vector<std::string>{"parameter #1 is 'layers.0.bias' [8] float64 on rank 0 but "
                                "'layers.0.bias' [8] float64 (frozen) on rank " +
                                last_s}));
  // Still in step: a matching model wraps fine afterwards.
  EXPECT_NO_THROW(DistributedDataParallel(make_mlp(7), pg));
}

TEST(DistributedDataParallel, RejectsABadBucketCap) {
  DistributedDataParallelOptions options;
  options.bucket_cap_mb = 0;
  EXPECT_ERROR(DistributedDataParallel(make_mlp(7), world_ptr(), options),
               "DistributedDataParallel: bucket_cap_mb must be > 0, got 0");
}

}  // namespace
}  // namespace toadstool::testing
