// The kernel profile (tensor/kernel_profile.h), the trainer's stage timer
// and ProfileCallback: what they count, and the table it prints.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <sstream>
#include <string>
#include <thread>

#include "toadstool/tensor/attention.h"
#include "toadstool/tensor/kernel_profile.h"
#include "toadstool/train/callbacks/profile.h"
#include "trainer_fixtures.h"

namespace toadstool::testing {
namespace {

const KernelProfileEntry* find_kernel(const std::vector<KernelProfileEntry>& profile,
                                      const std::string& name) {
  for (const auto& entry : profile) {
    if (entry.kernel == name) return &entry;
  }
  return nullptr;
}

// Records what `work` runs, from a clean profile.
template <class Work>
std::vector<KernelProfileEntry> profile_of(const Work& work) {
  reset_kernel_profile();
  start_kernel_profile();
  work();
  stop_kernel_profile();
  std::vector<KernelProfileEntry> profile = kernel_profile();
  reset_kernel_profile();
  return profile;
}

TEST(KernelProfile, CountsGemmCallsAndFlops) {
  const Tensor a = randn({2, 8, 16}), b = randn({2, 16, 4});
  const auto profile = profile_of([&] { (void)matmul(a, b); });
  const KernelProfileEntry* gemm = find_kernel(profile, "gemm");
  ASSERT_NE(gemm, nullptr);
  EXPECT_EQ(gemm->calls, 1);
  EXPECT_DOUBLE_EQ(gemm->flops, 2.0 * 2 * 8 * 16 * 4);  // batch x 2MNK
  EXPECT_GT(gemm->seconds, 0);
}

TEST(KernelProfile, RecordsNothingWhenStopped) {
  reset_kernel_profile();
  EXPECT_FALSE(kernel_profile_recording());
  (void)matmul(randn({4, 4}), randn({4, 4}));
  EXPECT_TRUE(kernel_profile().empty());
}

TEST(KernelProfile, OtherKernelsAreTimedWithoutFlops) {
  const Tensor x = randn({64});
  const auto profile = profile_of([&] { (void)(x * 2.0 + 1.0).sum(); });
  const KernelProfileEntry* elementwise = find_kernel(profile, "elementwise");
  ASSERT_NE(elementwise, nullptr);
  EXPECT_GE(elementwise->calls, 1);
  EXPECT_EQ(elementwise->flops, 0);
  const KernelProfileEntry* reduce = find_kernel(profile, "reduce");
  ASSERT_NE(reduce, nullptr);
  EXPECT_EQ(reduce->flops, 0);
}

TEST(KernelProfile, CountsAttentionProductsOverTheKeptPairs) {
  // [B 1, H 2, L 4, E 8] queries, S 6 keys with Ev 8.
  const Tensor q = randn({1, 2, 4, 8}), k = randn({1, 2, 6, 8}), v = randn({1, 2, 6, 8});
  auto forward_flops = [&](bool causal) {
    AttentionOptions options;
    options.is_causal = causal;
    const auto profile =
        profile_of([&] { (void)native::scaled_dot_product_attention(q, k, v, options); });
    const KernelProfileEntry* attention = find_kernel(profile, "attention_forward");
    EXPECT_NE(attention, nullptr);
    return attention != nullptr ? attention->flops : 0.0;
  };
  // q k^T and p v: 2E + 2Ev flops per query-key pair and head.
  EXPECT_DOUBLE_EQ(forward_flops(false), 2.0 * 4 * 6 * (2 * 8 + 2 * 8));
  // Causal (key j <= query i): rows keep 1, 2, 3, 4 keys.
  EXPECT_DOUBLE_EQ(forward_flops(true), 2.0 * 10 * (2 * 8 + 2 * 8));
}

TEST(KernelProfile, CpuPeakIsMeasuredAndChecked) {
  EXPECT_GT(cpu_fma_peak_gflops(1, 1), 0.1);
  EXPECT_THROW(cpu_fma_peak_gflops(0), Error);
}

// Makes every training batch's loss stage take at least 2 ms.
class SlowLoss : public train::CallbackBase<SlowLoss> {
 public:
  void after_loss(train::Trainer& /*t*/) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
};

TEST(ProfileCallback, ProfilesEachTrainingPass) {
  TinySetup setup;
  std::ostringstream out;
  auto profile = std::make_shared<train::ProfileCallback>(train::ProfileOptions{.out = &out});
  auto trainer = setup.trainer({std::make_shared<SlowLoss>(), profile});
  auto train_loader = loader_of(regression_data(24), 8);  // 3 batches
  auto valid_loader = loader_of(regression_data(16, 3, 9), 8);
  trainer.fit(2, *train_loader, valid_loader.get());

  EXPECT_EQ(trainer.stage_timer, nullptr);  // detached
  EXPECT_FALSE(kernel_profile_recording());
  EXPECT_GT(profile->peak_gflops(), 0);
  ASSERT_EQ(profile->epochs().size(), 2u);
  for (size_t e = 0; e < 2; ++e) {
    const train::EpochProfile& p = profile->epochs()[e];
    EXPECT_EQ(p.epoch, static_cast<int64_t>(e));
    EXPECT_EQ(p.batches, 3);
    double sum = 0;
    for (double s : p.stage_seconds) sum += s;
    EXPECT_NEAR(sum, p.seconds, 1e-12);
    // The sleeps in after_loss are the callbacks' time.
    EXPECT_GE(p.stage_seconds[static_cast<int>(train::TrainStage::callbacks)], 3 * 0.002);
    // Training only: per batch one forward gemm (x w^T) and one backward
    // (the weight's gradient; x needs none), none from validation.
    const KernelProfileEntry* gemm = find_kernel(p.kernels, "gemm");
    ASSERT_NE(gemm, nullptr);
    EXPECT_EQ(gemm->calls, 3 * 2);
    EXPECT_DOUBLE_EQ(p.flops, 3 * 2 * (2.0 * 8 * 1 * 3));
    EXPECT_DOUBLE_EQ(p.mfu, p.flops / (p.seconds * p.peak_gflops * 1e9));
  }
  const std::string printed = out.str();
  EXPECT_NE(printed.find("profile: epoch 1  3 batches"), std::string::npos) << printed;
  EXPECT_NE(printed.find("profile: epoch 2"), std::string::npos) << printed;
  EXPECT_NE(printed.find("backward"), std::string::npos) << printed;
  EXPECT_NE(printed.find("gemm"), std::string::npos) << printed;
  EXPECT_NE(printed.find("MFU "), std::string::npos) << printed;
  EXPECT_NE(printed.find("threads)"), std::string::npos) << printed;
}

TEST(ProfileCallback, GivenPeakAndTheRestOfTheKernelsInOneRow) {
  TinySetup setup;
  std::ostringstream out;
  auto profile = std::make_shared<train::ProfileCallback>(
      train::ProfileOptions{.out = &out, .peak_gflops = 1000, .kernel_rows = 1});
  auto trainer = setup.trainer({profile});
  auto train_loader = loader_of(regression_data(16), 8);
  trainer.fit(1, *train_loader);  // no validation: the pass ends at after_epoch
  ASSERT_EQ(profile->epochs().size(), 1u);
  EXPECT_EQ(profile->peak_gflops(), 1000);
  EXPECT_EQ(profile->epochs()[0].batches, 2);
  const std::string printed = out.str();
  EXPECT_NE(printed.find("(other kernels)"), std::string::npos) << printed;
  EXPECT_NE(printed.find("GFLOP/s of a 1000.0 GFLOP/s peak\n"), std::string::npos) << printed;
}

TEST(ProfileCallback, RejectsBadOptions) {
  EXPECT_THROW(train::ProfileCallback(train::ProfileOptions{.peak_gflops = -1}), Error);
  EXPECT_THROW(train::ProfileCallback(train::ProfileOptions{.kernel_rows = 0}), Error);
}

}  // namespace
}  // namespace toadstool::testing
