// The tape and the backward engine: what backward() accumulates where, grad
// mode, hooks, retain_grad, and the errors it gives.
#include <thread>

#include "test_util.h"
#include "toadstool/kernels/philox.h"

namespace toadstool {
namespace {

using testing::expect_values;

TEST(Autograd, ScalarBackwardFillsLeafGrads) {
  Tensor x = from_vector<float>({1, 2, 3}).requires_grad_();
  Tensor w = from_vector<float>({4, 5, 6}).requires_grad_();
  Tensor loss = (x * w).sum();
  EXPECT_FALSE(loss.is_leaf());
  EXPECT_EQ(loss.grad_fn()->name(), "sum");
  loss.backward();
  expect_values(x.grad(), {4, 5, 6}, {3});
  expect_values(w.grad(), {1, 2, 3}, {3});
  EXPECT_EQ(x.grad().dtype(), kFloat32);
}

TEST(Autograd, GradientsAccumulateAcrossBackwardCalls) {
  Tensor x = from_vector<double>({1, -2}).requires_grad_();
  (x * 3).sum().backward();
  (x * x).sum().backward();
  expect_values(x.grad(), {3 + 2, 3 - 4}, {2});
  x.zero_grad(/*set_to_none=*/false);
  expect_values(x.grad(), {0, 0}, {2});
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, ATensorUsedTwiceGetsBothContributions) {
  // y = x * x + exp(x): the diamond x -> (mul, exp) -> add.
  Tensor x = from_vector<double>({0.5}).requires_grad_();
  (x * x + x.exp()).backward();
  expect_values(x.grad(), {2 * 0.5 + std::exp(0.5)}, {1}, 1e-12);
}

TEST(Autograd, BroadcastGradientsComeBackInTheInputsShapeAndDtype) {
  Tensor a = ones({2, 3}, kFloat64).requires_grad_();
  Tensor b = from_vector<float>({1, 2, 3}).requires_grad_();  // float32, broadcast over rows
  Tensor bias = full({1}, 2.0f).requires_grad_();
  (a * b + bias).sum().backward();
  EXPECT_EQ(b.grad().shape(), Shape({3}));
  EXPECT_EQ(b.grad().dtype(), kFloat32);
  expect_values(b.grad(), {2, 2, 2}, {3});
  expect_values(bias.grad(), {6}, {1});
  expect_values(a.grad(), {1, 2, 3, 1, 2, 3}, {2, 3});
}

TEST(Autograd, BackwardOfANonScalarNeedsAGradient) {
  Tensor x = from_vector<float>({1, 2}).requires_grad_();
  Tensor y = x * 2;
  EXPECT_THROW(y.backward(), Error);
  EXPECT_THROW(y.backward(ones({3})), Error);  // wrong shape
  y.backward(from_vector<float>({1, 10}));
  expect_values(x.grad(), {2, 20}, {2});
}

TEST(Autograd, BackwardOfATensorThatNeedsNoGradIsAnError) {
  Tensor x = from_vector<float>({1, 2});
  try {
    x.sum().backward();
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not require grad"), std::string::npos) << e.what();
  }
}

TEST(Autograd, SecondBackwardThroughFreedGraphIsAnError) {
  Tensor x = from_vector<float>({1, 2}).requires_grad_();
  Tensor y = (x.exp() * 2).sum();
  y.backward();
  try {
    y.backward();
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("retain_graph"), std::string::npos) << e.what();
  }
}

TEST(Autograd, RetainGraphAllowsASecondBackward) {
  Tensor x = from_vector<double>({1, 2}).requires_grad_();
  Tensor y = (x.exp() * 2).sum();
  y.backward({}, /*retain_graph=*/true);
  y.backward();
  expect_values(x.grad(), {4 * std::exp(1.0), 4 * std::exp(2.0)}, {2}, 1e-12);
}

TEST(Autograd, ModifyingASavedTensorInPlaceIsAnError) {
  Tensor x = from_vector<float>({1, 2}).requires_grad_();
  Tensor y = x.exp();  // saves its output
  Tensor loss = y.sum();
  {
    NoGradGuard no_grad;
    y.mul_(2);
  }
  try {
    loss.backward();
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("exp"), std::string::npos) << message;
    EXPECT_NE(message.find("modified by an in-place op"), std::string::npos) << message;
  }
}

TEST(Autograd, ModifyingASavedInputThroughAViewIsAnError) {
  Tensor w = from_vector<float>({1, 2, 3, 4}).requires_grad_();
  Tensor data = from_vector<float>({5, 6, 7, 8});
  Tensor loss = (w * data).sum();  // saves data
  Tensor view = data.narrow(0, 1, 2);
  view.fill_(0);  // data does not require grad: allowed, but bumps the shared version
  EXPECT_THROW(loss.backward(), Error);
}

TEST(Autograd, InPlaceOpsOnTensorsThatRequireGradAreRefusedWhileRecording) {
  Tensor w = ones({3}).requires_grad_();
  EXPECT_THROW(w.add_(1), Error);
  EXPECT_THROW(zeros({3}).copy_(w), Error);
  {
    NoGradGuard no_grad;  // an optimizer step
    w.sub_(from_vector<float>({1, 2, 3}), 0.5);
  }
  expect_values(w, {0.5, 0, -0.5}, {3});
}

TEST(Autograd, NoGradGuardStopsRecordingAndNests) {
  Tensor x = ones({2}).requires_grad_();
  {
    NoGradGuard no_grad;
    EXPECT_FALSE((x * 2).requires_grad());
    {
      EnableGradGuard enable;
      EXPECT_TRUE((x * 2).requires_grad());
    }
    EXPECT_FALSE((x * 2).requires_grad());
  }
  EXPECT_TRUE((x * 2).requires_grad());
}

TEST(Autograd, GradModeIsPerThread) {
  NoGradGuard no_grad;
  bool other_thread_records = false;
  std::thread worker([&] { other_thread_records = autograd::is_grad_enabled(); });
  worker.join();
  EXPECT_TRUE(other_thread_records);
  EXPECT_FALSE(autograd::is_grad_enabled());
}

TEST(Autograd, DetachSharesDataButNotHistory) {
  Tensor x = from_vector<float>({1, 2}).requires_grad_();
  Tensor y = x * 3;
  Tensor d = y.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_leaf());
  EXPECT_TRUE(d.shares_storage(y));
  (d * x).sum().backward();  // d is a constant here
  expect_values(x.grad(), {3, 6}, {2});
}

TEST(Autograd, RequiresGradNeedsAFloatingLeaf) {
  EXPECT_THROW(arange(3).requires_grad_(), Error);
  Tensor x = ones({2}).requires_grad_();
  Tensor y = x * 2;
  EXPECT_THROW(y.requires_grad_(false), Error);
  EXPECT_NO_THROW(y.requires_grad_(true));
  x.requires_grad_(false);
  EXPECT_FALSE((x * 2).requires_grad());
}

TEST(Autograd, HooksSeeAndReplaceGradients) {
  Tensor x = from_vector<float>({1, 2}).requires_grad_();
  Tensor y = x * 2;
  Tensor seen;
  y.register_hook([&](const Tensor& g) {
    seen = g.clone();
    return g * 10;  // replaces the gradient flowing on from y
  });
  const size_t removed = x.register_hook([](const Tensor& g) { return g * 1000; });
  x.remove_hook(removed);
  size_t leaf_calls = 0;
  x.register_hook([&](const Tensor&) {
    ++leaf_calls;
    return Tensor();  // undefined: leaves the gradient as it is
  });
  y.sum().backward();
  expect_values(seen, {1, 1}, {2});
  expect_values(x.grad(), {20, 20}, {2});
  EXPECT_EQ(leaf_calls, 1u);
}

TEST(Autograd, RetainGradKeepsANonLeafGradient) {
  Tensor x = from_vector<float>({1, 2}).requires_grad_();
  Tensor y = x * x;
  Tensor z = y * 3;
  y.retain_grad();
  EXPECT_TRUE(y.retains_grad());
  z.sum().backward();
  expect_values(y.grad(), {3, 3}, {2});
  EXPECT_FALSE(z.grad().defined());  // not retained
}

TEST(Autograd, BackwardOnALeafAccumulatesIntoItself) {
  Tensor x = from_vector<float>({5}).requires_grad_();
  x.backward();
  expect_values(x.grad(), {1}, {1});
}

TEST(Autograd, TwoGraphsOverOneLeafDoNotInterfere) {
  Tensor w = from_vector<double>({2}).requires_grad_();
  Tensor loss_a = (w * 3).sum();
  Tensor loss_b = (w * w).sum();
  loss_b.backward();
  expect_values(w.grad(), {4}, {1});
  w.zero_grad();
  loss_a.backward();
  expect_values(w.grad(), {3}, {1});
}

TEST(Autograd, LeafGradientsNeverShareABuffer) {
  // add's backward hands the same gradient to both inputs.
  Tensor a = zeros({3}).requires_grad_();
  Tensor b = zeros({3}).requires_grad_();
  (a + b).sum().backward();
  EXPECT_FALSE(a.grad().shares_storage(b.grad()));
  {
    NoGradGuard no_grad;
    a.mutable_grad().add_(1);
  }
  expect_values(b.grad(), {1, 1, 1}, {3});
}

TEST(Autograd, EmbeddingPaddingRowGetsNoGradient) {
  Tensor weight = ones({4, 2}).requires_grad_();
  const Tensor ids = from_vector<int64_t>({1, 0, 1, 3}, {2, 2});
  embedding(weight, ids, /*padding_idx=*/0).sum().backward();
  expect_values(weight.grad(), {0, 0, 2, 2, 0, 0, 1, 1}, {4, 2});
  weight.zero_grad();
  embedding(weight, ids, -1).sum().backward();  // -1 is row 3
  expect_values(weight.grad(), {1, 1, 2, 2, 0, 0, 0, 0}, {4, 2});
  EXPECT_THROW(embedding(weight, ids, 4), Error);
}

TEST(Autograd, DropoutIsTheIdentityWhenNotTrainingAndScalesWhenTraining) {
  Tensor x = ones({1000}).requires_grad_();
  EXPECT_TRUE(dropout(x, 0.5, /*training=*/false).is_same(x));
  Generator g(3);
  Tensor y = dropout(x, 0.25, true, &g);
  const auto v = testing::values(y);
  int64_t kept = 0;
  for (double e : v) {
    EXPECT_TRUE(e == 0 || std::abs(e - 1 / 0.75) < 1e-6) << e;
    kept += e != 0;
  }
  EXPECT_NEAR(kept, 750, 60);
  (void)rand({100}, kFloat32, &g);  // the backward's mask is the forward's, not a new draw
  y.sum().backward();
  testing::expect_close(x.grad(), y.detach());
  expect_values(dropout(ones({3}), 1.0), {0, 0, 0}, {3});
  EXPECT_THROW(dropout(x, 1.5), Error);
  EXPECT_THROW(dropout(ones({3}, kInt64), 0.5), Error);
}

// The mask is no tensor, but it is exactly the one kernels/philox.h
// documents (RandomKind::DropoutKeep: element i kept when draw i % 8 of block
// offset + i / 8 is below dropout_threshold(1 - p)), scaled by 1 / (1 - p),
// in every floating dtype, and the generator moves on by the blocks it used.
TEST(Autograd, DropoutDrawsTheDocumentedMask) {
  for (DType dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    Generator data(1);
    const Tensor x = randn({7, 33}, dtype, &data);
    Generator g(9);
    const uint64_t offset = g.state().offset;
    const Tensor y = dropout(x, 0.3, true, &g);
    std::vector<double> keep(x.numel());
    for (int64_t i = 0; i < x.numel(); ++i) {
      const kernels::Philox4x32 block =
          kernels::philox4x32_10(offset + static_cast<uint64_t>(i / 8), 0, 9);
      const bool kept =
          kernels::dropout_draw(block, static_cast<int>(i % 8)) < kernels::dropout_threshold(0.7);
      keep[i] = kept ? 1.0 : 0.0;
    }
    const Tensor mask = from_vector(keep, x.shape()).to(dtype) * (1 / 0.7);
    EXPECT_EQ(testing::values(y), testing::values(x * mask)) << dtype_name(dtype);
    EXPECT_EQ(g.state().offset,
              offset + kernels::philox_blocks_used(x.numel(), kernels::RandomKind::DropoutKeep));
  }
}

// dropout_add is residual + dropout in one pass, with the same draws, and
// its gradients are the mask for t and the identity for the residual.
TEST(Autograd, DropoutAddIsTheResidualPlusDropout) {
  Generator data(2);
  const Tensor t = randn({5, 64}, kFloat32, &data).requires_grad_();
  const Tensor r = randn({5, 64}, kFloat32, &data).requires_grad_();
  Generator g1(4), g2(4);
  const Tensor fused = dropout_add(t, r, 0.25, true, &g1);
  const Tensor dropped = dropout(t.detach(), 0.25, true, &g2);
  testing::expect_close(fused, r.detach() + dropped);
  EXPECT_EQ(g1.state().offset, g2.state().offset);
  fused.sum().backward();
  testing::expect_close(t.grad(), dropped / t.detach());
  testing::expect_close(r.grad(), ones({5, 64}));
  // A broadcast residual, or no training: the composition.
  Generator g3(4);
  const Tensor row = randn({64}, kFloat32, &data);
  testing::expect_close(dropout_add(t.detach(), row, 0.25, true, &g3), row + dropped);
  testing::expect_close(dropout_add(t.detach(), r.detach(), 0.25, false), r.detach() + t.detach());
  EXPECT_THROW(dropout_add(t, r, -0.1), Error);
  // Bit for bit: the dropout rounded, then the residual added (not one
  // fused multiply-add, which the compiler may make of a single loop).
  for (DType dtype : {kFloat32, kFloat64, kBFloat16, kFloat16}) {
    const Tensor td = randn({3, 700}, kFloat32, &data).to(dtype);
    const Tensor rd = randn({3, 700}, kFloat32, &data).to(dtype);
    Generator g4(5), g5(5);
    EXPECT_EQ(testing::values(dropout_add(td, rd, 0.25, true, &g4)),
              testing::values(rd + dropout(td, 0.25, true, &g5)))
        << dtype_name(dtype);
  }
}

// dropout_add_layer_norm is layer_norm(residual + dropout(t)) in one pass:
// the composition's values, gradients (t, residual, weight, bias) and
// generator draws, for rows whose length is not a multiple of a Philox
// block's four draws and for a normalized shape of two dims.
TEST(Autograd, DropoutAddLayerNormIsTheComposition) {
  struct Case {
    Shape shape, normalized;
    DType dtype;
  };
  for (const Case& c : {Case{{3, 7, 13}, {13}, kFloat32}, Case{{5, 2, 3}, {2, 3}, kFloat64},
                        Case{{64, 128}, {128}, kFloat32}}) {
    Generator data(3);
    const Tensor t = randn(c.shape, c.dtype, &data), r = randn(c.shape, c.dtype, &data);
    const Tensor w = randn(c.normalized, c.dtype, &data), b = randn(c.normalized, c.dtype, &data);
    const Tensor g = randn(c.shape, c.dtype, &data);
    const auto leaves = [](std::initializer_list<Tensor> ts) {
      std::vector<Tensor> out;
      for (const Tensor& x : ts) out.push_back(x.clone().requires_grad_());
      return out;
    };
    const std::vector<Tensor> fused_in = leaves({t, r, w, b}), plain_in = leaves({t, r, w, b});
    Generator g1(9), g2(9);
    const Tensor fused = dropout_add_layer_norm(fused_in[0], fused_in[1], 0.3, true, &g1,
                                                c.normalized, fused_in[2], fused_in[3]);
    const Tensor plain = layer_norm(dropout_add(plain_in[0], plain_in[1], 0.3, true, &g2),
                                    c.normalized, plain_in[2], plain_in[3]);
    EXPECT_EQ(fused.grad_fn()->name(), "dropout_add_layer_norm");
    EXPECT_EQ(g1.state().offset, g2.state().offset);
    const double rtol = c.dtype == kFloat32 ? 1e-5 : 1e-12;
    testing::expect_close(fused, plain, rtol, rtol);
    (fused * g).sum().backward();
    (plain * g).sum().backward();
    for (size_t i = 0; i < fused_in.size(); ++i) {
      SCOPED_TRACE(i);
      testing::expect_close(fused_in[i].grad(), plain_in[i].grad(), rtol, rtol);
    }
  }
}

// Outside training, with p = 0 or a broadcast residual it is the
// composition; bad shapes are an Error naming the op.
TEST(Autograd, DropoutAddLayerNormFallsBackAndChecks) {
  Generator data(4);
  const Tensor t = randn({4, 6}, kFloat32, &data), r = randn({4, 6}, kFloat32, &data);
  const Tensor row = randn({6}, kFloat32, &data);
  testing::expect_close(dropout_add_layer_norm(t, r, 0.5, false, nullptr, {6}),
                        layer_norm(t + r, {6}));
  testing::expect_close(dropout_add_layer_norm(t, r, 0.0, true, nullptr, {6}),
                        layer_norm(t + r, {6}));
  Generator g1(2), g2(2);
  testing::expect_close(dropout_add_layer_norm(t, row, 0.5, true, &g1, {6}),
                        layer_norm(row + dropout(t, 0.5, true, &g2), {6}));
  try {
    Generator g(1);
    dropout_add_layer_norm(t, r, 0.5, true, &g, {5});
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dropout_add_layer_norm"), std::string::npos) << e.what();
  }
  EXPECT_THROW(dropout_add_layer_norm(t, r, 1.5, true, nullptr, {6}), Error);
}

TEST(Autograd, ErrorsInsideABackwardNameTheOp) {
  Tensor x = from_vector<float>({1, 2}).requires_grad_();
  Tensor y = x.exp();
  y.register_hook([](const Tensor&) { return ones({5}); });  // a wrong shape
  try {
    y.sum().backward();
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("hook"), std::string::npos) << e.what();
  }
}

TEST(Gradcheck, ReportsAWrongGradient) {
  // A hook that doubles an intermediate gradient makes the analytic gradient wrong.
  Tensor x = randn({3}, kFloat64).requires_grad_();
  auto fn = [](const std::vector<Tensor>& in) {
    Tensor y = in[0].sin();
    if (y.requires_grad()) y.register_hook([](const Tensor& g) { return g * 2; });
    return y * 3;
  };
  const autograd::GradcheckResult result = autograd::gradcheck(fn, {x});
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.report.find("input 0"), std::string::npos) << result.report;
  EXPECT_GT(result.worst_ratio, 1);
  EXPECT_FALSE(x.grad().defined());  // left as it was
}

TEST(Gradcheck, RefusesInputsItCannotCheck) {
  auto fn = [](const std::vector<Tensor>& in) { return in[0] * 2; };
  EXPECT_THROW(autograd::gradcheck(fn, {ones({2}).requires_grad_()}), Error);  // float32
  EXPECT_THROW(autograd::gradcheck(fn, {ones({2}, kFloat64)}), Error);         // no grad
  Tensor wide = ones({1}, kFloat64).expand({3}).detach().requires_grad_();
  EXPECT_THROW(autograd::gradcheck(fn, {wide}), Error);  // overlapping
}

TEST(AutogradMemory, BackwardFreesWhatTheGraphSaved) {
  const Tensor x = randn({64, 256});
  const Tensor w = randn({256, 256}).requires_grad_();
  const int64_t before = memory_stats().current_bytes;
  // Saved: x and w (matmul), tanh's output, exp's output: ~3 [64, 256] buffers.
  const Tensor loss = (matmul(x, w).tanh() * 2).exp().sum();
  const int64_t with_graph = memory_stats().current_bytes;
  EXPECT_GE(with_graph - before, 2 * 64 * 256 * 4);
  loss.backward();
  const int64_t after = memory_stats().current_bytes;
  // What is left: w's gradient and the loss itself (the nodes stay, empty).
  EXPECT_LE(after - before, 256 * 256 * 4 + 4096);
  EXPECT_TRUE(w.grad().defined());
}

TEST(AutogradMemory, DroppingTheLossWithoutBackwardFreesTheGraph) {
  const Tensor w = randn({128, 128}).requires_grad_();
  const int64_t before = memory_stats().current_bytes;
  {
    const Tensor loss = w.exp().sin().sum();
    EXPECT_GT(memory_stats().current_bytes, before);
  }
  EXPECT_EQ(memory_stats().current_bytes, before);
}

TEST(AutogradMemory, TenThousandTrainingStepsKeepMemoryFlat) {
  Generator gen(11);
  const Tensor x = randn({16, 32}, kFloat32, &gen);
  const Tensor target = randn({16, 8}, kFloat32, &gen);
  Tensor w1 = (randn({32, 32}, kFloat32, &gen) * 0.1).requires_grad_();
  Tensor w2 = (randn({32, 8}, kFloat32, &gen) * 0.1).requires_grad_();
  auto step = [&] {
    const Tensor out = matmul(matmul(x, w1).tanh(), w2);
    const Tensor loss = (out - target).pow(2).mean();
    loss.backward();
    NoGradGuard no_grad;
    for (Tensor* p : {&w1, &w2}) {
      p->sub_(p->grad(), 0.05);
      p->zero_grad();
    }
    return loss.item<double>();
  };
  const double first_loss = step();
  const int64_t steady = memory_stats().current_bytes;
  double last_loss = 0;
  for (int i = 1; i < 10000; ++i) {
    last_loss = step();
    ASSERT_EQ(memory_stats().current_bytes, steady) << "step " << i;
  }
  EXPECT_LT(last_loss, first_loss);  // and it learned something
}

}  // namespace
}  // namespace toadstool
