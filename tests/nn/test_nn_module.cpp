// nn::Module: registration, dotted names, modes, dtype conversion, state
// dicts, printing; and the basic layers built on it.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>

#include "test_util.h"

namespace toadstool {
namespace {

using testing::expect_close;

// A module with a parameter, a persistent and a non-persistent buffer, and
// a nested child: the shape of names PyTorch gives.
class Block : public nn::Module {
 public:
  Block() : nn::Module("Block") {
    scale = register_parameter("scale", ones({3}));
    running = register_buffer("running", zeros({3}));
    scratch = register_buffer("scratch", zeros({2}), /*persistent=*/false);
    proj = register_module("proj", std::make_shared<nn::Linear>(3, 2));
  }
  Tensor scale, running, scratch;
  std::shared_ptr<nn::Linear> proj;
};

class Net : public nn::Module {
 public:
  Net() : nn::Module("Net") {
    blocks = register_module("blocks", std::make_shared<nn::ModuleList>());
    blocks->push_back(std::make_shared<Block>());
    blocks->push_back(std::make_shared<Block>());
    head = register_module(
        "head",
        std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::UnaryModule>>{
            std::make_shared<nn::Linear>(2, 4), std::make_shared<nn::ReLU>(),
            std::make_shared<nn::Dropout>(0.5), std::make_shared<nn::Linear>(4, 1, false)}));
  }
  std::shared_ptr<nn::ModuleList> blocks;
  std::shared_ptr<nn::Sequential> head;
};

std::vector<std::string> names_of(const std::vector<nn::NamedTensor>& named) {
  std::vector<std::string> names;
  names.reserve(named.size());
  for (const auto& [name, tensor] : named) names.push_back(name);
  return names;
}

TEST(NnModule, DottedNamesMatchPyTorchs) {
  Net net;
  EXPECT_EQ(
      names_of(net.named_parameters()),
      (std::vector<std::string>{"blocks.0.scale", "blocks.0.proj.weight", "blocks.0.proj.bias",
                                "blocks.1.scale", "blocks.1.proj.weight", "blocks.1.proj.bias",
                                "head.0.weight", "head.0.bias", "head.3.weight"}));
  EXPECT_EQ(names_of(net.named_buffers()),
            (std::vector<std::string>{"blocks.0.running", "blocks.0.scratch", "blocks.1.running",
                                      "blocks.1.scratch"}));
  // state_dict: parameters then persistent buffers, per module, depth first.
  EXPECT_EQ(net.state_dict().keys(),
            (std::vector<std::string>{"blocks.0.scale", "blocks.0.running", "blocks.0.proj.weight",
                                      "blocks.0.proj.bias", "blocks.1.scale", "blocks.1.running",
                                      "blocks.1.proj.weight", "blocks.1.proj.bias", "head.0.weight",
                                      "head.0.bias", "head.3.weight"}));
  EXPECT_EQ(net.parameters(false).size(), 0U);
  EXPECT_EQ(net.num_parameters(), 2 * (3 + 6 + 2) + 8 + 4 + 4);
  std::vector<std::string> modules;
  for (const auto& [name, module] : net.named_modules()) modules.push_back(name);
  EXPECT_EQ(modules, (std::vector<std::string>{"", "blocks", "blocks.0", "blocks.0.proj",
                                               "blocks.1", "blocks.1.proj", "head", "head.0",
                                               "head.1", "head.2", "head.3"}));
}

TEST(NnModule, ParametersAreLeavesThatRequireGradAndShareTheMembers) {
  Net net;
  for (const Tensor& p : net.parameters()) {
    EXPECT_TRUE(p.requires_grad());
    EXPECT_TRUE(p.is_leaf());
  }
  EXPECT_TRUE(net.parameters()[0].is_same(net.blocks->at<Block>(0)->scale));
  EXPECT_FALSE(net.buffers()[0].requires_grad());
}

TEST(NnModule, RegistrationErrors) {
  class Bad : public nn::Module {
   public:
    explicit Bad(int which) : nn::Module("Bad") {
      register_parameter("w", ones({1}));
      if (which == 0) register_parameter("w", ones({1}));
      if (which == 1) register_buffer("a.b", ones({1}));
      if (which == 2) register_module("w", std::make_shared<nn::ReLU>());
      if (which == 3) register_parameter("v", ones({1}, kInt64));
      if (which == 4) register_parameter("v", ones({1}).requires_grad_() * 2);
    }
  };
  for (int which = 0; which < 5; ++which) EXPECT_THROW(Bad{which}, Error) << which;
}

TEST(NnModule, TrainAndEvalRecurseAndSwitchDropout) {
  Net net;
  EXPECT_TRUE(net.head->is_training());
  net.eval();
  for (const auto& [name, module] : net.named_modules()) EXPECT_FALSE(module->is_training());
  nn::Dropout drop(0.5);
  drop.eval();
  const Tensor x = randn({100});
  expect_close(drop(x), x);
  drop.train();
  const Tensor y = drop(x);
  int zeros_seen = 0;
  for (double v : testing::values(y)) zeros_seen += v == 0.0;
  EXPECT_GT(zeros_seen, 20);
  EXPECT_LT(zeros_seen, 80);
}

TEST(NnModule, ToConvertsParametersInPlaceForEveryHandle) {
  Net net;
  const Tensor scale = net.blocks->at<Block>(0)->scale;
  net.to(kFloat64);
  EXPECT_EQ(scale.dtype(), kFloat64);
  for (const Tensor& p : net.parameters()) {
    EXPECT_EQ(p.dtype(), kFloat64);
    EXPECT_TRUE(p.requires_grad());
  }
  for (const Tensor& b : net.buffers()) EXPECT_EQ(b.dtype(), kFloat64);
  const Tensor out = net.head->forward(randn({5, 2}, kFloat64));
  EXPECT_EQ(out.dtype(), kFloat64);
  out.sum().backward();
  EXPECT_EQ(net.parameters()[6].grad().dtype(), kFloat64);
  EXPECT_THROW(net.to(kInt64), Error);
}

TEST(NnModule, ZeroGradAndApply) {
  Net net;
  net.head->forward(randn({5, 2})).sum().backward();
  const Tensor w = net.parameters()[6];
  ASSERT_TRUE(w.grad().defined());
  net.zero_grad(/*set_to_none=*/false);
  EXPECT_EQ(testing::values(w.grad().abs().sum())[0], 0.0);
  net.zero_grad();
  EXPECT_FALSE(w.grad().defined());
  std::vector<std::string> order;
  net.head->apply([&order](nn::Module& m) { order.push_back(m.type_name()); });
  EXPECT_EQ(order, (std::vector<std::string>{"Linear", "ReLU", "Dropout", "Linear", "Sequential"}));
}

TEST(NnModule, StateDictRoundTripCopiesValues) {
  manual_seed(1);
  Net a;
  manual_seed(2);
  Net b;
  b.load_state_dict(a.state_dict());
  const TensorDict sa = a.state_dict();
  for (const auto& [name, tensor] : b.state_dict()) expect_close(tensor, sa.at(name), 0, 0);
  // The state dict shares storage with the module and records nothing.
  EXPECT_TRUE(sa.at("head.0.weight").shares_storage(a.parameters()[6]));
  EXPECT_FALSE(sa.at("head.0.weight").requires_grad());
}

TEST(NnModule, LoadStateDictErrorsNameTheEntriesAndLeaveTheModuleUntouched) {
  Net net;
  const Tensor w_before = net.parameters()[6].clone();
  TensorDict missing;
  for (const auto& [name, t] : net.state_dict()) {
    if (name != "head.3.weight") missing.insert(name, zeros_like(t));
  }
  try {
    net.load_state_dict(missing);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Missing: 'head.3.weight'"), std::string::npos)
        << e.what();
  }
  expect_close(net.parameters()[6], w_before, 0, 0);
  // Non-strict: the present entries load, the missing one keeps its value.
  net.load_state_dict(missing, /*strict=*/false);
  EXPECT_EQ(testing::values(net.parameters()[6].abs().sum())[0], 0.0);

  TensorDict extra = net.state_dict();
  extra.insert("head.9.weight", zeros({1}));
  try {
    net.load_state_dict(extra);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Unexpected: 'head.9.weight'"), std::string::npos);
  }
  net.load_state_dict(extra, /*strict=*/false);

  TensorDict wrong_shape;
  for (const auto& [name, t] : net.state_dict()) {
    wrong_shape.insert(name, name == "head.0.bias" ? zeros({5}) : t);
  }
  try {
    net.load_state_dict(wrong_shape, /*strict=*/false);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'head.0.bias' has shape [5]"), std::string::npos)
        << e.what();
  }
}

TEST(NnModule, SummaryShowsTheTreeShapesAndCounts) {
  Net net;
  const std::string text = net.summary();
  EXPECT_NE(text.find("(head): Sequential(\n"), std::string::npos) << text;
  EXPECT_NE(text.find("(0): Linear(in_features=2, out_features=4, bias=true)  # weight [4, 2] "
                      "bias [4]: 12 parameters"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("(2): Dropout(p=0.5)"), std::string::npos) << text;
  EXPECT_NE(text.find("Total parameters: 38"), std::string::npos) << text;
  // A module with both an extra repr and children prints the repr on its
  // own line, as PyTorch does.
  nn::MultiheadAttention mha(8, 2);
  EXPECT_EQ(mha.summary().rfind("MultiheadAttention(\n  embed_dim=8, num_heads=2", 0), 0U)
      << mha.summary();
}

TEST(NnLayers, LinearComputesXWtPlusBAndStartsAsPyTorch) {
  nn::Linear linear(64, 8);
  const double bound = 1.0 / 8.0;
  const auto w = testing::values(linear.weight);
  double max_abs = 0;
  for (double v : w) max_abs = std::max(max_abs, std::fabs(v));
  EXPECT_LE(max_abs, bound);
  EXPECT_GT(max_abs, 0.9 * bound);  // 512 draws of U(-1/8, 1/8) reach near the bound
  const Tensor x = randn({2, 3, 64});
  expect_close(linear(x), matmul(x, linear.weight.t()) + linear.bias, 1e-6, 1e-6);
  EXPECT_THROW(linear(randn({2, 63})), Error);
  EXPECT_THROW(nn::Linear(0, 3), Error);
  nn::Linear no_bias(4, 2, false);
  EXPECT_FALSE(no_bias.bias.defined());
  EXPECT_EQ(no_bias.parameters().size(), 1U);
}

TEST(NnLayers, EmbeddingPaddingRowIsZeroAndGetsNoGradient) {
  nn::Embedding emb(10, 4, -1);
  EXPECT_EQ(*emb.padding_idx, 9);
  EXPECT_EQ(testing::values(emb.weight.select(0, 9).abs().sum())[0], 0.0);
  const Tensor ids = from_vector<int64_t>({1, 9, 1, 3}, {2, 2});
  const Tensor out = emb(ids);
  EXPECT_EQ(out.shape(), (Shape{2, 2, 4}));
  out.sum().backward();
  expect_close(emb.weight.grad().select(0, 9), zeros({4}));
  expect_close(emb.weight.grad().select(0, 1), full({4}, 2.0));
  EXPECT_THROW(nn::Embedding(10, 4, 10), Error);
  EXPECT_EQ(emb.extra_repr(), "10, 4, padding_idx=9");
}

TEST(NnLayers, LayerNormAndActivationsMatchTheirOps) {
  nn::LayerNorm norm({6});
  expect_close(norm.weight, ones({6}), 0, 0);
  expect_close(norm.bias, zeros({6}), 0, 0);
  const Tensor x = randn({3, 6});
  expect_close(norm(x), layer_norm(x, {6}), 1e-6, 1e-6);
  expect_close(nn::GELU("tanh")(x), gelu(x, "tanh"), 0, 0);
  expect_close(nn::Softmax(0)(x), softmax(x, 0), 0, 0);
  expect_close(nn::Tanh()(x), tanh(x), 0, 0);
  expect_close(nn::Sigmoid()(x), sigmoid(x), 0, 0);
  expect_close(nn::Identity()(x), x, 0, 0);
  EXPECT_THROW(nn::GELU("fast"), Error);
  EXPECT_THROW(nn::Dropout(1.5), Error);
  nn::LayerNorm plain({6}, 1e-5, false);
  EXPECT_EQ(plain.parameters().size(), 0U);
}

// GLU: the first half of the split dim, gated by the sigmoid of the second.
TEST(NnLayers, GluGatesTheFirstHalfByTheSecond) {
  // [2, 4] along the last dim: a = (1, -2), b = (0, big) gates a by 1/2 and ~1.
  const Tensor x = testing::make({1, -2, 0, 30, 3, 4, -30, 0}, {2, 4});
  testing::expect_values(glu(x), {0.5, -2, 3 * 1 / (1 + std::exp(30.0)), 2}, {2, 2}, 1e-6, 1e-7);
  nn::GLU module;  // dim -1
  expect_close(module(x), glu(x), 0, 0);
  EXPECT_EQ(module.extra_repr(), "dim=-1");
  // Along dim 0: the rows are the halves.
  expect_close(nn::GLU(0)(x), x.select(0, 0).unsqueeze(0) * sigmoid(x.narrow(0, 1, 1)), 0, 0);
  EXPECT_EQ(nn::GLU(0)(x).shape(), (Shape{1, 4}));
  EXPECT_EQ(glu(randn({3, 6, 5}), 1).shape(), (Shape{3, 3, 5}));
  EXPECT_ERROR(glu(x, 2), "glu");                    // no dim 2
  EXPECT_ERROR(glu(randn({3, 5})), "must be even");  // 5 has no halves
  EXPECT_ERROR(glu(scalar_tensor(1.0)), "0-d");
}

TEST(NnLayers, ContainersIndexAndCheck) {
  nn::Sequential empty_seq;
  const Tensor x = randn({2});
  expect_close(empty_seq(x), x, 0, 0);
  EXPECT_THROW(empty_seq[0], Error);
  nn::ModuleList list;
  list.push_back(std::make_shared<nn::ReLU>());
  EXPECT_THROW(list.at<nn::Linear>(0), Error);
  EXPECT_NE(list.at<nn::ReLU>(0), nullptr);
}

}  // namespace
}  // namespace toadstool
