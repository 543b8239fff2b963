// The CUDA attention entries (kernels/cuda/attention.cu and
// attention_tiled.cu, whole: the choice between the tiled kernels, the
// fixed-order ones and the float32 copies of a 16-bit call, launches and
// scratch) run on the CPU by the warp emulator (emulated_backend.h; the
// shim stands for an sm_90 GPU), against the CPU backend's entries on the
// same call: out, lse and the three gradients. The call has two batch dims
// (4 heads), q and out laid out [B, L, H, E] (interleaved heads), k, v and
// the gradients contiguous, a broadcast additive mask, a causal mask and
// dropout. Each path: float32 and bfloat16 with E <= 128 (tiled), float64
// (fixed-order), float32 with E = 160 (fixed-order), bfloat16 and float16
// with E = 160 (float32 copies, then fixed-order).
//
// Tolerances, of the largest value of each result: float64 1e-12; float32
// 1e-5; 16-bit 2e-2 (the CPU's 16-bit path rounds the probabilities to the
// 16-bit type before multiplying, as the tiled kernels do, but the float32
// copies do not).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "emulated_backend.h"
#include "toadstool/kernels/dtype.h"
#include "toadstool/kernels/kernel_args.h"

// Its own namespace: the unity build shares a file with
// test_attention_tiled_emulated.cpp, whose names are alike.
namespace toadstool::kernels::cuda::attention_entries {
namespace {

constexpr int64_t kBatch = 2, kHeadsPerBatch = 2, kHeads = kBatch * kHeadsPerBatch;

struct Problem {
  DType dtype;
  int64_t L, S, E, Ev;
  bool causal, mask;
  double dropout_p;
  const char* path;
};

// Values of a float32 / float64 / 16-bit buffer as doubles, and back.
double load(DType dtype, const unsigned char* at) {
  if (dtype == DType::Float64) {
    double d = 0;
    std::memcpy(&d, at, sizeof d);
    return d;
  }
  if (dtype == DType::Float32) {
    float f = 0;
    std::memcpy(&f, at, sizeof f);
    return f;
  }
  uint16_t h = 0;
  std::memcpy(&h, at, sizeof h);
  if (dtype == DType::BFloat16) {
    const uint32_t bits = uint32_t{h} << 16;
    float f = 0;
    std::memcpy(&f, &bits, sizeof f);
    return f;
  }
  // float16: sign, 5 exponent bits, 10 mantissa bits (normal or subnormal).
  const int exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  const double magnitude =
      exponent == 0 ? std::ldexp(mantissa, -24) : std::ldexp(1024 + mantissa, exponent - 25);
  return (h & 0x8000) != 0 ? -magnitude : magnitude;
}

// Exactly representable in every dtype here: multiples of 1/64 in [-2, 2).
std::vector<unsigned char> random_buffer(DType dtype, int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> steps(-128, 127);
  std::vector<unsigned char> bytes(static_cast<size_t>(n) * element_size(dtype));
  for (int64_t i = 0; i < n; ++i) {
    const double v = steps(rng) / 64.0;
    unsigned char* at = bytes.data() + i * element_size(dtype);
    if (dtype == DType::Float64) {
      std::memcpy(at, &v, sizeof v);
    } else if (dtype == DType::Float32) {
      const auto f = static_cast<float>(v);
      std::memcpy(at, &f, sizeof f);
    } else if (dtype == DType::BFloat16) {
      const auto f = static_cast<float>(v);
      uint32_t bits = 0;
      std::memcpy(&bits, &f, sizeof bits);
      const auto top = static_cast<uint16_t>(bits >> 16);
      std::memcpy(at, &top, sizeof top);
    } else {  // float16: |v| < 2 with 6 fraction bits, normal or zero
      uint16_t h = 0;
      if (v != 0) {
        int exponent = 0;
        const double fraction = std::frexp(std::abs(v), &exponent);  // in [0.5, 1)
        const auto mantissa = static_cast<uint16_t>(std::lround(fraction * 2048) - 1024);
        h = static_cast<uint16_t>(((exponent + 14) << 10) | mantissa | (v < 0 ? 0x8000 : 0));
      }
      std::memcpy(at, &h, sizeof h);
    }
  }
  return bytes;
}

// The results of one forward and backward, as doubles.
struct Results {
  std::vector<double> out, lse, grad_q, grad_k, grad_v;
};

// Contiguous [B, H] head strides of a [B, H, rows, cols] operand.
HeadStrides contiguous(int64_t rows, int64_t cols) {
  HeadStrides s;
  s.strides[0] = kHeadsPerBatch * rows * cols;
  s.strides[1] = rows * cols;
  return s;
}
// [B, rows, H, cols]: the heads interleaved in each row.
HeadStrides interleaved(int64_t rows, int64_t cols) {
  HeadStrides s;
  s.strides[0] = rows * kHeadsPerBatch * cols;
  s.strides[1] = cols;
  return s;
}

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
  std::vector<unsigned char> out(kHeads * pb.L * pb.Ev * size, 0xff);
  std::vector<unsigned char> lse(kHeads * pb.L * element_size(lse_dtype), 0xff);
  std::vector<unsigned char> grad_q(kHeads * pb.L * pb.E * size, 0xff);
  std::vector<unsigned char> grad_k(kHeads * pb.S * pb.E * size, 0xff);
  std::vector<unsigned char> grad_v(kHeads * pb.S * pb.Ev * size, 0xff);

  AttentionCall call;
  call.heads = kHeads;
  call.L = pb.L;
  call.S = pb.S;
  call.E = pb.E;
  call.Ev = pb.Ev;
  call.batch.ndim = 2;
  call.batch.sizes[0] = kBatch;
  call.batch.sizes[1] = kHeadsPerBatch;
  call.q = q.data();
  call.q_heads = interleaved(pb.L, pb.E);
  call.q_row = kHeadsPerBatch * pb.E;
  call.k = k.data();
  call.k_heads = contiguous(pb.S, pb.E);
  call.k_row = pb.E;
  call.v = v.data();
  call.v_heads = contiguous(pb.S, pb.Ev);
  call.v_row = pb.Ev;
  call.out_heads = interleaved(pb.L, pb.Ev);
  call.out_row = kHeadsPerBatch * pb.Ev;
  call.grad_q_heads = contiguous(pb.L, pb.E);
  call.grad_q_row = pb.E;
  call.grad_k_heads = contiguous(pb.S, pb.E);
  call.grad_k_row = pb.E;
  call.grad_v_heads = contiguous(pb.S, pb.Ev);
  call.grad_v_row = pb.Ev;
  if (pb.mask) {
    call.mask = mask.data();  // [L, S], every head's
    call.mask_row = pb.S;
    call.mask_col = 1;
  }
  call.causal = pb.causal;
  call.scale = 1.0 / std::sqrt(static_cast<double>(pb.E));
  call.dropout_p = pb.dropout_p;
  call.seed = 77;
  call.offset = 9;

  backend.attention_forward(dt, call, out.data(), lse.data());
  backend.attention_backward(dt, call, out.data(), lse.data(), grad_out.data(), grad_q.data(),
                             grad_k.data(), grad_v.data());
  const auto doubles = [](DType dtype, const std::vector<unsigned char>& bytes) {
    std::vector<double> values(bytes.size() / element_size(dtype));
    for (size_t i = 0; i < values.size(); ++i)
      values[i] = load(dtype, bytes.data() + i * element_size(dtype));
    return values;
  };
  return {doubles(dt, out), doubles(lse_dtype, lse), doubles(dt, grad_q), doubles(dt, grad_k),
          doubles(dt, grad_v)};
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want, double tol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double largest = 0;
  for (double w : want) {
    if (std::isfinite(w)) largest = std::max(largest, std::abs(w));
  }
  int reported = 0;
  for (size_t i = 0; i < want.size() && reported < 5; ++i) {
    const bool same = got[i] == want[i] || std::abs(got[i] - want[i]) <= tol * largest;
    if (!same) {
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", the CPU's " << want[i];
      ++reported;
    }
  }
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
  check({DType::Float32, 20, 30, 160, 136, true, true, 0.2, "fixed-order, E = 160"});
  for (const DType dtype : {DType::BFloat16, DType::Float16})
    check({dtype, 20, 30, 160, 136, false, true, 0.2, "float32 copies, E = 160"});
}

}  // namespace
}  // namespace toadstool::kernels::cuda::attention_entries
