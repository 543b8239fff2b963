#pragma once
// Helpers of the data-parallel tests (test_ddp.cpp, test_zero.cpp): a small
// float64 MLP, a deterministic global batch that every rank can make, each
// rank's slice of it, and the single-process reference these are checked
// against. float64 keeps the reference and the distributed run within
// rounding (1e-12), so the 1e-6 bound tests the algorithm, not the dtype.
#include <algorithm>
#include <memory>
#include <vector>

#include "dist_test_util.h"

namespace toadstool::testing {

inline const std::vector<int64_t> kMlpSizes = {5, 8, 8, 3};

// An MLP {5, 8, 8, 3} (147 parameters) in float64, initialised from `seed`.
inline std::shared_ptr<nn::MLP> make_mlp(uint64_t seed,
                                         const std::vector<int64_t>& sizes = kMlpSizes) {
  manual_seed(seed);
  auto model = std::make_shared<nn::MLP>(sizes, "tanh");
  model->to(kFloat64);
  return model;
}

struct Batch {
  Tensor x;  // [B, 5] float64
  Tensor y;  // [B, 3] float64
};

// The global batch of step `step`: the same on every rank.
inline Batch global_batch(int step, int64_t batch) {
  manual_seed(1000 + static_cast<uint64_t>(step));
  return {randn({batch, kMlpSizes.front()}).to(kFloat64),
          randn({batch, kMlpSizes.back()}).to(kFloat64)};
}

// Rows [begin, begin + count) of a batch.
inline Batch rows(const Batch& b, int64_t begin, int64_t count) {
  return {b.x.narrow(0, begin, count), b.y.narrow(0, begin, count)};
}

// This rank's equal share of a batch whose size the world size divides.
inline Batch local_share(const Batch& b, const distributed::ProcessGroup& pg) {
  const int64_t per_rank = b.x.size(0) / pg.size();
  return rows(b, pg.rank() * per_rank, per_rank);
}

inline Tensor mse(const Tensor& prediction, const Tensor& target) {
  Tensor d = prediction - target;
  return (d * d).mean();
}

// The largest |a - b| over the elements of two tensors of one shape.
inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  return (a - b).abs().amax().item<double>();
}

// The largest |a - b| over two modules' parameters, in order.
inline double max_param_diff(const nn::Module& a, const nn::Module& b) {
  const std::vector<Tensor> pa = a.parameters();
  const std::vector<Tensor> pb = b.parameters();
  double worst = 0;
  for (size_t i = 0; i < pa.size(); ++i) {
    worst = std::max(worst, max_abs_diff(pa[i], pb[i]));
  }
  return worst;
}

// The largest |a.grad - b.grad| over two modules' parameters, in order,
// on any devices (compared on the CPU).
inline double max_grad_diff(const nn::Module& a, const nn::Module& b) {
  const std::vector<Tensor> pa = a.parameters();
  const std::vector<Tensor> pb = b.parameters();
  double worst = 0;
  for (size_t i = 0; i < pa.size(); ++i) {
    worst = std::max(worst, max_abs_diff(pa[i].grad().to(kCPU), pb[i].grad().to(kCPU)));
  }
  return worst;
}

// Ten steps (the check) of a global batch of 12: divisible by 2
// and 3 ranks.
inline constexpr int kSteps = 10;
inline constexpr int64_t kBatch = 12;

// lr 0.01: ten steps move the weights by about 0.1, so a wrong gradient
// shows far above the 1e-6 bound.
inline optim::AdamWOptions adamw_options() {
  optim::AdamWOptions o;
  o.lr = 0.01;
  return o;
}

// The one-process reference: `steps` AdamW steps of the MLP made from
// `seed` on the whole global batch of each step.
inline std::shared_ptr<nn::MLP> reference_run(uint64_t seed, int steps, int64_t batch) {
  auto model = make_mlp(seed);
  optim::AdamW opt(model->parameters(), adamw_options());
  for (int s = 0; s < steps; ++s) {
    const Batch b = global_batch(s, batch);
    mse((*model)(b.x), b.y).backward();
    opt.step();
    opt.zero_grad();
  }
  return model;
}

}  // namespace toadstool::testing
