// TimerCallback and MemoryTrackerCallback: what they record per epoch and
// what they print.
#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <string>
#include <thread>

#include "trainer_fixtures.h"

namespace toadstool::testing {
namespace {

// Makes every training batch take at least 2 ms, and validation 5 ms.
class Sleeper : public train::CallbackBase<Sleeper> {
 public:
  void after_loss(train::Trainer& t) override {
    if (t.stage == train::Stage::train) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  void after_validate(train::Trainer& /*t*/) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
};

TEST(TimerCallback, TimesEachEpochsPassesAndBatches) {
  TinySetup setup;
  std::ostringstream out;
  auto timer = std::make_shared<train::TimerCallback>(&out);
  auto trainer = setup.trainer({std::make_shared<Sleeper>(), timer});
  auto train_loader = loader_of(regression_data(24), 8);  // 3 batches
  auto valid_loader = loader_of(regression_data(8, 3, 9), 8);
  trainer.fit(2, *train_loader, valid_loader.get());
  ASSERT_EQ(timer->epochs().size(), 2u);
  for (size_t e = 0; e < 2; ++e) {
    const train::EpochTimes& t = timer->epochs()[e];
    EXPECT_EQ(t.epoch, static_cast<int64_t>(e));
    EXPECT_EQ(t.batches, 3);
    EXPECT_GE(t.batch_mean_s, 0.002);
    EXPECT_GE(t.batch_max_s, t.batch_mean_s);
    EXPECT_GE(t.train_s, 3 * 0.002);
    EXPECT_GE(t.valid_s, 0.005);
    EXPECT_GE(t.epoch_s + 1e-9, t.train_s + t.valid_s);  // nested intervals
  }
  EXPECT_GE(timer->fit_seconds(), timer->epochs()[0].epoch_s + timer->epochs()[1].epoch_s);
  const std::string printed = out.str();
  EXPECT_NE(printed.find("timer: epoch 1  train "), std::string::npos) << printed;
  EXPECT_NE(printed.find("(3 batches, mean "), std::string::npos) << printed;
  EXPECT_NE(printed.find("timer: epoch 2"), std::string::npos) << printed;
  EXPECT_NE(printed.find("timer: fit "), std::string::npos) << printed;
  EXPECT_NE(printed.find(", 2 epochs"), std::string::npos) << printed;
}

TEST(TimerCallback, WithoutValidationTheTrainPassIsTheEpoch) {
  TinySetup setup;
  auto timer = std::make_shared<train::TimerCallback>(nullptr, /*verbose=*/false);
  auto trainer = setup.trainer({timer});
  auto train_loader = loader_of(regression_data(16), 8);
  trainer.fit(1, *train_loader);
  ASSERT_EQ(timer->epochs().size(), 1u);
  EXPECT_EQ(timer->epochs()[0].valid_s, 0);
  EXPECT_EQ(timer->epochs()[0].train_s, timer->epochs()[0].epoch_s);
}

// Holds a 4 MB tensor for the second training batch of each epoch only.
class Allocates : public train::CallbackBase<Allocates> {
 public:
  static constexpr int64_t kBytes = 4 << 20;
  void after_batch(train::Trainer& t) override {
    if (t.stage == train::Stage::train && t.batch == 1) {
      const Tensor held = zeros({kBytes / 4});
      (void)held;
    }
  }
};

TEST(MemoryTrackerCallback, RecordsEachEpochsPeakOnTheModelsDevice) {
  TinySetup setup;
  std::ostringstream out;
  auto memory = std::make_shared<train::MemoryTrackerCallback>(&out);
  auto trainer = setup.trainer({std::make_shared<Allocates>(), memory});
  auto train_loader = loader_of(regression_data(24), 8);
  trainer.fit(2, *train_loader);
  EXPECT_EQ(memory->device(), kCPU);
  ASSERT_EQ(memory->epochs().size(), 2u);
  for (const train::EpochMemory& m : memory->epochs()) {
    // The 4 MB on top of what the batch held (a few small tensors may
    // differ between that moment and the epoch's end).
    EXPECT_GE(m.peak_bytes - m.current_bytes, Allocates::kBytes - (64 << 10));
    EXPECT_GT(m.current_bytes, 0);  // the model's weights at least
  }
  EXPECT_EQ(memory->epochs()[1].epoch, 1);
  const std::string printed = out.str();
  EXPECT_NE(printed.find("memory: epoch 1  current "), std::string::npos) << printed;
  EXPECT_NE(printed.find("memory: epoch 2"), std::string::npos) << printed;
  EXPECT_NE(printed.find(" MB  (cpu)"), std::string::npos) << printed;
}

}  // namespace
}  // namespace toadstool::testing
