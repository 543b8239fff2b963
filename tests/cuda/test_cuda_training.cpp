// Whole training steps on the GPU against the CPU: ten AdamW steps of the
// TransformerClassifier, the trainer with CudaCallback and mixed precision,
// and the GradScaler's device-side skip.
#include "cuda_test_util.h"

namespace toadstool::testing {
namespace {

nn::TransformerClassifierOptions small_classifier() {
  nn::TransformerClassifierOptions o;
  o.vocab_size = 50;
  o.d_model = 32;
  o.nhead = 4;
  o.num_layers = 2;
  o.dim_feedforward = 64;
  o.dropout = 0;  // the same numbers on both devices without comparing masks
  o.max_len = 16;
  o.bigram_buckets = 64;
  o.bigram_dim = 8;
  return o;
}

// ids [8, 12] with padding at the ends of some rows, labels [8].
std::pair<Tensor, Tensor> batch() {
  Generator gen(3);
  Tensor ids = randint(2, 50, {8, 12}, kInt64, &gen);
  ids.narrow(1, 9, 3).narrow(0, 0, 4).fill_(0);
  return {ids, randint(0, 2, {8}, kInt64, &gen)};
}

TEST(CudaTraining, TenAdamWStepsOfTheClassifierMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  manual_seed(1);
  nn::TransformerClassifier cpu(small_classifier()), gpu(small_classifier());
  gpu.load_state_dict(cpu.state_dict());
  gpu.to(kCuda);
  // eps 1e-6: the key slice of the attention's in_proj_bias has a gradient
  // that is zero but for rounding (a per-row constant under the softmax),
  // different on each device; Adam with eps 1e-8 would turn that noise into
  // steps of 5e-5 with random signs.
  optim::AdamWOptions options;
  options.eps = 1e-6;
  optim::AdamW cpu_opt(cpu.parameters(), options);
  optim::AdamW gpu_opt(gpu.parameters(), options);
  const auto [ids, labels] = batch();
  for (int step = 0; step < 10; ++step) {
    cpu_opt.zero_grad();
    gpu_opt.zero_grad();
    cross_entropy(cpu(ids), labels).backward();
    cross_entropy(gpu(ids.to(kCuda)), labels.to(kCuda)).backward();
    cpu_opt.step();
    gpu_opt.step();
  }
  const TensorDict a = cpu.state_dict(), b = gpu.state_dict();
  for (const auto& [name, tensor] : a) {
    expect_matches_cpu(*b.find(name), tensor, name, Tolerance{1e-4, 1e-4});
  }
}

TEST(CudaTraining, TheTrainerRunsOnTheGpuInEveryPrecision) {
  SKIP_WITHOUT_GPU();
  for (const std::string precision : {"32", "bf16-mixed", "16-mixed"}) {
    manual_seed(2);
    auto model = std::make_shared<nn::TransformerClassifier>(small_classifier());
    model->to(kCuda);
    auto optimizer = std::make_shared<optim::AdamW>(model->parameters(), optim::AdamWOptions{});
    const auto [ids, labels] = batch();
    train::DataLoader loader(std::make_shared<train::TensorDataset>(ids, labels),
                             {.batch_size = 4});
    train::Trainer trainer(model, optimizer, std::make_shared<nn::CrossEntropyLoss>(),
                           {std::make_shared<train::CudaCallback>()}, {.precision = precision});
    const double before = trainer.eval(loader);
    trainer.fit(20, loader);
    EXPECT_LT(trainer.eval(loader), before) << precision;
    for (const auto& p : model->parameters()) EXPECT_EQ(p.device(), kCuda);
  }
}

TEST(CudaTraining, TheScalerSkipsAnOverflowOnTheDevice) {
  SKIP_WITHOUT_GPU();
  manual_seed(4);
  nn::Linear model(4, 2);
  model.to(kCuda);
  optim::AdamW optimizer(model.parameters(), optim::AdamWOptions{});
  optim::GradScaler scaler(optim::GradScalerOptions{.init_scale = 1024});
  const Tensor x = ones({3, 4}, kCuda);
  const auto before = values(model.weight);
  scaler.scale(sum(model(x)) * INFINITY).backward();
  scaler.step(optimizer);
  scaler.update();
  EXPECT_EQ(values(model.weight), before);
  EXPECT_EQ(optimizer.state(model.weight), nullptr);
  EXPECT_EQ(scaler.get_scale(), 512);
  optimizer.zero_grad();
  scaler.scale(sum(model(x))).backward();
  scaler.step(optimizer);
  scaler.update();
  EXPECT_NE(values(model.weight), before);
  EXPECT_EQ(optimizer.state(model.weight)->step, 1);
}

}  // namespace
}  // namespace toadstool::testing
