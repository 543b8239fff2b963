// The CUDA LSTM step (kernels/cuda/lstm_cell.cu, the whole file) run on the
// CPU by the warp emulator (emulated_backend.h), against the CPU backend's
// entries on the same buffers: forward and backward, with a mask that
// leaves one batch row out of the step. Both run kernels/lstm_cell.h's unit
// functions; the CPU's vectorized exponentials may differ in the last bits
// (tolerance 1e-6 for float32, 1e-14 for float64).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "compare.h"
#include "emulated_backend.h"
#include "toadstool/kernels/dtype.h"
#include "toadstool/kernels/kernel_args.h"

namespace toadstool::kernels::cuda {
namespace {

constexpr int64_t kLstmBatch = 3, kLstmHidden = 37;

template <class T>
std::vector<T> normal_vector(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0, 1.5);
  std::vector<T> v(static_cast<size_t>(n));
  for (T& x : v) x = static_cast<T>(normal(rng));
  return v;
}

// Every output of one forward and backward.
template <class T>
struct Outputs {
  std::vector<T> acts = std::vector<T>(kLstmBatch * 4 * kLstmHidden, T(-7));
  std::vector<T> tanh_c = std::vector<T>(kLstmBatch * kLstmHidden, T(-7));
  std::vector<T> h = tanh_c, c = tanh_c, y = tanh_c;
  std::vector<T> dgates = acts;
  std::vector<T> dc_prev = tanh_c, dh_skip = tanh_c;
};

template <class T>
Outputs<T> run(const Backend& backend) {
  constexpr DType dtype = std::is_same_v<T, float> ? DType::Float32 : DType::Float64;
  const auto xproj = normal_vector<T>(kLstmBatch * 4 * kLstmHidden, 1);
  const auto hproj = normal_vector<T>(kLstmBatch * 4 * kLstmHidden, 2);
  const auto h_prev = normal_vector<T>(kLstmBatch * kLstmHidden, 3);
  const auto c_prev = normal_vector<T>(kLstmBatch * kLstmHidden, 4);
  const auto dh = normal_vector<T>(kLstmBatch * kLstmHidden, 5);
  const auto dc = normal_vector<T>(kLstmBatch * kLstmHidden, 6);
  const auto dy = normal_vector<T>(kLstmBatch * kLstmHidden, 7);
  const bool mask[kLstmBatch] = {true, false, true};
  Outputs<T> o;
  LstmCellForward f;
  f.batch = kLstmBatch;
  f.hidden = kLstmHidden;
  f.xproj = xproj.data();
  f.hproj = hproj.data();
  f.h_prev = h_prev.data();
  f.c_prev = c_prev.data();
  f.mask = mask;
  f.acts = o.acts.data();
  f.tanh_c = o.tanh_c.data();
  f.h = o.h.data();
  f.c = o.c.data();
  f.y = o.y.data();
  backend.lstm_cell_forward(dtype, f);
  LstmCellBackward b;
  b.batch = kLstmBatch;
  b.hidden = kLstmHidden;
  b.acts = o.acts.data();
  b.tanh_c = o.tanh_c.data();
  b.c_prev = c_prev.data();
  b.mask = mask;
  b.dh = dh.data();
  b.dc = dc.data();
  b.dy = dy.data();
  b.dgates = o.dgates.data();
  b.dc_prev = o.dc_prev.data();
  b.dh_skip = o.dh_skip.data();
  backend.lstm_cell_backward(dtype, b);
  return o;
}

template <class T>
void expect_close(const std::vector<T>& got, const std::vector<T>& want, const char* what) {
  const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-14;
  expect_close_values(got, want, tol, tol,
                      std::string(what) + (std::is_same_v<T, float> ? " float32" : " float64"));
}

template <class T>
void check() {
  const Outputs<T> cpu = run<T>(cpu_backend());
  const Outputs<T> gpu = run<T>(emulated_backend());
  expect_close(gpu.acts, cpu.acts, "acts");
  expect_close(gpu.tanh_c, cpu.tanh_c, "tanh_c");
  expect_close(gpu.h, cpu.h, "h");
  expect_close(gpu.c, cpu.c, "c");
  expect_close(gpu.y, cpu.y, "y");
  expect_close(gpu.dgates, cpu.dgates, "dgates");
  expect_close(gpu.dc_prev, cpu.dc_prev, "dc_prev");
  expect_close(gpu.dh_skip, cpu.dh_skip, "dh_skip");
}

TEST(LstmCellEmulated, ForwardAndBackwardMatchTheCpu) {
  check<float>();
  check<double>();
}

}  // namespace
}  // namespace toadstool::kernels::cuda
