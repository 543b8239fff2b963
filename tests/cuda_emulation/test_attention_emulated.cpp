// The CUDA attention entries (kernels/cuda/attention.cu and
// attention_tiled.cu, whole: the choice between the tiled kernels, the
// fixed-order ones and the float32 copies of a 16-bit call, launches and
// scratch) run on the CPU by the warp emulator (emulated_backend.h; the
// shim stands for an sm_90 GPU), against the CPU backend's entries on the
// same call (attention_layout.h's): out, lse and the three gradients, with
// a broadcast additive mask, a causal mask and dropout. Each path: float32
// and bfloat16 with E <= 128 (tiled), float64 (fixed-order), float32 with
// E = 160 (fixed-order), bfloat16 and float16 with E = 160 (float32
// copies, then fixed-order).
//
// Tolerances, of the largest value of each result: float64 1e-12; float32
// 1e-5; 16-bit 2e-2 (the CPU's 16-bit path rounds the probabilities to the
// 16-bit type before multiplying, as the tiled kernels do, but the float32
// copies do not).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "attention_layout.h"
#include "compare.h"
#include "element_bytes.h"
#include "emulated_backend.h"
#include "toadstool/kernels/dtype.h"
#include "toadstool/kernels/kernel_args.h"

// Its own namespace: the unity build shares a file with
// test_attention_tiled_emulated.cpp, whose names are alike.
namespace toadstool::kernels::cuda::attention_entries {
namespace {

struct Problem {
  DType dtype;
  int64_t L, S, E, Ev;
  bool causal, mask;
  double dropout_p;
  const char* path;
};

// Exactly representable in every dtype here: multiples of 1/64 in [-2, 2).
Bytes random_buffer(DType dtype, int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> steps(-128, 127);
  return make_elements(dtype, n, [&](int64_t) { return steps(rng) / 64.0; });
}

// The results of one forward and backward, as doubles.
struct Results {
  std::vector<double> out, lse, grad_q, grad_k, grad_v;
};

Results run(const Backend& backend, const Problem& pb) {
  const DType dt = pb.dtype;
  const size_t size = element_size(dt);
  const auto q = random_buffer(dt, kHeads * pb.L * pb.E, 1);
  const auto k = random_buffer(dt, kHeads * pb.S * pb.E, 2);
  const auto v = random_buffer(dt, kHeads * pb.S * pb.Ev, 3);
  const auto grad_out = random_buffer(dt, kHeads * pb.L * pb.Ev, 4);
  // The mask: float32 for 16-bit calls, else the call's dtype.
  const DType mask_dtype = dt == DType::Float64 ? DType::Float64 : DType::Float32;
  const auto mask = random_buffer(mask_dtype, pb.L * pb.S, 5);
  const DType lse_dtype = mask_dtype;
  Bytes out(kHeads * pb.L * pb.Ev * size, 0xff);
  Bytes lse(kHeads * pb.L * element_size(lse_dtype), 0xff);
  Bytes grad_q(kHeads * pb.L * pb.E * size, 0xff);
  Bytes grad_k(kHeads * pb.S * pb.E * size, 0xff);
  Bytes grad_v(kHeads * pb.S * pb.Ev * size, 0xff);

  AttentionCall call = attention_layout<void>(pb.L, pb.S, pb.E, pb.Ev, q.data(), k.data(), v.data(),
                                              pb.mask ? mask.data() : nullptr);
  call.causal = pb.causal;
  call.scale = 1.0 / std::sqrt(static_cast<double>(pb.E));
  call.dropout_p = pb.dropout_p;
  call.seed = 77;
  call.offset = 9;

  backend.attention_forward(dt, call, out.data(), lse.data());
  backend.attention_backward(dt, call, out.data(), lse.data(), grad_out.data(), grad_q.data(),
                             grad_k.data(), grad_v.data());
  return {to_doubles(dt, out), to_doubles(lse_dtype, lse), to_doubles(dt, grad_q),
          to_doubles(dt, grad_k), to_doubles(dt, grad_v)};
}

// Within tol of the result's largest finite value.
void expect_close(const std::vector<double>& got, const std::vector<double>& want, double tol,
                  const std::string& what) {
  expect_close_values(got, want, 0.0, tol * largest_finite(want), what);
}

void check(const Problem& pb) {
  const std::string what = std::string(pb.path) + ", " + dtype_name(pb.dtype) +
                           (pb.causal ? ", causal" : "") + (pb.mask ? ", mask" : "") +
                           (pb.dropout_p > 0 ? ", dropout" : "");
  const Results want = run(cpu_backend(), pb);
  const Results got = run(emulated_backend(), pb);
  const double tol = pb.dtype == DType::Float64 ? 1e-12 : pb.dtype == DType::Float32 ? 1e-5 : 2e-2;
  expect_close(got.out, want.out, tol, what + ": out");
  expect_close(got.lse, want.lse, pb.dtype == DType::Float64 ? 1e-12 : 1e-5, what + ": lse");
  expect_close(got.grad_q, want.grad_q, tol, what + ": grad_q");
  expect_close(got.grad_k, want.grad_k, tol, what + ": grad_k");
  expect_close(got.grad_v, want.grad_v, tol, what + ": grad_v");
}

TEST(AttentionEmulated, EachPathMatchesTheCpu) {
  for (const DType dtype : {DType::Float32, DType::BFloat16}) {
    check({dtype, 37, 45, 24, 20, false, true, 0.2, "tiled"});
    check({dtype, 70, 70, 40, 40, true, false, 0.0, "tiled"});
  }
  check({DType::Float64, 37, 45, 24, 20, false, true, 0.2, "fixed-order"});
  check({DType::Float64, 20, 20, 8, 8, true, true, 0.0, "fixed-order"});
  // Two tiles of 128 keys (forward, grad_q) and of 128 queries (grad_k,
  // grad_v): the barrier after a tile's reads guards the next tile's writes.
  check({DType::Float64, 140, 150, 8, 6, false, true, 0.2, "fixed-order, two tiles"});
  check({DType::Float32, 20, 30, 160, 136, true, true, 0.2, "fixed-order, E = 160"});
  for (const DType dtype : {DType::BFloat16, DType::Float16})
    check({dtype, 20, 30, 160, 136, false, true, 0.2, "float32 copies, E = 160"});
}

}  // namespace
}  // namespace toadstool::kernels::cuda::attention_entries
