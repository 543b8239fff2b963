// GradScaler and the gated optimizer step: clean steps equal unscaled
// training, an overflow skips the step (and counts as none) and lowers the
// scale, growth after growth_interval clean steps, state dicts, errors.
#include "test_util.h"

namespace toadstool::testing {
namespace {

using optim::GradScaler;
using optim::GradScalerOptions;

// A model, its AdamW and one batch; identical for equal seeds.
struct ScalerRun {
  std::shared_ptr<nn::Linear> model;
  std::shared_ptr<optim::AdamW> optimizer;
  Tensor x, y;

  explicit ScalerRun(uint64_t seed = 3) {
    manual_seed(seed);
    model = std::make_shared<nn::Linear>(4, 2);
    optimizer = std::make_shared<optim::AdamW>(model->parameters(), optim::AdamWOptions{});
    Generator gen(seed + 1);
    x = randn({8, 4}, {}, &gen);
    y = randn({8, 2}, {}, &gen);
  }
  Tensor loss() const { return mse_loss((*model)(x), y); }
};

TEST(GradScaler, ScalesTheLoss) {
  GradScaler scaler(GradScalerOptions{.init_scale = 1024});
  EXPECT_EQ(scaler.get_scale(), 1024);
  EXPECT_EQ(scaler.scale(full({}, 0.5)).item<double>(), 512);
  GradScaler off(GradScalerOptions{.enabled = false});
  EXPECT_EQ(off.scale(full({}, 0.5)).item<double>(), 0.5);
  EXPECT_EQ(off.get_scale(), 1);
  EXPECT_EQ(off.state_dict().size(), 0U);
}

// Power-of-two scales multiply and divide exactly: the scaled run's
// parameters equal the plain run's bit for bit.
TEST(GradScaler, CleanStepsEqualUnscaledTraining) {
  ScalerRun plain, scaled;
  GradScaler scaler(GradScalerOptions{.init_scale = 4096, .growth_interval = 2});
  for (int i = 0; i < 5; ++i) {
    plain.optimizer->zero_grad();
    plain.loss().backward();
    plain.optimizer->step();
    scaled.optimizer->zero_grad();
    scaler.scale(scaled.loss()).backward();
    scaler.step(*scaled.optimizer);
    scaler.update();
  }
  EXPECT_EQ(values(scaled.model->weight), values(plain.model->weight));
  EXPECT_EQ(values(scaled.model->bias), values(plain.model->bias));
  EXPECT_EQ(scaled.optimizer->state(scaled.model->weight)->step, 5);
  EXPECT_EQ(scaler.get_scale(), 4096.0 * 4);  // grew after steps 2 and 4
}

TEST(GradScaler, AnOverflowSkipsTheStepAndLowersTheScale) {
  ScalerRun s;
  GradScaler scaler(GradScalerOptions{.init_scale = 256});
  const auto before = values(s.model->weight);
  scaler.scale(s.loss()).backward();
  s.model->weight.mutable_grad().view({-1}).narrow(0, 3, 1).fill_(INFINITY);
  scaler.step(*s.optimizer);
  scaler.update();
  EXPECT_EQ(values(s.model->weight), before);
  EXPECT_EQ(s.optimizer->state(s.model->weight), nullptr);  // a skipped first step counts as none
  EXPECT_EQ(scaler.get_scale(), 128);
  // The next clean step is the first.
  s.optimizer->zero_grad();
  scaler.scale(s.loss()).backward();
  scaler.step(*s.optimizer);
  scaler.update();
  EXPECT_NE(values(s.model->weight), before);
  EXPECT_EQ(s.optimizer->state(s.model->weight)->step, 1);
  // A NaN later: the step count stays at 1, the state as it was.
  const auto after_one = values(s.model->weight);
  const auto exp_avg = values(s.optimizer->state(s.model->weight)->buffers.at("exp_avg"));
  s.optimizer->zero_grad();
  scaler.scale(s.loss() * NAN).backward();
  scaler.step(*s.optimizer);
  scaler.update();
  EXPECT_EQ(values(s.model->weight), after_one);
  EXPECT_EQ(s.optimizer->state(s.model->weight)->step, 1);
  EXPECT_EQ(values(s.optimizer->state(s.model->weight)->buffers.at("exp_avg")), exp_avg);
  EXPECT_EQ(scaler.get_scale(), 64);
}

TEST(GradScaler, UnscaleBeforeStepGivesTheTrueGradients) {
  ScalerRun plain, scaled;
  plain.loss().backward();
  GradScaler scaler;
  scaler.scale(scaled.loss()).backward();
  scaler.unscale_(*scaled.optimizer);
  EXPECT_EQ(values(scaled.model->weight.grad()), values(plain.model->weight.grad()));
  EXPECT_ERROR(scaler.unscale_(*scaled.optimizer), "already called");
  scaler.step(*scaled.optimizer);  // uses the unscaled gradients, not unscaling twice
  EXPECT_ERROR(scaler.step(*scaled.optimizer), "already called");
  scaler.update();
}

TEST(GradScaler, GrowthStopsBeforeFloat32Overflows) {
  ScalerRun s;
  GradScaler scaler(GradScalerOptions{.init_scale = 3e38, .growth_interval = 1});
  s.loss().backward();  // unscaled gradients: finite
  scaler.step(*s.optimizer);
  scaler.update();
  EXPECT_FLOAT_EQ(static_cast<float>(scaler.get_scale()), 3e38F);
}

TEST(GradScaler, StateDictRoundTrips) {
  ScalerRun s;
  GradScaler scaler(GradScalerOptions{.init_scale = 512, .growth_interval = 10});
  for (int i = 0; i < 3; ++i) {
    s.optimizer->zero_grad();
    scaler.scale(s.loss()).backward();
    scaler.step(*s.optimizer);
    scaler.update();
  }
  const TensorDict state = scaler.state_dict();
  EXPECT_EQ(state.keys(), (std::vector<std::string>{"scale", "growth_factor", "backoff_factor",
                                                    "growth_interval", "_growth_tracker"}));
  EXPECT_EQ(state.at("_growth_tracker").item<int64_t>(), 3);
  GradScaler loaded;
  loaded.load_state_dict(state);
  EXPECT_EQ(loaded.get_scale(), 512);
  EXPECT_EQ(loaded.options().growth_interval, 10);
  EXPECT_EQ(loaded.state_dict().at("_growth_tracker").item<int64_t>(), 3);

  TensorDict bad;
  for (const auto& [name, tensor] : state) {
    bad.insert(name, name == "backoff_factor" ? full({}, 2.0, kFloat64) : tensor);
  }
  EXPECT_ERROR(loaded.load_state_dict(bad), "backoff_factor must be in (0, 1)");
  TensorDict extra = state;
  extra.insert("bogus", zeros({}));
  EXPECT_ERROR(loaded.load_state_dict(extra), "unexpected entry 'bogus'");
  EXPECT_EQ(loaded.get_scale(), 512);  // unchanged by the failed loads
}

TEST(GradScaler, BadUse) {
  EXPECT_ERROR(GradScaler(GradScalerOptions{.growth_factor = 1}), "growth_factor must be > 1");
  EXPECT_ERROR(GradScaler(GradScalerOptions{.init_scale = -1}), "init_scale must be positive");
  EXPECT_ERROR(GradScaler(GradScalerOptions{.growth_interval = 0}), "growth_interval");
  GradScaler scaler;
  EXPECT_ERROR(scaler.update(), "no gradients were unscaled");
  EXPECT_ERROR(scaler.scale(zeros({}, kInt64)), "expected a floating loss");
}

// The gate alone: a non-zero flag leaves parameters and state untouched and
// the step uncounted (SGD's momentum buffer, created by a first step, too).
TEST(OptimizerGate, ANonZeroFlagSkipsTheStep) {
  manual_seed(5);
  nn::Linear model(3, 2), reference(3, 2);
  reference.load_state_dict(model.state_dict());
  optim::SGD gated(model.parameters(), optim::SGDOptions{.lr = 0.1, .momentum = 0.9});
  optim::SGD plain(reference.parameters(), optim::SGDOptions{.lr = 0.1, .momentum = 0.9});
  const Tensor x = ones({4, 3});
  const auto before = values(model.weight);
  sum(model(x)).backward();
  gated.step(ones({}));
  EXPECT_EQ(values(model.weight), before);
  EXPECT_EQ(gated.state(model.weight), nullptr);
  for (int i = 0; i < 2; ++i) {
    sum(reference(x)).backward();
    plain.step();
    plain.zero_grad();
    gated.zero_grad();
    sum(model(x)).backward();
    gated.step(zeros({}));
  }
  EXPECT_EQ(values(model.weight), values(reference.weight));
  EXPECT_ERROR(gated.step(zeros({2})), "the skip flag must be one float32 value");
}

// The fused step's gate, below the optimizer: a skipped step only counts
// itself in `skipped`; a taken one numbers itself step - skipped, so after
// one skip, gated step 2 equals an ungated first step.
TEST(OptimizerGate, TheKernelCountsSkipsAndNumbersTakenSteps) {
  const Tensor grad = make({0.5, -1.0, 2.0}, {3});
  Tensor gated = make({1.0, 2.0, 3.0}, {3}), plain = gated.clone();
  Tensor m = zeros({3}), v = zeros({3}), m_plain = zeros({3}), v_plain = zeros({3});
  const StepGateTensors gate{ones({}), zeros({})};
  AdamStep hp{.lr = 0.1, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
  hp.gate.step = 1;
  adam_step_(gated, grad, m, v, Tensor(), hp, gate);
  EXPECT_EQ(gate.skipped.item<float>(), 1);
  EXPECT_EQ(values(gated), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(values(m), (std::vector<double>{0, 0, 0}));
  Tensor(gate.skip).fill_(0);
  hp.gate.step = 2;
  adam_step_(gated, grad, m, v, Tensor(), hp, gate);
  EXPECT_EQ(gate.skipped.item<float>(), 1);
  hp.step = 1;
  hp.gate = {};
  adam_step_(plain, grad, m_plain, v_plain, Tensor(), hp);
  EXPECT_EQ(values(gated), values(plain));
  EXPECT_ERROR(adam_step_(gated, grad, m, v, Tensor(), hp, StepGateTensors{ones({}), Tensor()}),
               "adam_step_");
}

}  // namespace
}  // namespace toadstool::testing
