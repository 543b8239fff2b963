// DebugCallback: the first non-finite module (Sequential, nested, MLP), NaN
// and missing gradients, non-finite weights, report mode, shapes and trace.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "test_util.h"
#include "trainer_fixtures.h"

namespace toadstool::testing {
namespace {

using train::Trainer;

// x * factor: with a large factor, a float32 output overflows to inf.
class ScaleBy : public nn::UnaryModule {
 public:
  explicit ScaleBy(double factor) : UnaryModule("ScaleBy"), factor_(factor) {}
  Tensor forward(const Tensor& x) override { return x * factor_; }

 private:
  double factor_;
};

// The identity, with a parameter the forward never uses.
class WithUnused : public nn::UnaryModule {
 public:
  WithUnused() : UnaryModule("WithUnused") { unused = register_parameter("unused", zeros({2})); }
  Tensor forward(const Tensor& x) override { return x; }
  Tensor unused;
};

std::shared_ptr<nn::Sequential> chain(std::vector<std::shared_ptr<nn::UnaryModule>> modules) {
  return std::make_shared<nn::Sequential>(std::move(modules));
}

Trainer trainer_for(std::shared_ptr<nn::UnaryModule> model,
                    std::vector<std::shared_ptr<train::Callback>> callbacks, double lr = 0.05) {
  auto optimizer = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions{.lr = lr});
  return Trainer(std::move(model), optimizer, std::make_shared<nn::MSELoss>(),
                 std::move(callbacks));
}

train::DebugOptions quiet(std::ostream& out) {
  train::DebugOptions options;
  options.out = &out;
  return options;
}

TEST(DebugCallback, NamesTheFirstModuleWhoseOutputIsNotFinite) {
  manual_seed(3);
  // 1e30 is finite in float32; 1e30 * 1e30 is not: module "2" overflows.
  auto model = chain({std::make_shared<nn::Linear>(3, 4), std::make_shared<ScaleBy>(1e30),
                      std::make_shared<ScaleBy>(1e30), std::make_shared<nn::Linear>(4, 1)});
  std::ostringstream out;
  Trainer trainer = trainer_for(model, {std::make_shared<train::DebugCallback>(quiet(out))});
  auto loader = loader_of(regression_data(6), 3);
  EXPECT_ERROR(
      trainer.fit(1, *loader),
      (std::vector<std::string>{"output [3, 1] is not finite at train batch 0 of epoch 0",
                                "the first module with a non-finite output is 2 (ScaleBy)"}));
  // The finding, straight from the helper, in a nested Sequential.
  auto nested = chain({std::make_shared<nn::Linear>(3, 4),
                       chain({std::make_shared<ScaleBy>(1.0), std::make_shared<ScaleBy>(1e30),
                              std::make_shared<ScaleBy>(1e30)})});
  EXPECT_EQ(train::first_non_finite_module(*nested, ones({2, 3})), "1.2 (ScaleBy)");
  EXPECT_EQ(train::first_non_finite_module(*chain({std::make_shared<ScaleBy>(2.0)}), ones({2, 3})),
            std::nullopt);
  // A model that is not a chain is named as a whole.
  ScaleBy whole(1e60);
  EXPECT_EQ(train::first_non_finite_module(whole, ones({2})), "model (ScaleBy)");
}

TEST(DebugCallback, WalksTheLayersOfAnMLP) {
  manual_seed(3);
  auto mlp = std::make_shared<nn::MLP>(std::vector<int64_t>{3, 4, 1});
  {
    const NoGradGuard no_grad;
    mlp->named_parameters()[2].second.fill_(NAN);  // layers.2.weight: the output layer
  }
  EXPECT_EQ(mlp->named_parameters()[2].first, "layers.2.weight");
  EXPECT_EQ(train::first_non_finite_module(*mlp, ones({2, 3})), "layers.2 (Linear)");
}

TEST(DebugCallback, NamesAParameterWithANaNGradient) {
  TinySetup setup;
  setup.model->weight.register_hook([](const Tensor& g) { return full_like(g, NAN); });
  std::ostringstream out;
  Trainer trainer = setup.trainer({std::make_shared<train::DebugCallback>(quiet(out))});
  auto loader = loader_of(regression_data(6), 3);
  EXPECT_ERROR(trainer.fit(1, *loader),
               "the gradient of parameter weight [1, 3] is not finite at train batch 0");
}

TEST(DebugCallback, NamesAParameterWithoutGradient) {
  manual_seed(3);
  auto model = chain({std::make_shared<nn::Linear>(3, 1), std::make_shared<WithUnused>()});
  std::ostringstream out;
  Trainer trainer = trainer_for(model, {std::make_shared<train::DebugCallback>(quiet(out))});
  auto loader = loader_of(regression_data(6), 3);
  EXPECT_ERROR(trainer.fit(1, *loader), "parameter 1.unused [2] got no gradient");
  // Not checked when asked not to.
  train::DebugOptions options = quiet(out);
  options.check_missing_grads = false;
  Trainer lenient = trainer_for(model, {std::make_shared<train::DebugCallback>(options)});
  EXPECT_NO_THROW(lenient.fit(1, *loader));
}

TEST(DebugCallback, ReportModeWritesEachFindingOnceAndGoesOn) {
  TinySetup setup;
  setup.model->weight.register_hook([](const Tensor& g) { return full_like(g, INFINITY); });
  std::ostringstream out;
  train::DebugOptions options = quiet(out);
  options.throw_on_error = false;
  auto debug = std::make_shared<train::DebugCallback>(options);
  Trainer trainer = setup.trainer({debug});
  auto loader = loader_of(regression_data(3), 3);  // one batch: its loss is still finite
  trainer.fit(1, *loader);
  ASSERT_EQ(debug->findings().size(), 2u);
  EXPECT_NE(debug->findings()[0].find("the gradient of parameter weight [1, 3] is not finite"),
            std::string::npos);
  // The step turned the weight into -inf.
  EXPECT_NE(debug->findings()[1].find("parameter weight [1, 3] is not finite after train batch 0"),
            std::string::npos);
  EXPECT_NE(out.str().find(debug->findings()[1]), std::string::npos);
}

TEST(DebugCallback, ShapesOfTheFirstBatchAndTheHookTrace) {
  TinySetup setup;
  std::ostringstream out;
  train::DebugOptions options = quiet(out);
  options.trace_hooks = true;
  Trainer trainer = setup.trainer({std::make_shared<train::DebugCallback>(options)});
  auto train_loader = loader_of(regression_data(6), 3);
  auto valid_loader = loader_of(regression_data(2, 3, 99), 2);
  trainer.fit(2, *train_loader, valid_loader.get());
  const std::string text = out.str();
  const std::string shapes =
      "DebugCallback: first train batch: x [3, 3] float32, y [3, 1] float32, y_pred [3, 1] float32";
  ASSERT_NE(text.find(shapes), std::string::npos) << text;
  EXPECT_EQ(text.find(shapes, text.find(shapes) + 1), std::string::npos);  // once
  EXPECT_NE(text.find("first validate batch: x [2, 3]"), std::string::npos);
  EXPECT_NE(text.find("DebugCallback: begin_fit  idle  epoch 0"), std::string::npos) << text;
  EXPECT_NE(text.find("DebugCallback: after_step  train  epoch 1  batch 1  step 4"),
            std::string::npos);
  EXPECT_TRUE(train::all_finite(ones({3})));
  EXPECT_FALSE(train::all_finite(make({1, NAN}, {2})));
  EXPECT_FALSE(train::all_finite(make({-INFINITY, 1}, {2})));
  EXPECT_TRUE(train::all_finite(make({3.0e38, 3.0e38}, {2})));  // their sum would overflow
}

}  // namespace
}  // namespace toadstool::testing
