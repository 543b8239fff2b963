// TrainerOptions::precision: bf16-mixed and 16-mixed train on the CPU with
// float32 weights, the float16 run's GradScaler state is in checkpoints.
#include "temp_dir.h"
#include "test_util.h"
#include "trainer_fixtures.h"

namespace toadstool::testing {
namespace {

// A two-layer model whose prediction comes out of a Linear (so autocast
// shows in y_pred's dtype).
struct MixedSetup {
  std::shared_ptr<nn::Sequential> model;
  std::shared_ptr<optim::Optimizer> optimizer;
  std::shared_ptr<nn::MSELoss> loss = std::make_shared<nn::MSELoss>();

  MixedSetup() {
    manual_seed(21);
    model = std::make_shared<nn::Sequential>();
    model->push_back(std::make_shared<nn::Linear>(3, 16));
    model->push_back(std::make_shared<nn::ReLU>());
    model->push_back(std::make_shared<nn::Linear>(16, 1));
    optim::AdamWOptions options;
    options.lr = 0.02;
    optimizer = std::make_shared<optim::AdamW>(model->parameters(), options);
  }
  train::Trainer trainer(const std::string& precision,
                         std::vector<std::shared_ptr<train::Callback>> callbacks = {}) const {
    return train::Trainer(model, optimizer, loss, std::move(callbacks),
                          train::TrainerOptions{.precision = precision});
  }
};

// Records y_pred's and the loss's dtypes.
class DtypeProbe : public train::CallbackBase<DtypeProbe> {
 public:
  void after_loss(train::Trainer& t) override {
    pred = t.y_pred.dtype();
    loss = t.loss.dtype();
  }
  DType pred = kFloat64, loss = kFloat64;
};

TEST(TrainerPrecision, MixedPrecisionTrainsWithFloat32Weights) {
  for (const std::string precision : {"bf16-mixed", "16-mixed"}) {
    MixedSetup setup;
    auto probe = std::make_shared<DtypeProbe>();
    auto trainer = setup.trainer(precision, {probe});
    EXPECT_EQ(trainer.grad_scaler != nullptr, precision == "16-mixed") << precision;
    auto data = loader_of(regression_data(64), 16);
    const double before = trainer.eval(*data);
    trainer.fit(8, *data);
    EXPECT_LT(trainer.eval(*data), 0.5 * before) << precision;
    EXPECT_EQ(probe->pred, precision == "16-mixed" ? kFloat16 : kBFloat16);
    EXPECT_EQ(probe->loss, kFloat32);
    for (const auto& p : setup.model->parameters()) EXPECT_EQ(p.dtype(), kFloat32);
    EXPECT_FALSE(is_autocast_enabled(DeviceType::CPU));  // the scopes closed
  }
}

TEST(TrainerPrecision, TheScalerStateIsInCheckpoints) {
  TempDir dir;
  MixedSetup run;
  auto trainer = run.trainer("16-mixed");
  auto data = loader_of(regression_data(32), 16);
  trainer.fit(1, *data);
  const double scale = trainer.grad_scaler->get_scale();
  train::save_checkpoint(dir.file("c"), trainer, train::resume_point_after_epoch(trainer));
  const TensorDict state = load_safetensors(dir.file("c") + "/state.safetensors");
  EXPECT_TRUE(state.contains("grad_scaler.scale"));

  MixedSetup resumed;
  auto fresh = resumed.trainer("16-mixed");
  fresh.grad_scaler->load_state_dict({});  // a no-op: still the default scale
  EXPECT_EQ(fresh.grad_scaler->get_scale(), 65536);
  train::load_checkpoint(dir.file("c"), fresh);
  EXPECT_EQ(fresh.grad_scaler->get_scale(), scale);

  MixedSetup full;
  auto fp32 = full.trainer("32");
  EXPECT_ERROR(train::load_checkpoint(dir.file("c"), fp32), "GradScaler's state");
}

TEST(TrainerPrecision, UnknownPrecisionIsAnError) {
  MixedSetup setup;
  EXPECT_ERROR(setup.trainer("fp8"), "precision must be \"32\", \"bf16-mixed\" or \"16-mixed\"");
}

}  // namespace
}  // namespace toadstool::testing
