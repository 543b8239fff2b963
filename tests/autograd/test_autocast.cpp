// Autocast: which ops change dtype inside a scope, gradients reaching the
// float32 leaves, scopes nesting, backward inside a scope, and the 16-bit
// GEMM the lower-precision ops run.
#include "test_util.h"

namespace toadstool::testing {
namespace {

Tensor random(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return randn(shape, {}, &gen);
}

TEST(Autocast, OffByDefault) {
  EXPECT_FALSE(is_autocast_enabled(DeviceType::CPU));
  EXPECT_FALSE(is_autocast_enabled(DeviceType::CUDA));
  EXPECT_EQ(matmul(random({2, 3}, 1), random({3, 4}, 2)).dtype(), kFloat32);
}

TEST(Autocast, LowerPrecisionOpsRunInTheAutocastDtype) {
  const Tensor a = random({4, 8}, 1), b = random({8, 5}, 2);
  const Tensor w = random({5, 8}, 3), bias = random({5}, 4);
  const Tensor expected = matmul(a, b);
  for (DType dtype : {kBFloat16, kFloat16}) {
    const Autocast autocast(DeviceType::CPU, dtype);
    EXPECT_TRUE(is_autocast_enabled(DeviceType::CPU));
    EXPECT_EQ(autocast_dtype(DeviceType::CPU), dtype);
    const Tensor out = matmul(a, b);
    EXPECT_EQ(out.dtype(), dtype);
    expect_close(out, expected, 3e-2, 3e-2);
    EXPECT_EQ(linear(a, w, bias).dtype(), dtype);
    EXPECT_EQ(nn::Linear(8, 5)(a).dtype(), dtype);
    EXPECT_EQ(scaled_dot_product_attention(random({2, 3, 8}, 5), random({2, 4, 8}, 6),
                                           random({2, 4, 8}, 7))
                  .dtype(),
              dtype);
    // float64 is never lowered.
    EXPECT_EQ(matmul(a.to(kFloat64), b.to(kFloat64)).dtype(), kFloat64);
  }
}

TEST(Autocast, Float32OpsWidenSixteenBitInputs) {
  const Autocast autocast(DeviceType::CPU, kBFloat16);
  const Tensor x = random({3, 6}, 1).to(kBFloat16);
  EXPECT_EQ(softmax(x, 1).dtype(), kFloat32);
  EXPECT_EQ(log_softmax(x, 1).dtype(), kFloat32);
  EXPECT_EQ(exp(x).dtype(), kFloat32);
  EXPECT_EQ(log(abs(x) + 1).dtype(), kFloat32);  // abs and add keep bf16; log widens
  EXPECT_EQ(sum(x).dtype(), kFloat32);
  EXPECT_EQ(layer_norm(x, {6}).dtype(), kFloat32);
  EXPECT_EQ(cross_entropy(x, from_vector<int64_t>({0, 2, 5}, {3})).dtype(), kFloat32);
  EXPECT_EQ(mse_loss(x, zeros({3, 6})).dtype(), kFloat32);
  // Ops not on the list keep their inputs' dtype.
  EXPECT_EQ(relu(x).dtype(), kBFloat16);
  EXPECT_EQ(x.view({18}).dtype(), kBFloat16);
}

// The add & norm with a 16-bit block under CPU autocast reads the block as
// its float32 cast and rounds its gradient as the cast's backward does,
// without the cast: bit for bit the op on block.to(float32) outside
// autocast, values and all four gradients, with rows of whole keep-bit
// words (128) and without (72), in training and in eval.
TEST(Autocast, AddAndNormReadsASixteenBitBlockAsItsCast) {
  for (DType dtype : {kBFloat16, kFloat16}) {
    for (int64_t cols : {128, 72}) {
      for (bool training : {true, false}) {
        SCOPED_TRACE(::testing::Message() << dtype_name(dtype) << " cols " << cols
                                          << (training ? " training" : " eval"));
        const Tensor block = random({6, cols}, 1).to(dtype), residual = random({6, cols}, 2);
        const Tensor w = random({cols}, 3), b = random({cols}, 4), g = random({6, cols}, 5);
        auto run = [&](bool autocast) {
          std::vector<Tensor> in = {block.clone().requires_grad_(),
                                    residual.clone().requires_grad_(), w.clone().requires_grad_(),
                                    b.clone().requires_grad_()};
          Generator gen(9);
          Tensor y;
          if (autocast) {
            const Autocast scope(DeviceType::CPU, dtype);
            y = dropout_add_layer_norm(in[0], in[1], 0.2, training, &gen, {cols}, in[2], in[3]);
            // In training the block reaches the fused op as it is (no cast node).
            if (training) EXPECT_EQ(y.grad_fn()->inputs[0].node->name(), "accumulate_grad");
          } else {
            y = dropout_add_layer_norm(in[0].to(kFloat32), in[1], 0.2, training, &gen, {cols},
                                       in[2], in[3]);
          }
          (y * g).sum().backward();
          in.insert(in.begin(), y.detach());
          return in;
        };
        const std::vector<Tensor> got = run(true), want = run(false);
        EXPECT_EQ(got[0].dtype(), kFloat32);
        EXPECT_EQ(got[1].grad().dtype(), dtype);
        EXPECT_EQ(values(got[0]), values(want[0]));
        for (size_t i = 1; i < got.size(); ++i) {
          EXPECT_EQ(values(got[i].grad()), values(want[i].grad())) << "gradient " << i;
        }
      }
    }
  }
}

TEST(Autocast, ScopesNestAndRestore) {
  {
    const Autocast outer(DeviceType::CPU, kBFloat16);
    {
      const Autocast inner(DeviceType::CPU, kFloat16);
      EXPECT_EQ(matmul(random({2, 2}, 1), random({2, 2}, 2)).dtype(), kFloat16);
      const Autocast off(DeviceType::CPU, std::nullopt, /*enabled=*/false);
      EXPECT_EQ(matmul(random({2, 2}, 1), random({2, 2}, 2)).dtype(), kFloat32);
    }
    EXPECT_EQ(autocast_dtype(DeviceType::CPU), kBFloat16);
    EXPECT_EQ(matmul(random({2, 2}, 1), random({2, 2}, 2)).dtype(), kBFloat16);
  }
  EXPECT_FALSE(is_autocast_enabled(DeviceType::CPU));
  // A CUDA scope leaves CPU tensors alone; the defaults follow PyTorch.
  const Autocast cuda(DeviceType::CUDA);
  EXPECT_EQ(autocast_dtype(DeviceType::CUDA), kFloat16);
  EXPECT_EQ(matmul(random({2, 2}, 1), random({2, 2}, 2)).dtype(), kFloat32);
}

TEST(Autocast, GradientsReachTheFloat32Leaves) {
  const Tensor x = random({6, 8}, 1);
  nn::Linear reference(8, 3), mixed(8, 3);
  mixed.load_state_dict(reference.state_dict());
  const Tensor target = from_vector<int64_t>({0, 1, 2, 0, 1, 2}, {6});
  cross_entropy(reference(x), target).backward();
  Tensor loss;
  {
    const Autocast autocast(DeviceType::CPU, kBFloat16);
    loss = cross_entropy(mixed(x), target);
  }
  EXPECT_EQ(loss.dtype(), kFloat32);
  loss.backward();
  EXPECT_EQ(mixed.weight.grad().dtype(), kFloat32);
  EXPECT_EQ(mixed.bias.grad().dtype(), kFloat32);
  expect_close(mixed.weight.grad(), reference.weight.grad(), 5e-2, 1e-2);
  expect_close(mixed.bias.grad(), reference.bias.grad(), 5e-2, 1e-2);
}

// The engine turns autocast off: derivatives run in their forward's dtypes
// whether backward is called inside the scope or after it.
TEST(Autocast, BackwardInsideAScopeEqualsBackwardAfterIt) {
  const Tensor x = random({4, 5}, 1);
  Tensor w1 = random({5, 3}, 2).requires_grad_(), w2 = w1.detach().clone().requires_grad_();
  {
    const Autocast autocast(DeviceType::CPU, kBFloat16);
    sum(exp(matmul(x, w1))).backward();
  }
  Tensor loss;
  {
    const Autocast autocast(DeviceType::CPU, kBFloat16);
    loss = sum(exp(matmul(x, w2)));
  }
  loss.backward();
  EXPECT_EQ(values(w1.grad()), values(w2.grad()));
}

// A parameter is cast once: its 16-bit copy serves every use while the
// parameter is unchanged, the optimizer step rewrites it in place, and a
// parameter changed otherwise is cast again. Gradients still reach the
// float32 leaf.
TEST(Autocast, ParametersKeepTheirSixteenBitCopy) {
  nn::Linear layer(8, 5);
  const Tensor x = random({4, 8}, 1);
  optim::SGD sgd(layer.parameters(), optim::SGDOptions{.lr = 0.1});
  const Tensor& w = layer.weight;
  const auto cast = [&] {
    const Autocast autocast(DeviceType::CPU, kBFloat16);
    return autocast::input(autocast::Op::linear, w);
  };
  const Tensor first = cast(), second = cast();
  EXPECT_EQ(first.dtype(), kBFloat16);
  EXPECT_EQ(first.data_ptr(), second.data_ptr());  // one copy, not a cast per use
  expect_close(first, w.detach().to(kBFloat16), 0, 0);
  // The gradient through the copy reaches the leaf in float32.
  {
    const Autocast autocast(DeviceType::CPU, kBFloat16);
    layer(x).sum().backward();
  }
  EXPECT_EQ(w.grad().dtype(), kFloat32);
  expect_close(w.grad(), x.sum({0}, true).expand({5, 8}), 1e-2, 1e-2);
  // The step rewrites the same copy with the new values.
  sgd.step();
  const Tensor after_step = cast();
  EXPECT_EQ(after_step.data_ptr(), first.data_ptr());
  expect_close(after_step, w.detach().to(kBFloat16), 0, 0);
  // An update outside the optimizer: cast again from the new values.
  {
    NoGradGuard no_grad;
    Tensor(w).add_(1.0);
  }
  expect_close(cast(), w.detach().to(kBFloat16), 0, 0);
  // A write into a handed-out copy is never served again.
  {
    NoGradGuard no_grad;
    Tensor written = cast();
    written.fill_(0.0);
  }
  expect_close(cast(), w.detach().to(kBFloat16), 0, 0);
  // Tensors that are not parameters are cast per use.
  const Autocast autocast(DeviceType::CPU, kBFloat16);
  EXPECT_NE(autocast::input(autocast::Op::linear, x).data_ptr(),
            autocast::input(autocast::Op::linear, x).data_ptr());
}

// A graph saved before a step holds the old copy: its backward after the
// step is refused, as for a float32 weight changed in place.
TEST(Autocast, ABackwardAfterTheStepThatRewroteTheCopyIsRefused) {
  nn::Linear layer(8, 5);
  optim::SGD sgd(layer.parameters(), optim::SGDOptions{.lr = 0.1});
  Tensor loss;
  {
    const Autocast autocast(DeviceType::CPU, kBFloat16);
    layer(random({4, 8}, 2)).sum().backward();
    loss = layer(random({4, 8}, 3)).sum();
  }
  sgd.step();
  EXPECT_THROW(loss.backward(), Error);
}

TEST(Autocast, RejectsAFullPrecisionDtype) {
  EXPECT_ERROR(Autocast(DeviceType::CPU, kFloat32), "Autocast: expected float16 or bfloat16");
}

// matmul of 16-bit operands: float32 accumulation, one rounding at the end,
// for plain, transposed and batched (broadcast) operands.
TEST(Autocast, SixteenBitMatmulAccumulatesInFloat32) {
  for (DType dtype : {kBFloat16, kFloat16}) {
    const Tensor a = random({3, 5, 7}, 1).to(dtype), b = random({6, 7}, 2).to(dtype);
    const Tensor out = matmul(a, b.t());
    EXPECT_EQ(out.dtype(), dtype);
    const Tensor expected = matmul(a.to(kFloat32), b.to(kFloat32).t()).to(dtype);
    expect_close(out, expected, 1e-2, 1e-3);
    const Tensor batched = matmul(a.transpose(1, 2), random({5, 4}, 3).to(dtype));
    expect_close(batched, matmul(a.to(kFloat32).transpose(1, 2), random({5, 4}, 3)).to(dtype), 2e-2,
                 2e-2);
  }
}

}  // namespace
}  // namespace toadstool::testing
