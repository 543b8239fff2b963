// The fused scaled_dot_product_attention (tensor/attention.h,
// kernels/cpu/attention.cpp) against finite differences and against the same
// attention composed of matmul, masked_fill, softmax, dropout and matmul, over
// masks, causality, shapes, layouts, tile boundaries, dropout and bad input.
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "golden.h"
#include "test_util.h"

namespace toadstool {
namespace {

using testing::kInf;

// softmax(q k^T * scale + mask) v of the existing ops (the reference): a bool
// mask and the causal mask fill -inf where a key does not take part.
Tensor composite(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
  const int64_t L = q.size(-2), S = k.size(-2);
  const double scale = o.scale ? *o.scale : 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  Tensor scores = matmul(q, k.transpose(-1, -2)) * scale;
  Tensor keep;
  if (o.is_causal) keep = le(arange(S).view({1, S}), arange(L).view({L, 1}));
  if (o.attn_mask.defined()) {
    if (o.attn_mask.dtype() == kBool) {
      keep = o.attn_mask;
    } else {
      scores = scores + o.attn_mask;
    }
  }
  if (keep.defined()) scores = masked_fill(scores, logical_not(keep), -kInf);
  Tensor p = softmax(scores, -1);
  if (o.dropout_p > 0) p = dropout(p, o.dropout_p, true, o.generator);
  return matmul(p, v);
}

enum class Mask { none, key_padding, long_key_padding, float_ls, bool_broadcast, float_full };
enum class Layout { contiguous, head_split, transposed };

struct Config {
  std::string name;
  int64_t B = 2, H = 2, L = 5, S = 5, E = 4, Ev = 4;
  Mask mask = Mask::none;
  bool causal = false;
  Layout layout = Layout::contiguous;
  std::optional<double> scale = std::nullopt;
};

// The configurations every check runs over; `large` ones span several tiles
// (kAttentionQueryTile = 64 queries, kAttentionKeyTile = 256 keys) and are
// compared with the composite only (finite differences would be slow).
std::vector<Config> configs(bool large) {
  std::vector<Config> c;
  if (!large) {
    c.push_back({"plain"});
    c.push_back({"key_padding", 2, 2, 5, 6, 4, 4, Mask::key_padding});
    c.push_back({"float_mask", 2, 2, 5, 6, 4, 4, Mask::float_ls});
    c.push_back({"bool_broadcast_mask", 2, 3, 4, 5, 3, 3, Mask::bool_broadcast});
    c.push_back({"float_full_mask", 1, 2, 3, 4, 2, 3, Mask::float_full});
    c.push_back({"causal", 2, 2, 5, 5, 4, 4, Mask::none, true});
    c.push_back({"causal_L_gt_S", 1, 2, 6, 4, 3, 2, Mask::none, true});
    c.push_back({"L_ne_S_E_ne_Ev", 2, 1, 3, 7, 4, 5});
    c.push_back(
        {"head_split_views", 2, 3, 4, 4, 3, 3, Mask::key_padding, false, Layout::head_split});
    c.push_back({"transposed_last_dims", 1, 2, 4, 3, 3, 2, Mask::none, false, Layout::transposed});
    c.push_back(
        {"explicit_scale", 1, 2, 3, 4, 2, 2, Mask::float_ls, false, Layout::contiguous, 0.7});
    c.push_back({"several_tiles", 1, 1, 70, 270, 2, 2, Mask::key_padding});
    c.push_back({"several_tiles_causal", 1, 1, 70, 270, 2, 1, Mask::none, true});
  } else {
    c.push_back({"large_key_padding", 2, 2, 130, 300, 16, 8, Mask::key_padding});
    c.push_back({"large_long_key_padding", 2, 3, 130, 300, 16, 8, Mask::long_key_padding});
    c.push_back({"large_causal", 1, 3, 300, 300, 8, 16, Mask::none, true});
    c.push_back({"large_causal_L_lt_S", 1, 2, 65, 257, 8, 8, Mask::none, true});
    c.push_back({"large_float_mask_heads_split", 2, 3, 129, 129, 32, 32, Mask::float_ls, false,
                 Layout::head_split});
    c.push_back({"large_one_head", 1, 1, 200, 260, 32, 16, Mask::bool_broadcast});
  }
  return c;
}

// A float64 tensor of `shape` laid out as the config says, made a leaf.
Tensor make_input(const Config& c, Shape shape, Generator& g) {
  Tensor t;
  if (c.layout == Layout::head_split) {  // [B, L, H, E] viewed as [B, H, L, E]
    t = randn({shape[0], shape[2], shape[1], shape[3]}, kFloat64, &g).transpose(1, 2);
  } else if (c.layout == Layout::transposed) {  // last two dims swapped in memory
    t = randn({shape[0], shape[1], shape[3], shape[2]}, kFloat64, &g).transpose(-1, -2);
  } else {
    t = randn(shape, kFloat64, &g);
  }
  return t.detach().requires_grad_();
}

struct Inputs {
  Tensor q, k, v;
  AttentionOptions options;
};

Inputs make_inputs(const Config& c, uint64_t seed = 1) {
  Generator g(seed);
  Inputs in;
  in.q = make_input(c, {c.B, c.H, c.L, c.E}, g);
  in.k = make_input(c, {c.B, c.H, c.S, c.E}, g);
  in.v = make_input(c, {c.B, c.H, c.S, c.Ev}, g);
  in.options.is_causal = c.causal;
  in.options.scale = c.scale;
  switch (c.mask) {
    case Mask::none: break;
    case Mask::key_padding:       // [B, 1, 1, S]: batch b pads its last b + 1 keys
    case Mask::long_key_padding:  // batch b keeps its first S / (b + 3) keys (the
                                  // kernel's tiles end there: whole key tiles skipped)
    {
      std::vector<bool> keep;
      for (int64_t b = 0; b < c.B; ++b) {
        const int64_t kept = c.mask == Mask::key_padding ? c.S - 1 - b : c.S / (b + 3);
        for (int64_t j = 0; j < c.S; ++j) keep.push_back(j < kept);
      }
      in.options.attn_mask = from_vector(keep, {c.B, 1, 1, c.S});
      break;
    }
    case Mask::float_ls: in.options.attn_mask = randn({c.L, c.S}, kFloat64, &g) * 0.5; break;
    case Mask::bool_broadcast: {  // [B, 1, L, S], key 0 always kept
      Tensor keep = lt(rand({c.B, 1, c.L, c.S}, kFloat64, &g), 0.7);
      in.options.attn_mask = logical_or(keep, lt(arange(c.S), 1));
      break;
    }
    case Mask::float_full: in.options.attn_mask = randn({c.B, c.H, c.L, c.S}, kFloat64, &g); break;
  }
  return in;
}

// out and the gradients of sum(out * r) with respect to q, k and v.
struct Grads {
  Tensor out, gq, gk, gv;
};
template <class Fn>
Grads run(const Inputs& in, const Fn& fn) {
  Tensor q = in.q.detach().requires_grad_(), k = in.k.detach().requires_grad_(),
         v = in.v.detach().requires_grad_();
  Tensor out = fn(q, k, v, in.options);
  Generator g(99);
  Tensor r = randn(out.shape(), kFloat64, &g).to(out.dtype());
  (out * r).sum().backward();
  return {out.detach(), q.grad(), k.grad(), v.grad()};
}

void expect_runs_match(const Grads& got, const Grads& want, double rtol, double atol) {
  {
    SCOPED_TRACE("out");
    testing::expect_close(got.out, want.out, rtol, atol);
  }
  {
    SCOPED_TRACE("grad q");
    testing::expect_close(got.gq, want.gq, rtol, atol);
  }
  {
    SCOPED_TRACE("grad k");
    testing::expect_close(got.gk, want.gk, rtol, atol);
  }
  {
    SCOPED_TRACE("grad v");
    testing::expect_close(got.gv, want.gv, rtol, atol);
  }
}

Tensor fused(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
  return scaled_dot_product_attention(q, k, v, o);
}

class AttentionSmall : public ::testing::TestWithParam<Config> {};
class AttentionLarge : public ::testing::TestWithParam<Config> {};

TEST_P(AttentionSmall, Gradcheck) {
  const Inputs in = make_inputs(GetParam());
  const auto result = autograd::gradcheck(
      [&](const std::vector<Tensor>& x) {
        return scaled_dot_product_attention(x[0], x[1], x[2], in.options);
      },
      {in.q, in.k, in.v});
  EXPECT_TRUE(result.ok) << result.report;
  EXPECT_EQ(result.ops, std::vector<std::string>{"scaled_dot_product_attention"});
}

TEST_P(AttentionSmall, MatchesCompositeFloat64) {
  const Inputs in = make_inputs(GetParam());
  expect_runs_match(run(in, fused), run(in, composite), 1e-10, 1e-12);
}

TEST_P(AttentionLarge, MatchesCompositeFloat64) {
  const Inputs in = make_inputs(GetParam());
  expect_runs_match(run(in, fused), run(in, composite), 1e-10, 1e-12);
}

// Heads are located by each operand's strides over the leading dims
// (AttentionArgs::head_offset): one leading dim, and four with a permuted q,
// a sliced k, a broadcast mask and the gradient of a permuted output.
TEST(Attention, AnyNumberOfLeadingDimsAtAnyStrides) {
  Generator g(5);
  Inputs one;
  one.q = randn({3, 4, 5}, kFloat64, &g);
  one.k = randn({3, 6, 5}, kFloat64, &g);
  one.v = randn({3, 6, 2}, kFloat64, &g);
  expect_runs_match(run(one, fused), run(one, composite), 1e-10, 1e-12);

  Inputs four;
  four.q = randn({3, 2, 1, 2, 4, 5}, kFloat64, &g).permute({1, 3, 2, 0, 4, 5});
  four.k = randn({2, 2, 1, 5, 6, 5}, kFloat64, &g).slice(3, 1, 4);
  four.v = randn({2, 2, 1, 3, 6, 2}, kFloat64, &g);
  ASSERT_EQ(four.q.shape(), (Shape{2, 2, 1, 3, 4, 5}));
  ASSERT_EQ(four.k.shape(), (Shape{2, 2, 1, 3, 6, 5}));
  four.options.attn_mask = randn({2, 1, 1, 1, 4, 6}, kFloat64, &g);
  expect_runs_match(run(four, fused), run(four, composite), 1e-10, 1e-12);
}

// The backward has two schedules (a whole head per thread when the heads
// share out evenly, else two passes over key and query tiles); both, and the
// forward, at 1 and 2 threads.
TEST_P(AttentionLarge, MatchesCompositeAtOneAndTwoThreads) {
  const int saved = get_num_threads();
  const Inputs in = make_inputs(GetParam());
  const Grads want = run(in, composite);
  for (int threads : {1, 2}) {
    SCOPED_TRACE(threads);
    set_num_threads(threads);
    expect_runs_match(run(in, fused), want, 1e-10, 1e-12);
  }
  set_num_threads(saved);
}

// bfloat16 / float16 inputs run the CPU's 16-bit kernel (each finished row
// rounded once; float16 and bfloat16 on the "fp32" GEMM path widen each head
// once per thread, bfloat16 on a 16-bit tile multiplies bfloat16 operands,
// the probabilities and dS rounded): its output and gradients are float32
// attention's on the same rounded inputs, to the 16-bit dtype's precision, on
// both backward schedules (1 and 2 threads) and with dropout (the same keep
// bits). Each bfloat16 GEMM path the CPU has runs; the others are skipped
// with a message.
TEST_P(AttentionLarge, SixteenBitKernelMatchesFloat32) {
  const int saved = get_num_threads();
  const Inputs in = make_inputs(GetParam());
  std::vector<std::pair<DType, std::string>> cases = {{kFloat16, ""}};
  for (const std::string& path : testing::kBf16GemmPaths) cases.emplace_back(kBFloat16, path);
  for (const auto& c : cases) {
    const DType dtype = c.first;  // a variable, not a binding: the lambda below captures it
    const std::string& path = c.second;
    if (!testing::force_bf16_gemm_path(path)) continue;
    const double tol = dtype == kBFloat16 ? 2e-2 : 3e-3;
    // The inputs and the output weights r rounded to dtype, then run in
    // dtype and (from the same rounded values) in float32.
    const auto run_in = [&](DType run_dtype) {
      Tensor q = in.q.detach().to(dtype).to(run_dtype).requires_grad_();
      Tensor k = in.k.detach().to(dtype).to(run_dtype).requires_grad_();
      Tensor v = in.v.detach().to(dtype).to(run_dtype).requires_grad_();
      AttentionOptions o = in.options;
      Generator dropout_gen(5);
      o.dropout_p = 0.2;
      o.generator = &dropout_gen;
      Tensor out = scaled_dot_product_attention(q, k, v, o);
      EXPECT_EQ(out.dtype(), run_dtype);
      Generator g(99);
      const Tensor r = randn(out.shape(), kFloat64, &g).to(dtype).to(run_dtype);
      (out * r).sum().backward();
      return Grads{out.detach().to(kFloat32), q.grad().to(kFloat32), k.grad().to(kFloat32),
                   v.grad().to(kFloat32)};
    };
    const Grads want = run_in(kFloat32);
    for (int threads : {1, 2}) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + " path '" + path + "' threads " +
                   std::to_string(threads));
      set_num_threads(threads);
      expect_runs_match(run_in(dtype), want, tol, tol);
    }
  }
  set_cpu_bf16_gemm("");
  set_num_threads(saved);
}

// Each tile product and each accumulation runs in the same order whichever
// backward schedule the thread count picks (key tiles ascending into grad_q,
// query tiles ascending into grad_k and grad_v), so the results are bitwise
// the same at any thread count, dropout included; in float32 and in
// bfloat16 (on this CPU's bfloat16 path).
TEST(Attention, BitwiseIdenticalAtOneAndTwoThreads) {
  const int saved = get_num_threads();
  const Inputs in64 = make_inputs({"threads", 1, 3, 130, 200, 8, 8, Mask::key_padding});
  for (DType dtype : {kFloat32, kBFloat16}) {
    SCOPED_TRACE(dtype_name(dtype));
    Inputs in = in64;
    in.q = in64.q.detach().to(dtype).requires_grad_();
    in.k = in64.k.detach().to(dtype).requires_grad_();
    in.v = in64.v.detach().to(dtype).requires_grad_();
    in.options.dropout_p = 0.2;
    Generator g;
    in.options.generator = &g;
    std::vector<Grads> runs;
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      g.manual_seed(4);
      runs.push_back(run(in, fused));
    }
    set_num_threads(saved);
    EXPECT_TRUE(all(eq(runs[0].out, runs[1].out)).item<bool>());
    EXPECT_TRUE(all(eq(runs[0].gq, runs[1].gq)).item<bool>());
    EXPECT_TRUE(all(eq(runs[0].gk, runs[1].gk)).item<bool>());
    EXPECT_TRUE(all(eq(runs[0].gv, runs[1].gv)).item<bool>());
  }
}

std::string config_name(const ::testing::TestParamInfo<Config>& info) { return info.param.name; }
INSTANTIATE_TEST_SUITE_P(Configs, AttentionSmall, ::testing::ValuesIn(configs(false)), config_name);
INSTANTIATE_TEST_SUITE_P(Configs, AttentionLarge, ::testing::ValuesIn(configs(true)), config_name);

// float32: within float rounding of the float64 composite.
TEST(Attention, Float32CloseToFloat64) {
  const Inputs in = make_inputs(configs(true)[0]);
  Inputs in32 = in;
  in32.q = in.q.to(kFloat32);
  in32.k = in.k.to(kFloat32);
  in32.v = in.v.to(kFloat32);
  const Grads got = run(in32, fused);
  EXPECT_EQ(got.out.dtype(), kFloat32);
  EXPECT_EQ(got.gq.dtype(), kFloat32);
  expect_runs_match(got, run(in, composite), 1e-4, 1e-5);
}

// ---- dropout ----------------------------------------------------------------

Config dropout_config() { return {"dropout", 2, 2, 70, 150, 4, 3, Mask::key_padding}; }

TEST(AttentionDropout, SameSeedSameOutputOtherSeedOther) {
  Inputs in = make_inputs(dropout_config());
  Generator g(11);
  in.options.dropout_p = 0.3;
  in.options.generator = &g;
  const Tensor a = scaled_dot_product_attention(in.q, in.k, in.v, in.options);
  g.manual_seed(11);
  const Tensor b = scaled_dot_product_attention(in.q, in.k, in.v, in.options);
  EXPECT_TRUE(all(eq(a, b)).item<bool>());
  const Tensor c = scaled_dot_product_attention(in.q, in.k, in.v, in.options);  // next draw
  EXPECT_FALSE(all(eq(a, c)).item<bool>());
  // And not the attention without dropout.
  AttentionOptions plain = in.options;
  plain.dropout_p = 0;
  EXPECT_FALSE(all(eq(a, scaled_dot_product_attention(in.q, in.k, in.v, plain))).item<bool>());
}

// The fused mask is the one dropout() draws over the [..., L, S] weights from
// the same generator state, so the composite with dropout reproduces the
// fused op's output and gradients exactly (up to rounding): the backward
// regenerated the forward's mask.
TEST(AttentionDropout, ForwardAndBackwardMatchCompositeWithTheSameMask) {
  for (int threads : {1, 2}) {
    SCOPED_TRACE(threads);
    const int saved = get_num_threads();
    set_num_threads(threads);
    for (int64_t heads : {1, 2}) {  // both backward schedules
      Config c = dropout_config();
      c.H = heads;
      Inputs in = make_inputs(c);
      in.options.dropout_p = 0.4;
      Generator g(5);
      in.options.generator = &g;
      const Grads got = run(in, fused);
      g.manual_seed(5);
      const Grads want = run(in, composite);
      expect_runs_match(got, want, 1e-10, 1e-12);
    }
    set_num_threads(saved);
  }
}

TEST(AttentionDropout, Gradcheck) {
  Inputs in = make_inputs({"dropout_small", 1, 2, 5, 7, 3, 2, Mask::key_padding});
  const auto result = autograd::gradcheck(
      [&](const std::vector<Tensor>& x) {
        Generator g(3);  // the same mask on every evaluation
        AttentionOptions o = in.options;
        o.dropout_p = 0.25;
        o.generator = &g;
        return scaled_dot_product_attention(x[0], x[1], x[2], o);
      },
      {in.q, in.k, in.v});
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(AttentionDropout, AdvancesTheGeneratorByTheScoreCount) {
  Inputs in = make_inputs(dropout_config());
  Generator g(1);
  in.options.dropout_p = 0.1;
  in.options.generator = &g;
  scaled_dot_product_attention(in.q, in.k, in.v, in.options);
  const int64_t scores = 2 * 2 * 70 * 150;  // a 16-bit draw each, eight a block
  EXPECT_EQ(g.state().offset, static_cast<uint64_t>((scores + 7) / 8));
}

// ---- masked rows ------------------------------------------------------------

// A query whose every key is masked: output 0 and no gradient (PyTorch's
// composite gives NaN); the other rows are unaffected.
TEST(Attention, FullyMaskedRowsGiveZeroAndNoGradient) {
  for (DType dtype : {kFloat64, kFloat32}) {
    Config c{"masked_rows", 1, 2, 70, 150, 4, 3};
    Inputs in = make_inputs(c);
    in.q = in.q.detach().to(dtype);
    in.k = in.k.detach().to(dtype);
    in.v = in.v.detach().to(dtype);
    // Queries 3 and 66 (in the second query tile) see no key.
    Tensor keep = ones({c.L, c.S}, kBool);
    for (int64_t row : {3, 66}) keep.select(0, row).fill_(false);
    in.options.attn_mask = keep;
    const Grads got = run(in, fused);
    EXPECT_TRUE(all(eq(got.out.select(2, 3), 0.0)).item<bool>());
    EXPECT_TRUE(all(eq(got.out.select(2, 66), 0.0)).item<bool>());
    EXPECT_TRUE(all(eq(got.gq.select(2, 3), 0.0)).item<bool>());
    EXPECT_TRUE(all(eq(got.gq.select(2, 66), 0.0)).item<bool>());
    EXPECT_FALSE(any(ne(got.out, got.out)).item<bool>());  // no NaN anywhere
    // The other rows: the composite over the masked rows' complement, where
    // rows 3 and 66 keep all keys but get a zero output gradient.
    Inputs ref = in;
    Tensor all_keys = keep.clone();
    for (int64_t row : {3, 66}) all_keys.select(0, row).fill_(true);
    ref.options.attn_mask = all_keys;
    const Tensor q = ref.q.detach().requires_grad_(), k = ref.k.detach().requires_grad_(),
                 v = ref.v.detach().requires_grad_();
    Tensor out = composite(q, k, v, ref.options);
    Generator g(99);
    Tensor r = randn(out.shape(), kFloat64, &g).to(out.dtype());
    Tensor row_keep = ones({c.L, 1}, dtype);
    for (int64_t row : {3, 66}) row_keep.select(0, row).fill_(0.0);
    (out * r * row_keep).sum().backward();
    const double rtol = dtype == kFloat64 ? 1e-10 : 1e-4, atol = dtype == kFloat64 ? 1e-12 : 1e-5;
    testing::expect_close(got.out, out.detach() * row_keep, rtol, atol);
    testing::expect_close(got.gq, q.grad(), rtol, atol);
    testing::expect_close(got.gk, k.grad(), rtol, atol);
    testing::expect_close(got.gv, v.grad(), rtol, atol);
  }
}

// The same rows in bfloat16, on each bfloat16 GEMM path the CPU has (a
// 16-bit tile rounds the probabilities into its own operand buffer, where a
// masked row must be zeros too), with and without dropout: those rows are 0
// with no gradient, and the whole result is float32 attention's on the same
// rounded inputs, to bfloat16's precision.
TEST(Attention, FullyMaskedRowsInBFloat16) {
  Config c{"masked_rows_bf16", 1, 2, 70, 150, 4, 3};
  const Inputs in = make_inputs(c);
  Tensor keep = ones({c.L, c.S}, kBool);
  for (int64_t row : {3, 66}) keep.select(0, row).fill_(false);
  for (const std::string& path : testing::kBf16GemmPaths) {
    if (!testing::force_bf16_gemm_path(path)) continue;
    for (const double p : {0.0, 0.2}) {
      SCOPED_TRACE("path '" + path + "' dropout " + std::to_string(p));
      const auto run_in = [&](DType dtype) {
        Tensor q = in.q.detach().to(kBFloat16).to(dtype).requires_grad_();
        Tensor k = in.k.detach().to(kBFloat16).to(dtype).requires_grad_();
        Tensor v = in.v.detach().to(kBFloat16).to(dtype).requires_grad_();
        AttentionOptions o;
        o.attn_mask = keep;
        Generator dropout_gen(5);
        o.dropout_p = p;
        o.generator = &dropout_gen;
        Tensor out = scaled_dot_product_attention(q, k, v, o);
        Generator g(99);
        (out * randn(out.shape(), kFloat64, &g).to(kBFloat16).to(dtype)).sum().backward();
        return Grads{out.detach().to(kFloat32), q.grad().to(kFloat32), k.grad().to(kFloat32),
                     v.grad().to(kFloat32)};
      };
      const Grads got = run_in(kBFloat16);
      for (int64_t row : {3, 66}) {
        EXPECT_TRUE(all(eq(got.out.select(2, row), 0.0)).item<bool>()) << "row " << row;
        EXPECT_TRUE(all(eq(got.gq.select(2, row), 0.0)).item<bool>()) << "row " << row;
      }
      expect_runs_match(got, run_in(kFloat32), 2e-2, 2e-2);
    }
  }
  set_cpu_bf16_gemm("");
}

// No keys at all (S = 0): every row is fully masked.
// bfloat16 heads wider than a packed block of the bfloat16 tile (E, Ev >
// 512) take the widened path on every CPU: the float32 result, rounded.
TEST(Attention, WideBFloat16HeadsMatchFloat32) {
  Generator g(8);
  const Tensor q = randn({1, 2, 9, 520}, kFloat32, &g).to(kBFloat16).requires_grad_();
  const Tensor k = randn({1, 2, 11, 520}, kFloat32, &g).to(kBFloat16).requires_grad_();
  const Tensor v = randn({1, 2, 11, 530}, kFloat32, &g).to(kBFloat16).requires_grad_();
  Tensor out = scaled_dot_product_attention(q, k, v);
  out.sum().backward();
  const Tensor q32 = q.detach().to(kFloat32).requires_grad_(),
               k32 = k.detach().to(kFloat32).requires_grad_(),
               v32 = v.detach().to(kFloat32).requires_grad_();
  Tensor out32 = scaled_dot_product_attention(q32, k32, v32);
  out32.sum().backward();
  testing::expect_close(out.to(kFloat32), out32, 2e-2, 2e-2);
  testing::expect_close(q.grad().to(kFloat32), q32.grad(), 2e-2, 2e-2);
  testing::expect_close(v.grad().to(kFloat32), v32.grad(), 2e-2, 2e-2);
}

// got (run(in, fused)) at the batch entries `entries` (dim 0) against the
// composite on those entries with in's mask, in float64; with query_keep
// ([B, 1, L, 1], 0 or 1), its output rows multiplied by it first, so that
// the rows it zeroes get no output gradient.
void expect_entries_match_composite(const Inputs& in, const Grads& got,
                                    const std::vector<int64_t>& entries,
                                    const Tensor& query_keep = {}) {
  const Tensor pick = from_vector(entries, {static_cast<int64_t>(entries.size())});
  auto take = [&](const Tensor& t) { return index_select(t, 0, pick); };
  const Tensor q = take(in.q.detach()).requires_grad_(), k = take(in.k.detach()).requires_grad_(),
               v = take(in.v.detach()).requires_grad_();
  AttentionOptions plain;
  plain.attn_mask = take(in.options.attn_mask);
  Tensor out = composite(q, k, v, plain);
  if (query_keep.defined()) out = out * take(query_keep);
  Generator g(99);  // run()'s weighting of out
  const Tensor r = take(randn(got.out.shape(), kFloat64, &g));
  (out * r).sum().backward();
  expect_runs_match({take(got.out), take(got.gq), take(got.gk), take(got.gv)},
                    {out.detach(), q.grad(), k.grad(), v.grad()}, 1e-10, 1e-12);
}

// A key-padding mask that hides every key of a sequence: the kernel's tiles
// end before the first key (kernels/cpu/attention.cpp, head_extent), and the
// sequence's rows get out = 0 and zero gradients as any fully masked row
// does; the other sequences, which skip their padded key tiles, are the
// composite's. Both backward schedules: 3 heads at 1 thread make one pass,
// at 2 threads two.
TEST(Attention, AFullyPaddedSequenceGivesZeroAndNoGradient) {
  const int saved = get_num_threads();
  for (int threads : {1, 2}) {
    SCOPED_TRACE(threads);
    set_num_threads(threads);
    const Config c{"padded_sequence", 3, 1, 70, 300, 4, 3};
    Inputs in = make_inputs(c);
    const std::vector<int64_t> kept = {20, 0, 290};  // sequence 1: all padding
    std::vector<bool> keep;
    for (int64_t b = 0; b < c.B; ++b) {
      for (int64_t j = 0; j < c.S; ++j) keep.push_back(j < kept[b]);
    }
    in.options.attn_mask = from_vector(keep, {c.B, 1, 1, c.S});
    const Grads got = run(in, fused);
    for (const Tensor& t : {got.out, got.gq, got.gk, got.gv}) {
      EXPECT_TRUE(all(eq(t.select(0, 1), 0.0)).item<bool>());
      EXPECT_FALSE(any(ne(t, t)).item<bool>());  // no NaN anywhere
    }
    // The padded keys of sequences 0 and 2 get no gradient.
    EXPECT_TRUE(all(eq(got.gk.select(0, 0).slice(1, 20, c.S), 0.0)).item<bool>());
    EXPECT_TRUE(all(eq(got.gv.select(0, 2).slice(1, 290, c.S), 0.0)).item<bool>());
    // Sequences 0 and 2 against the composite without sequence 1 (whose
    // softmax over no key is NaN there).
    expect_entries_match_composite(in, got, {0, 2});
  }
  set_num_threads(saved);
}

// skip_padded_queries: the queries at the key padding's hidden positions
// are rows that see no key (out 0, no gradient); the others are the plain
// attention's, which the composite checks with a zero output gradient on
// the skipped rows. Sequence 0 keeps its 300 tokens; sequence 1 keeps
// [10, 170) but for a gap at [50, 55) (left padding and a gap: hidden
// queries before the last kept key); sequence 2 none. Two key tiles; 3
// heads make one backward pass at 1 thread and two at 2; float64, and
// bfloat16 against float32.
TEST(Attention, SkippedPaddedQueriesSeeNoKey) {
  const int saved = get_num_threads();
  const Config c{"skip_padded_queries", 3, 1, 300, 300, 4, 3};
  auto kept = [](int64_t b, int64_t j) {
    if (b == 0) return true;
    return b == 1 && j >= 10 && j < 170 && (j < 50 || j >= 55);
  };
  std::vector<bool> keep;
  for (int64_t b = 0; b < c.B; ++b) {
    for (int64_t j = 0; j < c.S; ++j) keep.push_back(kept(b, j));
  }
  const Tensor key_mask = from_vector(keep, {c.B, 1, 1, c.S});
  const Tensor query_keep = key_mask.view({c.B, 1, c.S, 1}).to(kFloat64);
  for (int threads : {1, 2}) {
    SCOPED_TRACE(threads);
    set_num_threads(threads);
    Inputs in = make_inputs(c);
    in.options.attn_mask = key_mask;
    in.options.skip_padded_queries = true;
    const Grads got = run(in, fused);
    EXPECT_TRUE(all(eq(got.out * (1.0 - query_keep), 0.0)).item<bool>());
    EXPECT_TRUE(all(eq(got.gq * (1.0 - query_keep), 0.0)).item<bool>());
    EXPECT_FALSE(any(ne(got.out, got.out)).item<bool>());
    // The composite on sequences 0 and 1 (2 has no key: NaN there), its
    // output gradient zero on the skipped rows.
    expect_entries_match_composite(in, got, {0, 1}, query_keep);
    // bfloat16 (the 16-bit tile where the CPU has one) against float32.
    const Tensor q16 = in.q.detach().to(kBFloat16), k16 = in.k.detach().to(kBFloat16),
                 v16 = in.v.detach().to(kBFloat16);
    const Tensor out16 = scaled_dot_product_attention(q16, k16, v16, in.options);
    const Tensor out32 = scaled_dot_product_attention(q16.to(kFloat32), k16.to(kFloat32),
                                                      v16.to(kFloat32), in.options);
    testing::expect_close(out16.to(kFloat32), out32, 2e-2, 2e-2);
    EXPECT_TRUE(all(eq(out16.to(kFloat64) * (1.0 - query_keep), 0.0)).item<bool>());
  }
  set_num_threads(saved);
}

TEST(Attention, NoKeysGiveZeros) {
  Tensor q = randn({2, 3, 4}), k = zeros({2, 0, 4}), v = zeros({2, 0, 5});
  Tensor out = scaled_dot_product_attention(q, k, v);
  EXPECT_EQ(out.shape(), (Shape{2, 3, 5}));
  EXPECT_TRUE(all(eq(out, 0.0)).item<bool>());
}

// float16 / bfloat16 compute in float32 and give their own dtype back.
TEST(Attention, ReducedFloatsComputeInFloat32) {
  Inputs in = make_inputs({"half", 1, 2, 5, 6, 4, 4, Mask::key_padding});
  const Tensor q = in.q.detach().to(kFloat16), k = in.k.detach().to(kFloat16),
               v = in.v.detach().to(kFloat16);
  const Tensor out = scaled_dot_product_attention(q, k, v, in.options);
  EXPECT_EQ(out.dtype(), kFloat16);
  testing::expect_close(out, composite(q.to(kFloat32), k.to(kFloat32), v.to(kFloat32), in.options),
                        1e-2, 1e-2);
}

// The backward reads the forward's dropout keep bits on the CPU; without
// them (beyond their memory bound) it draws the same bits again from the
// Philox state: the same gradients, bit for bit. Rows of 200 keys end
// inside a 64-bit word, causal tiles are skipped, row 0 of head 1 is fully
// masked. In float32 (dropout as float32 scales) and bfloat16 (on a 16-bit
// tile, the bits themselves as masks).
TEST(Attention, KeptDropoutBitsEqualTheDrawnOnes) {
  Generator data(3);
  const Tensor q0 = randn({2, 130, 16}, kFloat32, &data), k0 = randn({2, 200, 16}, kFloat32, &data);
  const Tensor v0 = randn({2, 200, 8}, kFloat32, &data), go0 = randn({2, 130, 8}, kFloat32, &data);
  Tensor mask = ones({2, 130, 200}, kBool);
  native::select(native::select(mask, 0, 1), 0, 0).fill_(false);
  for (auto [dtype, causal] : {std::pair{kFloat32, false}, std::pair{kFloat32, true},
                               std::pair{kBFloat16, false}, std::pair{kBFloat16, true}}) {
    SCOPED_TRACE(std::string(dtype_name(dtype)) + (causal ? " causal" : " masked"));
    const Tensor q = q0.to(dtype), k = k0.to(dtype), v = v0.to(dtype), go = go0.to(dtype);
    Generator g(3);
    AttentionOptions o;
    o.dropout_p = 0.3;
    o.generator = &g;
    if (causal) {
      o.is_causal = true;
    } else {
      o.attn_mask = mask;
    }
    native::AttentionForward forward = native::scaled_dot_product_attention_forward(q, k, v, o);
    ASSERT_TRUE(forward.keep_bits.defined());
    const native::AttentionGrads kept =
        native::scaled_dot_product_attention_backward(go, q, k, v, forward, o);
    forward.keep_bits = Tensor();
    const native::AttentionGrads drawn =
        native::scaled_dot_product_attention_backward(go, q, k, v, forward, o);
    testing::expect_close(kept.q.to(kFloat32), drawn.q.to(kFloat32), 0, 0);
    testing::expect_close(kept.k.to(kFloat32), drawn.k.to(kFloat32), 0, 0);
    testing::expect_close(kept.v.to(kFloat32), drawn.v.to(kFloat32), 0, 0);
  }
}

// ---- the packed form -----------------------------------------------------------

// scaled_dot_product_attention_packed(qkv, H) against the three head views
// of qkv through scaled_dot_product_attention, heads merged: the same
// kernel, so the same output and the same qkv gradient (the views' path
// sums zero-padded parts, which adds only zeros), bit for bit; with a
// key-padding mask, causality and dropout drawn from equal generators, in
// float64, float32 and the CPU's bfloat16 kernel.
TEST(AttentionPacked, EqualsTheThreeHeadViews) {
  const int64_t B = 2, L = 37, H = 2, D = 8, E = H * D;
  Tensor padding = ones({B, 1, 1, L}, kBool);
  padding.slice(3, 30, L).select(0, 1).fill_(false);
  for (DType dtype : {kFloat64, kFloat32, kBFloat16}) {
    for (int variant = 0; variant < 3; ++variant) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + " variant " + std::to_string(variant));
      Generator data(11);
      const Tensor qkv0 = randn({B, L, 3 * E}, kFloat64, &data).to(dtype);
      const Tensor weights = randn({B, L, E}, kFloat64, &data).to(dtype);
      auto run = [&](bool packed) {
        Generator g(21);
        AttentionOptions o;
        if (variant == 0) o.attn_mask = padding;
        if (variant == 1) o.is_causal = true;
        if (variant == 2) {
          o.attn_mask = padding;
          o.dropout_p = 0.25;
          o.generator = &g;
        }
        Tensor qkv = qkv0.detach().requires_grad_();
        Tensor out;
        if (packed) {
          out = scaled_dot_product_attention_packed(qkv, H, o);
        } else {
          auto heads = [&](int64_t part) {
            return qkv.narrow(2, part * E, E).view({B, L, H, D}).transpose(1, 2);
          };
          out = scaled_dot_product_attention(heads(0), heads(1), heads(2), o)
                    .transpose(1, 2)
                    .reshape({B, L, E});
        }
        (out * weights).sum().backward();
        return std::pair{out.detach(), qkv.grad()};
      };
      const auto [out, grad] = run(true);
      const auto [want_out, want_grad] = run(false);
      EXPECT_EQ(out.shape(), (Shape{B, L, E}));
      EXPECT_EQ(out.dtype(), dtype);
      testing::expect_close(out, want_out, 0, 0);
      testing::expect_close(grad, want_grad, 0, 0);
    }
  }
}

TEST(AttentionPacked, BadInputsThrow) {
  const std::string op = "scaled_dot_product_attention_packed";
  testing::expect_error(
      [] {
        scaled_dot_product_attention_packed(randn({2, 5, 12}), 3);
      },
      std::vector<std::string>{op, "multiple of num_heads=3", "[2, 5, 12]"});
  testing::expect_error(
      [] {
        scaled_dot_product_attention_packed(randn({5, 12}), 2);
      },
      std::vector<std::string>{op, "[batch, length, 3 * embed_dim]"});
  testing::expect_error(
      [] {
        scaled_dot_product_attention_packed(randn({2, 5, 12}), 0);
      },
      std::vector<std::string>{op, "num_heads=0"});
}

// Packed sequences (AttentionOptions::sequence_offsets): qkv [N, 3E], the
// sequences' tokens one after another, attended as the padded batch [B, L,
// 3E] with its key padding and skip_padded_queries, dropout drawn from equal
// generators: the same output and qkv gradient at the real tokens, up to the
// order of float sums (the padded run's softmax sums run over keys rounded
// up to 32). Sequences of L, L - 7 (inside a query tile), 0 and 1 tokens; at
// one and two threads with 1 and 2 heads (3 and 6 heads of work: both
// backward schedules).
TEST(AttentionPacked, PackedSequencesMatchThePaddedBatch) {
  const int saved = get_num_threads();
  const int64_t L = 37, D = 8;
  const std::vector<int64_t> lengths{L, L - 7, 0, 1};
  const auto B = static_cast<int64_t>(lengths.size());
  std::vector<int64_t> offsets{0};
  Tensor keep = zeros({B, 1, 1, L}, kBool);  // true = a real token
  for (int64_t b = 0; b < B; ++b) {
    offsets.push_back(offsets.back() + lengths[b]);
    keep.select(0, b).narrow(2, 0, lengths[b]).fill_(true);
  }
  const int64_t N = offsets.back();
  // Row n of the packed tokens is position `position[n]` of the padded batch.
  std::vector<int64_t> position;
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t l = 0; l < lengths[b]; ++l) position.push_back(b * L + l);
  }
  const Tensor rows = from_vector(position, {N});
  for (DType dtype : {kFloat64, kFloat32, kBFloat16}) {
    for (int64_t H : {1, 2}) {
      for (int threads : {1, 2}) {
        SCOPED_TRACE(std::string(dtype_name(dtype)) + " heads " + std::to_string(H) + " threads " +
                     std::to_string(threads));
        set_num_threads(threads);
        const int64_t E = H * D;
        Generator data(5);
        const Tensor tokens = randn({N, 3 * E}, kFloat64, &data).to(dtype);
        const Tensor weights = randn({N, E}, kFloat64, &data).to(dtype);
        Generator g_packed(9), g_padded(9);
        AttentionOptions packed;
        packed.sequence_offsets = from_vector(offsets, {B + 1});
        packed.sequence_length = L;
        packed.dropout_p = 0.25;
        packed.generator = &g_packed;
        const Tensor qkv = tokens.detach().requires_grad_();
        const Tensor out = scaled_dot_product_attention_packed(qkv, H, packed);
        ASSERT_EQ(out.shape(), (Shape{N, E}));
        EXPECT_EQ(out.dtype(), dtype);
        (out * weights).sum().backward();

        AttentionOptions padded;
        padded.attn_mask = keep;
        padded.skip_padded_queries = true;
        padded.dropout_p = 0.25;
        padded.generator = &g_padded;
        Tensor padded_qkv = zeros({B * L, 3 * E}, TensorOptions(dtype));
        for (int64_t b = 0; b < B; ++b) {
          padded_qkv.narrow(0, b * L, lengths[b]).copy_(tokens.narrow(0, offsets[b], lengths[b]));
        }
        const Tensor qkv2 = padded_qkv.view({B, L, 3 * E}).requires_grad_();
        const Tensor want = scaled_dot_product_attention_packed(qkv2, H, padded)
                                .reshape({B * L, E})
                                .index_select(0, rows);
        (want * weights).sum().backward();
        const double tol = dtype == kFloat64 ? 1e-12 : dtype == kFloat32 ? 1e-5 : 2e-2;
        testing::expect_close(out, want.detach(), tol, tol);
        testing::expect_close(qkv.grad(), qkv2.grad().reshape({B * L, 3 * E}).index_select(0, rows),
                              tol, tol);
      }
    }
  }
  set_num_threads(saved);
}

TEST(AttentionPacked, BadPackedSequencesThrow) {
  const std::string op = "scaled_dot_product_attention_packed";
  auto with_offsets = [](const std::vector<int64_t>& offsets, int64_t length) {
    AttentionOptions o;
    o.sequence_offsets = from_vector(offsets, {static_cast<int64_t>(offsets.size())});
    o.sequence_length = length;
    return o;
  };
  const Tensor qkv = randn({7, 12});
  testing::expect_error(
      [&] {
        scaled_dot_product_attention_packed(qkv, 2, with_offsets({0, 3, 6}, 4));
      },
      std::vector<std::string>{op, "from 0 to the 7 tokens"});
  testing::expect_error(
      [&] {
        scaled_dot_product_attention_packed(qkv, 2, with_offsets({0, 5, 4, 7}, 5));
      },
      std::vector<std::string>{op, "without decreasing"});
  testing::expect_error(
      [&] {
        scaled_dot_product_attention_packed(qkv, 2, with_offsets({0, 7}, 6));
      },
      std::vector<std::string>{op, "at most sequence_length=6"});
  testing::expect_error(
      [&] {
        scaled_dot_product_attention_packed(randn({2, 7, 12}), 2, with_offsets({0, 7}, 7));
      },
      std::vector<std::string>{op, "[tokens, 3 * embed_dim]"});
  AttentionOptions masked = with_offsets({0, 7}, 7);
  masked.is_causal = true;
  testing::expect_error([&] { scaled_dot_product_attention_packed(qkv, 2, masked); },
                        std::vector<std::string>{op, "no attn_mask, is_causal"});
  AttentionOptions floats = with_offsets({0, 7}, 7);
  floats.sequence_offsets = floats.sequence_offsets.to(kFloat32);
  testing::expect_error([&] { scaled_dot_product_attention_packed(qkv, 2, floats); },
                        std::vector<std::string>{op, "int64 [batch + 1]"});
}

// ---- memory -----------------------------------------------------------------

// L = S = 2048, 2 heads: one [L, S] float score matrix per head would be
// 16 MiB (32 MiB for both); the fused op holds q, k, v, out, lse and their
// gradients (~0.5 MiB each), per-thread tiles that are not [L, S]-sized and
// the dropout's keep bits (a bit per score, 1 MiB).
TEST(Attention, PeakMemoryStaysFarBelowTheScoreMatrix) {
  const int64_t L = 2048, E = 32;
  Generator g(2);
  Tensor q = randn({1, 2, L, E}, kFloat32, &g).requires_grad_();
  Tensor k = randn({1, 2, L, E}, kFloat32, &g).requires_grad_();
  Tensor v = randn({1, 2, L, E}, kFloat32, &g).requires_grad_();
  Tensor r = randn({1, 2, L, E}, kFloat32, &g);
  AttentionOptions o;
  o.is_causal = true;
  o.dropout_p = 0.1;
  o.generator = &g;
  const int64_t before = memory_stats().current_bytes;
  reset_peak_memory_stats();
  Tensor out = scaled_dot_product_attention(q, k, v, o);
  (out * r).sum().backward();
  const int64_t peak = memory_stats().peak_bytes - before;
  const int64_t score_matrix = L * L * 4;   // one head's
  const int64_t keep_bits = 2 * L * L / 8;  // the dropout's keep bits, both heads
  EXPECT_LT(peak, score_matrix / 4 + keep_bits) << "peak " << peak << " bytes";
  RecordProperty("peak_bytes", static_cast<int>(peak));
  EXPECT_TRUE(q.grad().defined() && k.grad().defined() && v.grad().defined());
}

// ---- errors -----------------------------------------------------------------

// The error names the op and says what is wrong.
void expect_attention_error(const std::function<void()>& fn, const std::string& needle) {
  testing::expect_error(fn, std::vector<std::string>{"scaled_dot_product_attention", needle});
}

TEST(Attention, BadInputsThrow) {
  const Tensor q = randn({2, 3, 4, 8}), k = randn({2, 3, 5, 8}), v = randn({2, 3, 5, 6});
  expect_attention_error(
      [&] {
        scaled_dot_product_attention(q, randn({2, 3, 5, 7}), v);
      },
      "same last dim E");
  expect_attention_error(
      [&] {
        scaled_dot_product_attention(q, k, randn({2, 3, 6, 6}));
      },
      "same number of keys");
  expect_attention_error(
      [&] {
        scaled_dot_product_attention(q, randn({2, 2, 5, 8}), randn({2, 2, 5, 6}));
      },
      "same leading");
  expect_attention_error(
      [&] {
        scaled_dot_product_attention(q, randn({3, 5, 8}), randn({3, 5, 6}));
      },
      "same number of dims");
  expect_attention_error([&] { scaled_dot_product_attention(randn({8}), randn({8}), randn({8})); },
                         "at least 2");
  const Shape nine_leading{1, 1, 1, 1, 1, 1, 1, 1, 2, 4, 8};
  expect_attention_error(
      [&] {
        scaled_dot_product_attention(randn(nine_leading), randn(nine_leading), randn(nine_leading));
      },
      "at most 8 leading (batch, head) dims");
  AttentionOptions skip;
  skip.skip_padded_queries = true;
  const Tensor x = randn({2, 5, 8});
  expect_attention_error([&] { scaled_dot_product_attention(x, x, x, skip); },
                         "skip_padded_queries needs an attn_mask");
  skip.attn_mask = ones({5, 5}, kBool);
  expect_attention_error([&] { scaled_dot_product_attention(x, x, x, skip); },
                         "one row for every query");
  skip.attn_mask = ones({2, 1, 5}, kBool);
  expect_attention_error(
      [&] {
        scaled_dot_product_attention(randn({2, 4, 8}), x, x, skip);
      },
      "self-attention (L == S)");
  AttentionOptions bad_mask;
  bad_mask.attn_mask = ones({2, 1, 4, 4}, kBool);  // S = 5 keys
  expect_attention_error([&] { scaled_dot_product_attention(q, k, v, bad_mask); },
                         "does not broadcast");
  AttentionOptions bigger_batch;
  bigger_batch.attn_mask = zeros({5, 2, 3, 4, 5});
  expect_attention_error([&] { scaled_dot_product_attention(q, k, v, bigger_batch); },
                         "does not broadcast");
  AttentionOptions int_mask;
  int_mask.attn_mask = zeros({4, 5}, kInt64);
  expect_attention_error([&] { scaled_dot_product_attention(q, k, v, int_mask); },
                         "bool or floating");
  AttentionOptions both;
  both.attn_mask = ones({4, 5}, kBool);
  both.is_causal = true;
  expect_attention_error([&] { scaled_dot_product_attention(q, k, v, both); }, "is_causal");
  for (double p : {-0.1, 1.0, 1.5}) {
    AttentionOptions drop;
    drop.dropout_p = p;
    expect_attention_error([&] { scaled_dot_product_attention(q, k, v, drop); }, "dropout_p");
  }
  expect_attention_error(
      [&] { scaled_dot_product_attention(q.to(kInt64), k.to(kInt64), v.to(kInt64)); },
      "floating dtype");
  expect_attention_error([&] { scaled_dot_product_attention(q, k.to(kFloat64), v); },
                         "floating dtype");
  AttentionOptions grad_mask;
  grad_mask.attn_mask = zeros({4, 5}).requires_grad_();
  expect_attention_error(
      [&] { scaled_dot_product_attention(q.detach().requires_grad_(), k, v, grad_mask); },
      "attn_mask gets no gradient");
}

// ---- golden values ------------------------------------------------------------

// tests/golden/data/attention.txt (tests/golden/make_attention_golden.py):
// PyTorch's float32 composite and its gradients; replayed with the stored
// inputs and with non-contiguous copies.
TEST(Golden, Attention) {
  const auto cases = testing::load_golden("attention.txt");
  ASSERT_EQ(cases.size(), 5u);
  for (const auto& entry : cases) {
    const std::string& name = entry.first;
    const testing::GoldenCase& c = entry.second;  // a plain reference: lambdas capture it
    for (bool strided : {false, true}) {
      SCOPED_TRACE(name + (strided ? " non-contiguous" : ""));
      auto input = [&](const char* label) {
        const Tensor& t = c.at(label);
        return strided ? testing::non_contiguous(t) : t.clone();
      };
      Inputs in{input("q"), input("k"), input("v"), {}};
      in.options.is_causal = c.at("is_causal").item<bool>();
      if (c.count("mask")) in.options.attn_mask = input("mask");
      if (c.count("scale")) in.options.scale = c.at("scale").item<double>();
      Tensor q = in.q.requires_grad_(), k = in.k.requires_grad_(), v = in.v.requires_grad_();
      Tensor out = scaled_dot_product_attention(q, k, v, in.options);
      (out * input("r")).sum().backward();
      for (const auto& [label, got] : std::vector<std::pair<std::string, Tensor>>{
               {"out", out}, {"grad_q", q.grad()}, {"grad_k", k.grad()}, {"grad_v", v.grad()}}) {
        SCOPED_TRACE(label);
        EXPECT_EQ(got.dtype(), kFloat32);
        testing::expect_close(got, c.at(label), 1e-5, 1e-6);
      }
    }
  }
}

}  // namespace
}  // namespace toadstool
