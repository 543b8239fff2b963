// The tiled attention kernels (kernels/cuda/attention_tiled_kernels.cuh)
// run on the CPU by the warp emulator (warp_emulator.h, shim/), against a
// float64 reference written out here: out, lse and the gradients of q, k
// and v, for float32 (the CUDA-core products), bfloat16 and float16 (the
// tensor-core ones), each padded head dim (32, 64, 128),
// strided and interleaved heads, partial query and key tiles, a causal
// mask (also with L != S), an additive mask with fully masked rows, and
// dropout (the reference draws the same Philox keep bits). The launches
// are the order attention_tiled.cu makes them in. No GPU is needed: this
// checks the kernels' logic wherever the suite runs; scripts/device_check.sh
// runs the real ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "attention_layout.h"
#include "toadstool/kernels/cuda/attention_tiled_kernels.cuh"
#include "warp_emulator.h"

namespace toadstool::kernels::cuda {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct Problem {
  int64_t L = 0, S = 0, E = 0, Ev = 0;
  bool causal = false;
  bool mask = false;  // an additive [L, S] mask, broadcast over the heads
  double dropout_p = 0;
};

template <class T>
struct Data {
  std::vector<T> q, k, v, grad_out;
  std::vector<float> mask;
};

template <class T>
std::vector<T> random_values(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  std::vector<T> values;
  values.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) values.emplace_back(normal(rng));
  return values;
}

template <class T>
Data<T> make_data(const Problem& pb, uint32_t seed) {
  std::mt19937 rng(seed);
  Data<T> data;
  data.q = random_values<T>(kHeads * pb.L * pb.E, rng);
  data.k = random_values<T>(kHeads * pb.S * pb.E, rng);
  data.v = random_values<T>(kHeads * pb.S * pb.Ev, rng);
  data.grad_out = random_values<T>(kHeads * pb.L * pb.Ev, rng);
  if (pb.mask) {
    std::normal_distribution<float> normal;
    data.mask.resize(static_cast<size_t>(pb.L * pb.S));
    for (int64_t i = 0; i < pb.L; ++i) {
      for (int64_t j = 0; j < pb.S; ++j) {
        // Rows 0 and L - 3 see no key; every fifth key is hidden elsewhere.
        const bool hidden = i == 0 || i == pb.L - 3 || j % 5 == 2;
        data.mask[i * pb.S + j] = hidden ? -std::numeric_limits<float>::infinity() : normal(rng);
      }
    }
  }
  return data;
}

// The call over data's buffers (attention_layout.h; grad_out shares out's layout).
template <class T>
AttentionArgs<T> make_args(const Problem& pb, const Data<T>& data) {
  const T* mask = pb.mask ? reinterpret_cast<const T*>(data.mask.data()) : nullptr;  // float32
  AttentionArgs<T> a =
      attention_layout(pb.L, pb.S, pb.E, pb.Ev, data.q.data(), data.k.data(), data.v.data(), mask);
  a.causal = pb.causal;
  a.scale = 1.0 / std::sqrt(static_cast<double>(pb.E));
  a.dropout_p = pb.dropout_p;
  a.seed = 1234;
  a.offset = 77;
  return a;
}

Dropout dropout_for(const Problem& pb) {
  return {pb.dropout_p > 0, dropout_threshold(1.0 - pb.dropout_p), 1234, 77};
}

struct Results {
  std::vector<double> out, lse, grad_q, grad_k, grad_v;  // contiguous [heads, rows, cols]
};

// The float64 reference, naive: every score, softmax, dropout, and the
// backward's products, from the inputs' exact values.
template <class T>
Results reference(const Problem& pb, const AttentionArgs<T>& a, const T* grad_out) {
  auto at = [&](const T* base, const HeadStrides& heads, int64_t row, int64_t h, int64_t r,
                int64_t c) {
    return static_cast<double>(float(base[a.head_offset(heads, h) + r * row + c]));
  };
  const auto* mask = reinterpret_cast<const float*>(a.mask);
  const double keep_scale = 1.0 / (1.0 - pb.dropout_p);
  const Dropout dropout = dropout_for(pb);
  Results want;
  want.out.assign(kHeads * pb.L * pb.Ev, 0.0);
  want.lse.assign(kHeads * pb.L, kInf);
  want.grad_q.assign(kHeads * pb.L * pb.E, 0.0);
  want.grad_k.assign(kHeads * pb.S * pb.E, 0.0);
  want.grad_v.assign(kHeads * pb.S * pb.Ev, 0.0);
  std::vector<double> p(pb.S), z(pb.S), dp(pb.S);
  for (int64_t h = 0; h < kHeads; ++h) {
    for (int64_t i = 0; i < pb.L; ++i) {
      double m = -kInf;
      for (int64_t j = 0; j < pb.S; ++j) {
        double s = -kInf;
        if (!(pb.causal && j > i)) {
          s = 0;
          for (int64_t e = 0; e < pb.E; ++e) {
            s += at(a.q, a.q_heads, a.q_row, h, i, e) * at(a.k, a.k_heads, a.k_row, h, j, e);
          }
          s *= a.scale;
          if (mask != nullptr) s += mask[i * pb.S + j];
        }
        p[j] = s;
        m = std::max(m, s);
        const uint64_t index = (static_cast<uint64_t>(h) * pb.L + i) * pb.S + j;
        const bool kept = attention_keep(
            attention_dropout_block(index, dropout.seed, dropout.offset), index, dropout.threshold);
        z[j] = pb.dropout_p == 0 ? 1.0 : kept ? keep_scale : 0.0;
      }
      if (m == -kInf) continue;  // no key: out 0, lse +inf, gradients 0
      double l = 0;
      for (int64_t j = 0; j < pb.S; ++j) l += p[j] = std::exp(p[j] - m);
      for (int64_t j = 0; j < pb.S; ++j) p[j] /= l;
      want.lse[h * pb.L + i] = m + std::log(l);
      double d = 0;
      for (int64_t j = 0; j < pb.S; ++j) {
        dp[j] = 0;
        for (int64_t e = 0; e < pb.Ev; ++e) {
          const double v = at(a.v, a.v_heads, a.v_row, h, j, e);
          want.out[(h * pb.L + i) * pb.Ev + e] += p[j] * z[j] * v;
          dp[j] += at(grad_out, a.out_heads, a.out_row, h, i, e) * v;
        }
        dp[j] *= z[j];
        d += p[j] * dp[j];
      }
      for (int64_t j = 0; j < pb.S; ++j) {
        const double ds = p[j] * (dp[j] - d);
        for (int64_t e = 0; e < pb.E; ++e) {
          want.grad_q[(h * pb.L + i) * pb.E + e] +=
              a.scale * ds * at(a.k, a.k_heads, a.k_row, h, j, e);
          want.grad_k[(h * pb.S + j) * pb.E + e] +=
              a.scale * ds * at(a.q, a.q_heads, a.q_row, h, i, e);
        }
        for (int64_t e = 0; e < pb.Ev; ++e) {
          want.grad_v[(h * pb.S + j) * pb.Ev + e] +=
              p[j] * z[j] * at(grad_out, a.out_heads, a.out_row, h, i, e);
        }
      }
    }
  }
  return want;
}

template <class T>
std::vector<double> widen(const std::vector<T>& values) {
  return {values.begin(), values.end()};  // through T's float conversion
}

// The kernels, launched in attention_tiled.cu's order, with every output
// poisoned (NaN) first.
template <class T, int D>
Results run_kernels(const Problem& pb, const AttentionArgs<T>& a, const T* grad_out) {
  // The dynamic shared memory of attention_tiled.cu's launches.
  const size_t forward_bytes = tiles_bytes<ForwardTiles<T, D>>();
  const size_t backward_bytes = tiles_bytes<BackwardTiles<T, D>>();
  const Dropout dropout = dropout_for(pb);
  // Half as many blocks as items: each block takes two in turn (the
  // kernels' item loop, which a GPU runs past 2^20 items).
  const auto query_tiles = static_cast<unsigned>((kHeads * ((pb.L + kRows - 1) / kRows) + 1) / 2);
  const auto key_tiles = static_cast<unsigned>((kHeads * ((pb.S + kCols - 1) / kCols) + 1) / 2);
  const T nan(std::nanf(""));
  std::vector<T> out(kHeads * pb.L * pb.Ev, nan), grad_q(kHeads * pb.L * pb.E, nan),
      grad_k(kHeads * pb.S * pb.E, nan), grad_v(kHeads * pb.S * pb.Ev, nan);
  std::vector<float> lse(kHeads * pb.L, std::nanf("")), d(kHeads * pb.L, std::nanf(""));
  emu::launch(tiled_forward<T, D>, query_tiles, kTiledThreads, forward_bytes, a, dropout,
              out.data(), lse.data());
  const T* saved_out = out.data();
  emu::launch(tiled_row_dots<T>, 2, kTiledThreads, 0, a, grad_out, saved_out, d.data());
  const float* saved_lse = lse.data();
  const float* dots = d.data();
  emu::launch(tiled_grad_q<T, D>, query_tiles, kTiledThreads, backward_bytes, a, dropout, saved_lse,
              grad_out, dots, grad_q.data());
  emu::launch(tiled_grad_kv<T, D>, key_tiles, kTiledThreads, backward_bytes, a, dropout, saved_lse,
              grad_out, dots, grad_k.data(), grad_v.data());
  Results got;
  // out from its [2, L, 2, Ev] layout into [heads, L, Ev].
  got.out.resize(out.size());
  for (int64_t h = 0; h < kHeads; ++h) {
    for (int64_t i = 0; i < pb.L; ++i) {
      for (int64_t e = 0; e < pb.Ev; ++e) {
        got.out[(h * pb.L + i) * pb.Ev + e] =
            float(out[a.head_offset(a.out_heads, h) + i * a.out_row + e]);
      }
    }
  }
  got.lse = {lse.begin(), lse.end()};
  got.grad_q = widen(grad_q);
  got.grad_k = widen(grad_k);
  got.grad_v = widen(grad_v);
  return got;
}

// Every value within tol * (largest |want| + |want|); infinities equal.
void expect_near(const std::vector<double>& got, const std::vector<double>& want, double tol,
                 const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_EQ(got.size(), want.size());
  double largest = 0;
  for (double w : want) {
    if (std::isfinite(w)) largest = std::max(largest, std::abs(w));
  }
  double worst = 0;
  size_t bad = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isinf(want[i])) {
      if (got[i] != want[i]) ++bad;
      continue;
    }
    const double err = std::abs(got[i] - want[i]);
    worst = std::max(worst, std::isnan(err) ? kInf : err / (largest + std::abs(want[i])));
    if (!(err <= tol * (largest + std::abs(want[i])))) ++bad;
  }
  EXPECT_EQ(bad, 0u) << "of " << want.size() << "; worst relative error " << worst;
}

template <class T, int D>
void check(const Problem& pb, uint32_t seed, const std::string& what) {
  SCOPED_TRACE(what);
  const Data<T> data = make_data<T>(pb, seed);
  const AttentionArgs<T> a = make_args(pb, data);
  ASSERT_EQ(D, pb.E <= 32 && pb.Ev <= 32 ? 32 : pb.E <= 64 && pb.Ev <= 64 ? 64 : 128);
  const Results want = reference(pb, a, data.grad_out.data());
  const Results got = run_kernels<T, D>(pb, a, data.grad_out.data());
  // 16-bit outputs, P and dS rounded to 16 bits before their products: the
  // worst errors seen were 3.6e-3 (bfloat16) and 3.1e-4 (float16); float32's
  // 8.3e-7.
  const double tol = std::is_same_v<T, float> ? 1e-5 : std::is_same_v<T, BFloat16> ? 1e-2 : 1.5e-3;
  expect_near(got.out, want.out, tol, "out");
  expect_near(got.lse, want.lse, 1e-5, "lse");
  expect_near(got.grad_q, want.grad_q, tol, "grad_q");
  expect_near(got.grad_k, want.grad_k, tol, "grad_k");
  expect_near(got.grad_v, want.grad_v, tol, "grad_v");
}

TEST(AttentionTiledEmulated, HeadDim32) {
  // E 16, Ev 24 (both padded to 32); two query tiles, three key tiles.
  check<BFloat16, 32>({.L = 70, .S = 150, .E = 16, .Ev = 24}, 1, "bfloat16, plain");
  check<BFloat16, 32>({.L = 100, .S = 100, .E = 16, .Ev = 24, .causal = true, .dropout_p = 0.3}, 2,
                      "bfloat16, causal, dropout");
  check<BFloat16, 32>({.L = 70, .S = 90, .E = 32, .Ev = 32, .mask = true}, 3,
                      "bfloat16, mask with fully masked rows");
}

TEST(AttentionTiledEmulated, HeadDim64) {
  // L and S multiples of the tile: no partial tile.
  check<Half, 64>({.L = 64, .S = 128, .E = 40, .Ev = 64, .mask = true, .dropout_p = 0.2}, 4,
                  "float16, mask, dropout, whole tiles");
}

TEST(AttentionTiledEmulated, HeadDim128) {
  check<BFloat16, 128>({.L = 20, .S = 70, .E = 128, .Ev = 72, .causal = true}, 5,
                       "bfloat16, causal, L < S");
  check<Half, 128>({.L = 90, .S = 30, .E = 96, .Ev = 128, .causal = true}, 6,
                   "float16, causal, L > S");
}

TEST(AttentionTiledEmulated, Float32) {
  // The CUDA-core products: each padded head dim once.
  check<float, 32>({.L = 70, .S = 150, .E = 16, .Ev = 24, .mask = true, .dropout_p = 0.3}, 7,
                   "float32, mask with fully masked rows, dropout");
  check<float, 64>({.L = 64, .S = 128, .E = 40, .Ev = 64}, 8, "float32, whole tiles");
  check<float, 128>({.L = 90, .S = 30, .E = 96, .Ev = 128, .causal = true}, 9,
                    "float32, causal, L > S");
}

}  // namespace
}  // namespace toadstool::kernels::cuda
