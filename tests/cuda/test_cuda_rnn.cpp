// The LSTM step kernels (kernels/lstm_cell.h, the CPU loop and the CUDA
// kernel) against each other, masked rows included, and LSTM / GRU modules
// on the GPU against the CPU: outputs, final states and every gradient.
#include "cuda_test_util.h"
#include "toadstool/tensor/lstm_cell.h"

namespace toadstool {
namespace {

using testing::expect_matches_cpu;
using testing::kCuda;
using testing::Tolerance;

TEST(CudaRnn, LstmCellKernelsMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  const int64_t B = 5, H = 7;
  Generator gen(31);
  const Tensor mask = from_vector<bool>({true, false, true, true, false});
  for (DType dtype : {kFloat32, kFloat64}) {
    SCOPED_TRACE(dtype_name(dtype));
    auto draw = [&](const Shape& shape) { return randn(shape, kFloat64, &gen).to(dtype); };
    const Tensor xproj = draw({B, 4 * H}), hproj = draw({B, 4 * H});
    const Tensor h_prev = draw({B, H}), c_prev = draw({B, H});
    const Tensor dh = draw({B, H}), dc = draw({B, H}), dy = draw({B, H});
    auto run = [&](Device device) {
      auto on = [&](const Tensor& t) { return t.to(device); };
      auto out = [&](const Shape& shape) {
        return empty(shape, TensorOptions(dtype).device(device));
      };
      std::vector<Tensor> r = {out({B, 4 * H}), out({B, H}),     out({B, H}), out({B, H}),
                               out({B, H}),     out({B, 4 * H}), out({B, H}), out({B, H})};
      native::lstm_cell_forward(on(xproj), on(hproj), on(h_prev), on(c_prev), on(mask), r[0], r[1],
                                r[2], r[3], r[4]);
      native::lstm_cell_backward(r[0], r[1], on(c_prev), on(mask), on(dh), on(dc), on(dy), r[5],
                                 r[6], r[7]);
      return r;
    };
    const std::vector<Tensor> cpu = run(kCPU), gpu = run(kCuda);
    const char* names[] = {"acts", "tanh_c", "h", "c", "y", "dgates", "dc_prev", "dh_skip"};
    for (size_t i = 0; i < cpu.size(); ++i) expect_matches_cpu(gpu[i], cpu[i], names[i]);
  }
}

// Two layers, bidirectional, batch first, with lengths: the cuBLAS GEMMs
// sum in another order than the CPU's, so float32 agrees to about 1e-5.
template <class Module, class Run>
void expect_module_matches_cpu(const Run& run) {
  manual_seed(3);
  Module cpu(3, 5, {.num_layers = 2, .batch_first = true, .bidirectional = true});
  Module gpu(3, 5, {.num_layers = 2, .batch_first = true, .bidirectional = true});
  gpu.load_state_dict(cpu.state_dict());
  gpu.to(kCuda);
  Generator gen(4);
  const Tensor x = randn({4, 6, 3}, kFloat32, &gen);
  const Tensor lengths = from_vector<int64_t>({6, 2, 5, 1});
  const Tensor x_cpu = x.clone().requires_grad_(), x_gpu = x.to(kCuda).requires_grad_();
  const std::vector<Tensor> on_cpu = run(cpu, x_cpu, lengths);
  const std::vector<Tensor> on_gpu = run(gpu, x_gpu, lengths);
  const Tolerance tol{1e-4, 1e-5};
  for (size_t i = 0; i < on_cpu.size(); ++i) {
    expect_matches_cpu(on_gpu[i], on_cpu[i], "result " + std::to_string(i), tol);
  }
  expect_matches_cpu(x_gpu.grad(), x_cpu.grad(), "grad of x", tol);
  const auto cpu_params = cpu.named_parameters(), gpu_params = gpu.named_parameters();
  for (size_t i = 0; i < cpu_params.size(); ++i) {
    expect_matches_cpu(gpu_params[i].second.grad(), cpu_params[i].second.grad(),
                       "grad of " + cpu_params[i].first, tol);
  }
}

TEST(CudaRnn, LstmAndGruMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  expect_module_matches_cpu<nn::LSTM>([](nn::LSTM& lstm, const Tensor& x, const Tensor& lengths) {
    auto [out, state] = lstm.forward(x, std::nullopt, lengths);
    (out.sum() + state.h.pow(2).sum() + state.c.sum()).backward();
    return std::vector<Tensor>{out.detach(), state.h.detach(), state.c.detach()};
  });
  expect_module_matches_cpu<nn::GRU>([](nn::GRU& gru, const Tensor& x, const Tensor& lengths) {
    auto [out, h_n] = gru.forward(x, {}, lengths);
    (out.sum() + h_n.pow(2).sum()).backward();
    return std::vector<Tensor>{out.detach(), h_n.detach()};
  });
}

}  // namespace
}  // namespace toadstool
