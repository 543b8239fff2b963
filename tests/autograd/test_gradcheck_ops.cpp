// A finite-difference gradient check for every differentiable op, over
// contiguous, non-contiguous, broadcast and size-1 inputs. The last test
// fails when an entry of the op table (autograd/op_table.h) has no check
// here; each check also asserts that the ops it names were on its graph.
#include <functional>
#include <set>
#include <string>

#include "test_util.h"
#include "toadstool/autograd/rnn_ops.h"

namespace toadstool {
namespace {

using autograd::gradcheck;
using autograd::GradcheckFn;

struct GradCase {
  std::string name;
  std::vector<std::string> ops;  // op table entries this case checks
  std::function<std::vector<Tensor>()> inputs;
  GradcheckFn fn;
  double eps = 1e-6;
};

// Random float64 leaves that require grad, from a fixed seed per call site.
Generator& gen() {
  static Generator g(7);
  return g;
}
Tensor leaf(const Shape& shape) { return randn(shape, kFloat64, &gen()).requires_grad_(); }
// Values in [0.5, 1.5): inside the domain of log, sqrt, pow, and away from 0 for div.
Tensor positive(const Shape& shape) {
  return (rand(shape, kFloat64, &gen()) + 0.5).requires_grad_();
}
// A leaf whose memory is not in row-major order (a transposed buffer).
Tensor strided_leaf(const Shape& shape) {
  Shape reversed(shape.rbegin(), shape.rend());
  Shape dims;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) dims.push_back(d);
  return randn(reversed, kFloat64, &gen()).permute(dims).detach().requires_grad_();
}
Tensor indices(const std::vector<int64_t>& v, const Shape& shape) { return from_vector(v, shape); }

using Unary = std::function<Tensor(const Tensor&)>;
using Binary = std::function<Tensor(const Tensor&, const Tensor&)>;

// A unary op over four layouts: contiguous, strided, a size-1 dim, 0-d.
void add_unary(std::vector<GradCase>& cases, const std::string& op, const Unary& f,
               bool positive_only = false) {
  auto make = [positive_only](const Shape& s) { return positive_only ? positive(s) : leaf(s); };
  cases.push_back({op + "_contiguous",
                   {op},
                   [=] {
                     return std::vector{make({3, 4})};
                   },
                   [f](const auto& x) { return f(x[0]); }});
  cases.push_back({op + "_strided",
                   {op},
                   [=] {
                     Tensor t = make({4, 3});
                     return std::vector{t.t().detach().requires_grad_()};
                   },
                   [f](const auto& x) { return f(x[0]); }});
  cases.push_back({op + "_size1",
                   {op},
                   [=] {
                     return std::vector{make({1, 5, 1})};
                   },
                   [f](const auto& x) { return f(x[0]); }});
  cases.push_back({op + "_0d",
                   {op},
                   [=] { return std::vector{make({})}; },
                   [f](const auto& x) { return f(x[0]); }});
}

// A binary op over equal shapes, broadcasting both ways, a broadcast row
// against a batch, and strided inputs.
void add_binary(std::vector<GradCase>& cases, const std::string& op, const Binary& f,
                bool positive_only = false) {
  auto make = [positive_only](const Shape& s) { return positive_only ? positive(s) : leaf(s); };
  const GradcheckFn fn = [f](const auto& x) { return f(x[0], x[1]); };
  cases.push_back({op + "_same",
                   {op},
                   [=] {
                     return std::vector{make({3, 4}), make({3, 4})};
                   },
                   fn});
  cases.push_back({op + "_broadcast",
                   {op},
                   [=] {
                     return std::vector{make({3, 1}), make({1, 4})};
                   },
                   fn});
  cases.push_back({op + "_row", {op}, [=] { return std::vector{make({2, 3, 4}), make({4})}; }, fn});
  cases.push_back(
      {op + "_strided",
       {op},
       [=] {
         Tensor a = make({4, 3}), b = make({4, 3});
         return std::vector{a.t().detach().requires_grad_(), b.t().detach().requires_grad_()};
       },
       fn});
}

std::vector<GradCase> all_cases() {
  std::vector<GradCase> c;
  using Inputs = std::function<std::vector<Tensor>()>;
  auto one = [&](std::string name, std::vector<std::string> ops, Inputs in, GradcheckFn fn) {
    c.push_back({std::move(name), std::move(ops), std::move(in), std::move(fn)});
  };
  auto x0 = [](const Unary& f) -> GradcheckFn { return [f](const auto& x) { return f(x[0]); }; };

  // ---- views and copies
  one(
      "view", {"view"},
      [] {
        return std::vector{leaf({2, 6})};
      },
      x0([](const Tensor& t) {
        return t.view({3, 4}) * 2;
      }));
  one(
      "reshape_strided", {"reshape"},
      [] {
        return std::vector{strided_leaf({3, 4})};
      },
      x0([](const Tensor& t) {
        return t.reshape({4, 3});
      }));
  one(
      "flatten", {"flatten"},
      [] {
        return std::vector{leaf({2, 3, 2})};
      },
      x0([](const Tensor& t) { return t.flatten(1); }));
  one(
      "squeeze_unsqueeze", {"squeeze", "unsqueeze"},
      [] {
        return std::vector{leaf({3, 1, 2})};
      },
      x0([](const Tensor& t) { return t.squeeze(1).unsqueeze(0).squeeze(); }));
  one(
      "permute", {"permute"},
      [] {
        return std::vector{leaf({2, 3, 4})};
      },
      x0([](const Tensor& t) {
        return t.permute({2, 0, 1});
      }));
  one(
      "transpose", {"transpose"},
      [] {
        return std::vector{leaf({2, 3, 4})};
      },
      x0([](const Tensor& t) { return t.transpose(0, 2); }));
  one(
      "narrow", {"narrow"},
      [] {
        return std::vector{leaf({5, 3})};
      },
      x0([](const Tensor& t) { return t.narrow(0, 1, 3); }));
  one(
      "slice_step", {"slice"},
      [] {
        return std::vector{leaf({3, 7})};
      },
      x0([](const Tensor& t) { return t.slice(1, 1, 6, 2); }));
  one(
      "select_strided", {"select"},
      [] {
        return std::vector{strided_leaf({4, 3})};
      },
      x0([](const Tensor& t) { return t.select(1, -1); }));
  one(
      "expand", {"expand", "mul"},
      [] {
        return std::vector{leaf({3, 1}), leaf({2, 3, 4}).detach()};
      },
      [](const auto& x) {
        return x[0].expand({2, 3, 4}) * x[1];
      });
  one(
      "contiguous", {"contiguous"},
      [] {
        return std::vector{strided_leaf({3, 4})};
      },
      x0([](const Tensor& t) { return t.contiguous(); }));
  one(
      "clone", {"clone"}, [] { return std::vector{leaf({3})}; },
      x0([](const Tensor& t) { return t.clone(); }));
  // float64 -> float32 -> float64: the rounding needs a wider step.
  c.push_back({"to_dtype",
               {"to_dtype"},
               [] {
                 return std::vector{leaf({3, 2})};
               },
               x0([](const Tensor& t) { return t.to(kFloat32).to(kFloat64); }),
               1e-2});

  // ---- element-wise
  add_unary(c, "neg", [](const Tensor& t) { return -t; });
  add_unary(c, "abs", [](const Tensor& t) { return t.abs(); });
  add_unary(c, "exp", [](const Tensor& t) { return t.exp(); });
  add_unary(
      c, "log", [](const Tensor& t) { return t.log(); }, true);
  add_unary(
      c, "log1p", [](const Tensor& t) { return t.log1p(); }, true);
  add_unary(
      c, "sqrt", [](const Tensor& t) { return t.sqrt(); }, true);
  add_unary(
      c, "rsqrt", [](const Tensor& t) { return t.rsqrt(); }, true);
  add_unary(c, "tanh", [](const Tensor& t) { return t.tanh(); });
  add_unary(c, "sigmoid", [](const Tensor& t) { return t.sigmoid(); });
  add_unary(c, "relu", [](const Tensor& t) { return t.relu(); });
  add_unary(c, "sin", [](const Tensor& t) { return t.sin(); });
  add_unary(c, "cos", [](const Tensor& t) { return t.cos(); });
  add_unary(c, "gelu", [](const Tensor& t) { return gelu(t); });
  one(
      "gelu_tanh", {"gelu"},
      [] {
        return std::vector{(leaf({3, 4}) * 3).detach().requires_grad_()};
      },
      x0([](const Tensor& t) { return gelu(t, "tanh"); }));
  add_unary(c, "softplus", [](const Tensor& t) { return softplus(t); });
  // beta 2, threshold 1: elements above x = 0.5 are in the linear regime.
  one(
      "softplus_beta_threshold", {"softplus"},
      [] {
        return std::vector{leaf({4, 3})};
      },
      x0([](const Tensor& t) { return softplus(t, 2, 1); }));
  add_unary(c, "clamp", [](const Tensor& t) { return t.clamp(-0.5, 0.7); });
  one(
      "clamp_min_only", {"clamp"},
      [] {
        return std::vector{leaf({4, 3})};
      },
      x0([](const Tensor& t) { return t.clamp(0.1, std::nullopt); }));
  add_unary(c, "add_scalar", [](const Tensor& t) { return t + 2; });
  one(
      "sub_scalar", {"add_scalar"}, [] { return std::vector{leaf({3})}; },
      x0([](const Tensor& t) { return t - 2; }));
  add_unary(c, "rsub", [](const Tensor& t) { return 2 - t; });
  add_unary(c, "mul_scalar", [](const Tensor& t) { return t * 3; });
  add_unary(c, "div_scalar", [](const Tensor& t) { return t / 4; });
  add_unary(
      c, "rdiv", [](const Tensor& t) { return 2 / t; }, true);
  add_unary(c, "pow_scalar", [](const Tensor& t) { return t.pow(3); });
  one(
      "pow_scalar_fraction", {"pow_scalar"},
      [] {
        return std::vector{positive({2, 3})};
      },
      x0([](const Tensor& t) { return t.pow(0.5); }));
  one(
      "pow_scalar_zero", {"pow_scalar", "add"},
      [] {
        return std::vector{leaf({2, 3})};
      },
      x0([](const Tensor& t) { return t.pow(0) + t; }));
  add_unary(c, "rpow", [](const Tensor& t) { return pow(2.5, t); });

  add_binary(c, "add", [](const Tensor& a, const Tensor& b) { return add(a, b, 2); });
  add_binary(c, "sub", [](const Tensor& a, const Tensor& b) { return sub(a, b, 0.5); });
  add_binary(c, "mul", [](const Tensor& a, const Tensor& b) { return a * b; });
  add_binary(
      c, "div", [](const Tensor& a, const Tensor& b) { return a / b; }, true);
  add_binary(
      c, "pow", [](const Tensor& a, const Tensor& b) { return pow(a, b); }, true);
  add_binary(c, "maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); });
  add_binary(c, "minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); });
  add_binary(c, "atan2", [](const Tensor& a, const Tensor& b) { return atan2(a, b); });

  one(
      "where", {"where"},
      [] {
        return std::vector{leaf({3, 1}), leaf({4})};
      },
      [](const auto& x) {
        const Tensor condition = from_vector<bool>({true, false, false, true}, {4});
        return where(condition, x[0], x[1]);
      });
  one(
      "where_scalar", {"where"},
      [] {
        return std::vector{strided_leaf({4, 3})};
      },
      [](const auto& x) {
        const Tensor condition = from_vector<bool>({true, false, true}, {3});
        return where(condition, x[0], 1.5);
      });
  one(
      "masked_fill_broadcast", {"masked_fill"},
      [] {
        return std::vector{leaf({2, 3})};
      },
      [](const auto& x) {
        return x[0].masked_fill(from_vector<bool>({false, true, false}, {3}), -1.0);
      });

  // ---- reductions
  one(
      "sum_all", {"sum"},
      [] {
        return std::vector{strided_leaf({3, 4})};
      },
      x0([](const Tensor& t) { return t.sum(); }));
  one(
      "sum_dims", {"sum"},
      [] {
        return std::vector{leaf({2, 3, 4})};
      },
      x0([](const Tensor& t) {
        return t.sum({0, 2});
      }));
  one(
      "sum_keepdim", {"sum"},
      [] {
        return std::vector{leaf({2, 3, 4})};
      },
      x0([](const Tensor& t) { return t.sum({-2}, true); }));
  one(
      "mean", {"mean"},
      [] {
        return std::vector{leaf({2, 3, 4})};
      },
      x0([](const Tensor& t) { return t.mean({1}); }));
  one(
      "mean_all_strided", {"mean"},
      [] {
        return std::vector{strided_leaf({3, 4})};
      },
      x0([](const Tensor& t) { return t.mean(); }));
  one(
      "prod", {"prod"},
      [] {
        return std::vector{positive({3, 4})};
      },
      x0([](const Tensor& t) { return t.prod({1}); }));
  one(
      "prod_one_zero", {"prod", "mul"},
      [] {
        return std::vector{leaf({2, 3}), from_vector<double>({1, 0, 1, 1, 1, 1}, {2, 3})};
      },
      [](const auto& x) { return (x[0] * x[1]).prod({1}, true); });
  one(
      "prod_two_zeros", {"prod", "mul"},
      [] {
        return std::vector{leaf({2, 3}), from_vector<double>({1, 0, 0, 1, 1, 1}, {2, 3})};
      },
      [](const auto& x) { return (x[0] * x[1]).prod({1}); });
  one(
      "amax", {"amax"},
      [] {
        return std::vector{leaf({3, 4})};
      },
      x0([](const Tensor& t) { return t.amax({1}); }));
  one(
      "amin_keepdim", {"amin"},
      [] {
        return std::vector{leaf({3, 4, 2})};
      },
      x0([](const Tensor& t) {
        return t.amin({0, 2}, true);
      }));
  one(
      "amax_ties", {"amax"}, [] { return std::vector{leaf({4})}; }, x0([](const Tensor& t) {
        return cat({t, t}).amax();
      }));
  one(
      "max_full", {"max"},
      [] {
        return std::vector{strided_leaf({3, 4})};
      },
      x0([](const Tensor& t) { return max(t); }));
  one(
      "min_full", {"min"},
      [] {
        return std::vector{leaf({3, 4})};
      },
      x0([](const Tensor& t) { return min(t); }));
  one(
      "max_dim", {"max_dim"},
      [] {
        return std::vector{leaf({3, 4})};
      },
      x0([](const Tensor& t) { return max(t, 1).first; }));
  one(
      "min_dim_keepdim", {"min_dim"},
      [] {
        return std::vector{strided_leaf({3, 4})};
      },
      x0([](const Tensor& t) { return min(t, 0, true).first; }));
  one(
      "var", {"var"},
      [] {
        return std::vector{leaf({3, 4})};
      },
      x0([](const Tensor& t) { return t.var({1}); }));
  one(
      "var_population_all", {"var"},
      [] {
        return std::vector{leaf({2, 3})};
      },
      x0([](const Tensor& t) { return t.var({}, 0); }));
  one(
      "std", {"std"},
      [] {
        return std::vector{leaf({3, 4})};
      },
      x0([](const Tensor& t) { return t.std({0}, 1, true); }));
  one(
      "logsumexp", {"logsumexp"},
      [] {
        return std::vector{leaf({3, 4})};
      },
      x0([](const Tensor& t) { return t.logsumexp({1}); }));

  // ---- linear algebra and NN
  auto mm = [&](const std::string& name, const Shape& a, const Shape& b) {
    one(
        "matmul_" + name, {"matmul"},
        [a, b] {
          return std::vector{leaf(a), leaf(b)};
        },
        [](const auto& x) { return matmul(x[0], x[1]); });
  };
  mm("dot", {4}, {4});
  mm("matrix_vector", {3, 4}, {4});
  mm("vector_matrix", {4}, {4, 2});
  mm("matrix_matrix", {3, 4}, {4, 2});
  mm("batch_times_matrix", {2, 3, 4}, {4, 5});
  mm("batched", {2, 3, 4}, {2, 4, 5});
  mm("broadcast_batch", {3, 4}, {2, 4, 5});
  mm("broadcast_both", {2, 1, 3, 4}, {3, 4, 2});
  mm("batched_vector", {2, 3, 4}, {4});
  one(
      "matmul_transposed", {"matmul", "transpose"},
      [] {
        return std::vector{leaf({4, 3}), leaf({2, 4})};
      },
      [](const auto& x) { return matmul(x[0].t(), x[1].t()); });
  one(
      "matmul_one_side", {"matmul"},
      [] {
        return std::vector{leaf({3, 4}), leaf({4, 2}).detach()};
      },
      [](const auto& x) { return matmul(x[0], x[1]); });
  // The fused Linear: each activation of the epilogue, a 3-D input, a
  // strided weight, no bias on a 1-D input.
  for (const auto& variant : {std::pair{"", LinearActivation::None},
                              {"_relu", LinearActivation::ReLU},
                              {"_gelu", LinearActivation::GELU},
                              {"_gelu_tanh", LinearActivation::GELUTanh}}) {
    const LinearActivation activation = variant.second;
    one(
        std::string("linear") + variant.first, {"linear"},
        [] {
          return std::vector{leaf({2, 3, 4}), strided_leaf({5, 4}), leaf({5})};
        },
        [activation](const auto& x) { return linear(x[0], x[1], x[2], activation); });
  }
  one(
      "linear_vector_no_bias", {"linear"},
      [] {
        return std::vector{leaf({4}), leaf({3, 4})};
      },
      [](const auto& x) { return linear(x[0], x[1], Tensor(), LinearActivation::ReLU); });

  one(
      "softmax", {"softmax"},
      [] {
        return std::vector{leaf({3, 5})};
      },
      x0([](const Tensor& t) { return t.softmax(-1); }));
  one(
      "softmax_dim0_strided", {"softmax"},
      [] {
        return std::vector{strided_leaf({4, 3})};
      },
      x0([](const Tensor& t) { return t.softmax(0); }));
  one(
      "log_softmax", {"log_softmax"},
      [] {
        return std::vector{leaf({2, 3, 4})};
      },
      x0([](const Tensor& t) { return t.log_softmax(1); }));
  one(
      "layer_norm", {"layer_norm"},
      [] {
        return std::vector{leaf({3, 5}), leaf({5}), leaf({5})};
      },
      [](const auto& x) { return layer_norm(x[0], {5}, x[1], x[2]); });
  one(
      "layer_norm_no_affine_2d", {"layer_norm"},
      [] {
        return std::vector{strided_leaf({4, 2, 3})};
      },
      [](const auto& x) {
        return layer_norm(x[0], {2, 3});
      });
  one(
      "layer_norm_weight_only", {"layer_norm"},
      [] {
        return std::vector{leaf({2, 4}), leaf({4})};
      },
      [](const auto& x) { return layer_norm(x[0], {4}, x[1], Tensor(), 1e-3); });
  one(
      "embedding", {"embedding"},
      [] {
        return std::vector{leaf({5, 3})};
      },
      [](const auto& x) {
        return embedding(x[0], indices({4, 1, 4, 0, 2, 4}, {2, 3}));
      });
  one(
      "dropout", {"dropout"},
      [] {
        return std::vector{leaf({4, 5})};
      },
      [](const auto& x) {
        Generator g(5);  // the same mask on every evaluation
        return dropout(x[0], 0.3, true, &g);
      });
  one(
      "dropout_add", {"dropout_add"},
      [] {
        return std::vector{leaf({4, 5}), leaf({4, 5})};
      },
      [](const auto& x) {
        Generator g(6);
        return dropout_add(x[0].pow(2), x[1], 0.4, true, &g);
      });
  one(
      "dropout_add_layer_norm", {"dropout_add_layer_norm"},
      [] {
        // Rows of 7: the mask's Philox blocks straddle rows.
        return std::vector{leaf({3, 7}), leaf({3, 7}), leaf({7}), leaf({7})};
      },
      [](const auto& x) {
        Generator g(7);
        return dropout_add_layer_norm(x[0].pow(2), x[1], 0.4, true, &g, {7}, x[2], x[3]);
      });
  one(
      "scaled_dot_product_attention", {"scaled_dot_product_attention"},
      [] {
        // q [2, 3, 4] and v [2, 5, 3] as transposed buffers, a key-padding mask.
        return std::vector{strided_leaf({2, 3, 4}), leaf({2, 5, 4}), strided_leaf({2, 5, 3})};
      },
      [](const auto& x) {
        AttentionOptions o;
        o.attn_mask = from_vector(std::vector<bool>{1, 1, 1, 1, 0, 1, 1, 1, 0, 0}, {2, 1, 5});
        return scaled_dot_product_attention(x[0], x[1], x[2], o);
      });
  one(
      "scaled_dot_product_attention_packed", {"scaled_dot_product_attention_packed"},
      [] {
        // qkv [2, 3, 3 x 4]: two heads of 2, a key-padding mask.
        return std::vector{leaf({2, 3, 12})};
      },
      [](const auto& x) {
        AttentionOptions o;
        o.attn_mask = from_vector(std::vector<bool>{1, 1, 1, 1, 1, 0}, {2, 1, 1, 3});
        return scaled_dot_product_attention_packed(x[0], 2, o);
      });

  // ---- losses (tests/nn/test_losses.cpp checks values against PyTorch)
  one(
      "cross_entropy_mean", {"cross_entropy"},
      [] {
        return std::vector{leaf({4, 5})};
      },
      [](const auto& x) {
        return cross_entropy(x[0], indices({1, 0, 4, 2}, {4}));
      });
  one(
      "cross_entropy_weight_ignore_smoothing_none", {"cross_entropy"},
      [] {
        return std::vector{strided_leaf({4, 3})};
      },
      [](const auto& x) {
        CrossEntropyOptions o;
        o.weight = from_vector(std::vector<double>{0.5, 2.0, 1.5}, {3});
        o.ignore_index = 1;
        o.label_smoothing = 0.2;
        o.reduction = Reduction::none;
        return cross_entropy(x[0], indices({0, 1, 2, 2}, {4}), o);
      });
  one(
      "cross_entropy_nd_weighted_mean_smoothing", {"cross_entropy"},
      [] {
        return std::vector{leaf({2, 3, 4})};
      },
      [](const auto& x) {
        CrossEntropyOptions o;
        o.weight = from_vector(std::vector<double>{0.3, 1.0, 2.0}, {3});
        o.label_smoothing = 0.3;
        return cross_entropy(x[0], indices({0, 2, -100, 1, 1, 1, 2, 0}, {2, 4}), o);
      });
  one(
      "cross_entropy_nd_sum_smoothing", {"cross_entropy"},
      [] {
        return std::vector{strided_leaf({2, 3, 2})};
      },
      [](const auto& x) {
        CrossEntropyOptions o;
        o.label_smoothing = 0.1;
        o.reduction = Reduction::sum;
        return cross_entropy(x[0], indices({0, -100, 2, 1}, {2, 2}), o);
      });
  one(
      "cross_entropy_one_sample", {"cross_entropy"}, [] { return std::vector{leaf({5})}; },
      [](const auto& x) { return cross_entropy(x[0], scalar_tensor(int64_t{3})); });
  one(
      "nll_loss_weight_ignore", {"gather", "masked_fill"},
      [] {
        return std::vector{leaf({4, 3})};
      },
      [](const auto& x) {
        NLLLossOptions o;
        o.weight = from_vector(std::vector<double>{0.5, 2.0, 1.5}, {3});
        return nll_loss(x[0], indices({0, -100, 2, 1}, {4}), o);
      });
  one(
      "nll_loss_nd_none", {"gather"},
      [] {
        return std::vector{strided_leaf({2, 3, 2})};
      },
      [](const auto& x) {
        NLLLossOptions o;
        o.reduction = Reduction::none;
        return nll_loss(x[0], indices({0, 2, 1, 1}, {2, 2}), o);
      });
  one(
      "bce_with_logits_weights", {"binary_cross_entropy_with_logits"},
      [] {
        return std::vector{leaf({3, 4}), rand({3, 4}, kFloat64, &gen()).requires_grad_()};
      },
      [](const auto& x) {
        BCEWithLogitsOptions o;
        o.weight = from_vector(std::vector<double>{0.5, 1.0, 2.0, 1.5}, {4});
        o.pos_weight = from_vector(std::vector<double>{3.0, 0.5, 1.0, 2.0}, {4});
        return binary_cross_entropy_with_logits(x[0], x[1], o);
      });
  one(
      "bce_with_logits_at_zero_none", {"binary_cross_entropy_with_logits"},
      [] {
        // Logits exactly 0 (a zero-initialised layer): where |x| and max(-x, 0) have kinks.
        return std::vector{zeros({2, 3}, kFloat64).requires_grad_(), strided_leaf({2, 3})};
      },
      [](const auto& x) {
        BCEWithLogitsOptions o;
        o.reduction = Reduction::none;
        return binary_cross_entropy_with_logits(x[0], x[1], o);
      });
  one(
      "bce_with_logits_sum_pos_weight", {"binary_cross_entropy_with_logits"},
      [] {
        return std::vector{strided_leaf({2, 3}), leaf({2, 3})};
      },
      [](const auto& x) {
        BCEWithLogitsOptions o;
        o.pos_weight = from_vector(std::vector<double>{2.0, 0.5, 4.0}, {3});
        o.reduction = Reduction::sum;
        return binary_cross_entropy_with_logits(x[0], x[1], o);
      });
  one(
      "mse_loss", {"sub", "mul", "mean"},
      [] {
        return std::vector{leaf({3, 4}), strided_leaf({3, 4})};
      },
      [](const auto& x) { return mse_loss(x[0], x[1]); });

  // ---- indexing, joining, splitting
  one(
      "index_select", {"index_select"},
      [] {
        return std::vector{leaf({4, 3})};
      },
      x0([](const Tensor& t) {
        return t.index_select(0, indices({3, 0, 3}, {3}));
      }));
  one(
      "index_select_dim1_strided", {"index_select"},
      [] {
        return std::vector{strided_leaf({3, 4})};
      },
      x0([](const Tensor& t) {
        return t.index_select(1, indices({1, 1}, {2}));
      }));
  one(
      "gather", {"gather"},
      [] {
        return std::vector{leaf({3, 4})};
      },
      x0([](const Tensor& t) {
        return gather(t, 1, indices({0, 3, 3, 1, 2, 0}, {3, 2}));
      }));
  one(
      "scatter_add", {"scatter_add"},
      [] {
        return std::vector{leaf({3, 4}), leaf({3, 2})};
      },
      [](const auto& x) {
        return scatter_add(x[0], 1, indices({0, 3, 3, 3, 2, 0}, {3, 2}), x[1]);
      });
  one(
      "index_add", {"index_add"},
      [] {
        return std::vector{leaf({4, 3}), leaf({3, 3})};
      },
      [](const auto& x) {
        return index_add(x[0], 0, indices({1, 3, 1}, {3}), x[1], 0.5);
      });
  // Rows 1 and 3 of 4 and back (rows 0 and 2 padding: inverse 2 = N).
  one(
      "pack_rows", {"pack_rows"},
      [] {
        return std::vector{strided_leaf({4, 3})};
      },
      x0([](const Tensor& t) {
        return pack_rows(t, indices({1, 3}, {2}), indices({2, 0, 2, 1}, {4}));
      }));
  one(
      "unpack_rows", {"unpack_rows"},
      [] {
        return std::vector{leaf({2, 3})};
      },
      x0([](const Tensor& t) {
        return unpack_rows(t, indices({1, 3}, {2}), indices({2, 0, 2, 1}, {4}));
      }));
  one(
      "cat", {"cat"},
      [] {
        return std::vector{leaf({2, 3}), strided_leaf({2, 1}), leaf({2, 2})};
      },
      [](const auto& x) {
        return cat({x[0], x[1], x[2]}, 1);
      });
  one(
      "stack", {"stack"},
      [] {
        return std::vector{leaf({2, 3}), leaf({2, 3})};
      },
      [](const auto& x) {
        return stack({x[0], x[1]}, 1);
      });
  one(
      "split", {"narrow", "mul"},
      [] {
        return std::vector{leaf({5, 2})};
      },
      x0([](const Tensor& t) {
        auto parts = split(t, std::vector<int64_t>{2, 3}, 0);
        return parts[0].sum() * parts[1];
      }));
  one(
      "chunk", {"narrow", "cat"},
      [] {
        return std::vector{leaf({2, 6})};
      },
      x0([](const Tensor& t) {
        auto parts = chunk(t, 3, 1);
        return cat({parts[2], parts[0]}, 1);
      }));
  // glu, a composition: its halves' narrow views, the gate's sigmoid, the
  // product. Over the last dim, a middle one, and a strided input.
  one(
      "glu_last_dim", {"narrow", "sigmoid", "mul"},
      [] {
        return std::vector{(leaf({3, 4}) * 2).detach().requires_grad_()};
      },
      x0([](const Tensor& t) { return glu(t); }));
  one(
      "glu_middle_dim", {"narrow", "sigmoid", "mul"},
      [] {
        return std::vector{leaf({2, 6, 3})};
      },
      x0([](const Tensor& t) { return glu(t, 1); }));
  one(
      "glu_strided", {"narrow", "sigmoid", "mul"},
      [] {
        return std::vector{strided_leaf({4, 2, 3})};
      },
      x0([](const Tensor& t) { return glu(t, 0); }));
  one(
      "tril", {"tril"},
      [] {
        return std::vector{leaf({2, 3, 4})};
      },
      x0([](const Tensor& t) { return tril(t.pow(2), 1); }));
  one(
      "triu", {"triu"},
      [] {
        return std::vector{leaf({4, 3})};
      },
      x0([](const Tensor& t) { return triu(t, -1); }));

  // ---- convolutions: the window ops, and conv1d / conv2d built on them
  one(
      "im2col_2d_stride_padding_dilation", {"im2col"},
      [] {
        return std::vector{leaf({2, 2, 5, 4})};
      },
      x0([](const Tensor& t) {
        return im2col(
            t, {.kernel_size = {2, 3}, .stride = {2, 1}, .padding = {1}, .dilation = {1, 2}});
      }));
  one(
      "col2im_1d_overlapping", {"col2im"},
      [] {
        // [N 2, C 2 x K 3, P 4]: windows of 3 with stride 2 over 9 inputs.
        return std::vector{leaf({2, 6, 4})};
      },
      x0([](const Tensor& t) {
        return col2im(t, {9}, {.kernel_size = {3}, .stride = {2}}).pow(2);
      }));
  one(
      "conv1d_groups_same_padding", {"conv"},
      [] {
        return std::vector{leaf({2, 4, 7}), leaf({6, 2, 4}), leaf({6})};
      },
      [](const auto& x) { return conv1d(x[0], x[1], x[2], {.padding_same = true, .groups = 2}); });
  one(
      "conv2d_stride_dilation_unbatched", {"im2col", "matmul"},
      [] {
        return std::vector{leaf({3, 6, 5}), leaf({2, 3, 2, 2})};
      },
      [](const auto& x) {
        return conv2d(x[0], x[1], {}, {.stride = {2, 1}, .padding = {1, 0}, .dilation = {1, 2}});
      });
  // Stride 1: the conv kernel's grids, with dilation, groups and a bias, and
  // with more padding than the kernel reaches (the input gradient's grid
  // then crops the output gradient).
  one(
      "conv2d_dilation_groups_bias", {"conv"},
      [] {
        return std::vector{leaf({2, 4, 5, 6}), leaf({6, 2, 2, 3}), leaf({6})};
      },
      [](const auto& x) {
        return conv2d(x[0], x[1], x[2], {.padding = {1, 2}, .dilation = {2, 1}, .groups = 2});
      });
  one(
      "conv2d_padding_beyond_kernel", {"conv"},
      [] {
        return std::vector{strided_leaf({2, 3, 4, 2}), leaf({2, 3, 1, 2})};
      },
      [](const auto& x) {
        return conv2d(x[0], x[1], {}, {.padding = {2, 3}});
      });
  one(
      "max_pool2d_padding_dilation", {"im2col", "max_dim"},
      [] {
        return std::vector{leaf({2, 2, 6, 5})};
      },
      x0([](const Tensor& t) {
        return max_pool2d(
            t, {.kernel_size = {3, 2}, .stride = {2, 1}, .padding = {1}, .dilation = {1, 2}});
      }));
  one(
      "avg_pool1d_without_padding_count", {"im2col", "sum", "div"},
      [] {
        return std::vector{leaf({2, 3, 7})};
      },
      x0([](const Tensor& t) {
        return avg_pool1d(
            t, {.kernel_size = {3}, .stride = {2}, .padding = {1}, .count_include_pad = false});
      }));
  one(
      "adaptive_avg_pool2d", {"narrow", "mean", "cat"},
      [] {
        return std::vector{leaf({1, 2, 5, 7})};
      },
      x0([](const Tensor& t) {
        return adaptive_avg_pool2d(t, {2, 3});
      }));
  // The recurrent layers' time loops (autograd/rnn_ops.h), H = 2, B = 3,
  // T = 4: every step, and with lengths {4, 1, 3} (mask [T, B]) in reverse.
  auto mask = [] {
    return lt(arange(4).unsqueeze(1), from_vector<int64_t>({4, 1, 3}).unsqueeze(0));
  };
  one(
      "lstm_layer", {"lstm_layer"},
      [] {
        return std::vector{strided_leaf({4, 3, 8}), leaf({8, 2}), leaf({8}), leaf({3, 2}),
                           leaf({3, 2})};
      },
      [](const auto& x) { return lstm_layer(x[0], x[1], x[2], x[3], x[4], {}, false); });
  one(
      "lstm_layer_masked_reverse", {"lstm_layer"},
      [] {
        return std::vector{leaf({4, 3, 8}), leaf({8, 2}), leaf({8}), leaf({3, 2}), leaf({3, 2})};
      },
      [mask](const auto& x) { return lstm_layer(x[0], x[1], x[2], x[3], x[4], mask(), true); });
  one(
      "gru_layer", {"gru_layer"},
      [] {
        return std::vector{strided_leaf({4, 3, 6}), leaf({6, 2}), leaf({6}), leaf({3, 2})};
      },
      [](const auto& x) { return gru_layer(x[0], x[1], x[2], x[3], {}, false); });
  one(
      "gru_layer_masked_reverse", {"gru_layer"},
      [] {
        return std::vector{leaf({4, 3, 6}), leaf({6, 2}), leaf({6}), leaf({3, 2})};
      },
      [mask](const auto& x) { return gru_layer(x[0], x[1], x[2], x[3], mask(), true); });
  return c;
}

const std::vector<GradCase>& cases() {
  static const std::vector<GradCase> all = all_cases();
  return all;
}

class GradcheckOp : public ::testing::TestWithParam<size_t> {};

TEST_P(GradcheckOp, MatchesFiniteDifferences) {
  const GradCase& c = cases()[GetParam()];
  const autograd::GradcheckResult result = gradcheck(c.fn, c.inputs(), c.eps);
  EXPECT_TRUE(result.ok) << c.name << ": " << result.report;
  for (const std::string& op : c.ops) {
    EXPECT_TRUE(std::find(result.ops.begin(), result.ops.end(), op) != result.ops.end())
        << c.name << " claims to check '" << op << "' but it was not on the graph";
  }
}

INSTANTIATE_TEST_SUITE_P(AllOps, GradcheckOp, ::testing::Range<size_t>(0, cases().size()),
                         [](const auto& info) { return cases()[info.param].name; });

TEST(GradcheckCoverage, EveryOpInTheTableHasACheck) {
  std::set<std::string> covered;
  for (const GradCase& c : cases()) covered.insert(c.ops.begin(), c.ops.end());
  for (std::string_view op : autograd::kOpNames) {
    // A copy between devices needs a second device: checked by the CUDA
    // suite once that backend exists; on a CPU-only build to_device(cpu) is
    // the identity and records nothing.
    if (op == "to_device") continue;
    EXPECT_TRUE(covered.count(std::string(op))) << "op '" << op << "' has no gradcheck case";
  }
}

}  // namespace
}  // namespace toadstool
