// SamplerCallback: set_epoch on a DistributedSampler at every begin_epoch.
// Links once the data layer (DistributedSampler's implementation) is merged.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "test_util.h"
#include "toadstool/train/callbacks/sampler.h"
#include "trainer_fixtures.h"

namespace toadstool::testing {
namespace {

// The sampler's epoch and the first example of every training batch.
class SeenOrder : public train::CallbackBase<SeenOrder> {
 public:
  explicit SeenOrder(std::shared_ptr<train::DistributedSampler> sampler)
      : sampler_(std::move(sampler)) {}
  std::vector<int64_t> epochs;
  std::vector<std::vector<double>> first_rows;  // per epoch
  void begin_epoch(train::Trainer&) override { first_rows.emplace_back(); }
  void begin_batch(train::Trainer& t) override {
    if (t.stage != train::Stage::train) return;
    epochs.push_back(sampler_->epoch());
    first_rows.back().push_back(values(t.x.select(0, 0)).front());
  }

 private:
  std::shared_ptr<train::DistributedSampler> sampler_;
};

TEST(SamplerCallback, SetsTheEpochSoThatEachEpochHasItsOwnOrder) {
  TinySetup setup;
  auto sampler = std::make_shared<train::DistributedSampler>(32, /*num_replicas=*/2, /*rank=*/0,
                                                             /*shuffle=*/true, /*seed=*/5);
  train::DataLoaderOptions options;
  options.batch_size = 4;
  options.sampler = sampler;
  train::DataLoader loader(regression_data(32), options);
  auto seen = std::make_shared<SeenOrder>(sampler);
  auto callback = std::make_shared<train::SamplerCallback>(sampler);
  EXPECT_EQ(&callback->sampler(), sampler.get());
  setup.trainer({callback, seen}).fit(3, loader);
  // 16 indices for this rank: 4 batches an epoch.
  EXPECT_EQ(seen->epochs, (std::vector<int64_t>{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2}));
  ASSERT_EQ(seen->first_rows.size(), 3u);
  EXPECT_NE(seen->first_rows[0], seen->first_rows[1]);
  EXPECT_NE(seen->first_rows[1], seen->first_rows[2]);
  EXPECT_EQ(sampler->epoch(), 2);
}

TEST(SamplerCallback, ANullSamplerIsAnError) {
  EXPECT_ERROR(train::SamplerCallback(nullptr), "SamplerCallback: the sampler is null");
}

}  // namespace
}  // namespace toadstool::testing
