// Toadstool against PyTorch: every case of the golden files (made by
// tests/golden/make_golden.py) runs the same op on the same inputs, once as
// stored and once with non-contiguous copies of the inputs.
#include <functional>

#include "golden.h"
#include "test_util.h"

namespace toadstool {
namespace {

using testing::GoldenCase;
using Inputs = std::vector<Tensor>;
using Outputs = std::vector<Tensor>;
using OpRunner = std::function<Outputs(const GoldenCase&, const Inputs&)>;

template <class Fn>
OpRunner binary(Fn fn) {
  return [fn](const GoldenCase&, const Inputs& in) { return Outputs{fn(in[0], in[1])}; };
}
template <class Fn>
OpRunner unary(Fn fn) {
  return [fn](const GoldenCase&, const Inputs& in) { return Outputs{fn(in[0])}; };
}
Scalar value_of(const GoldenCase& c) {
  const std::string& v = c.text("value");
  if (v.find_first_of(".e") == std::string::npos) return c.integer("value");
  return c.number("value");
}
// A reduction over c's "dims" list with its "keepdim" flag.
template <class Fn>
OpRunner over_dims(Fn fn) {
  return [fn](const GoldenCase& c, const Inputs& in) {
    return Outputs{fn(in[0], c.list("dims"), c.integer("keepdim") != 0)};
  };
}
template <class Fn>
OpRunner along_dim(Fn fn) {
  return [fn](const GoldenCase& c, const Inputs& in) {
    return Outputs{fn(in[0], c.integer("dim"), c.integer("keepdim") != 0)};
  };
}

const std::map<std::string, OpRunner>& runners() {
  static const std::map<std::string, OpRunner> table{
      // element-wise
      {"add", [](const GoldenCase& c, const Inputs& in) {
         return Outputs{c.has("alpha") ? add(in[0], in[1], c.number("alpha")) : add(in[0], in[1])};
       }},
      {"sub", binary([](const Tensor& a, const Tensor& b) { return sub(a, b); })},
      {"mul", binary([](const Tensor& a, const Tensor& b) { return mul(a, b); })},
      {"div", binary([](const Tensor& a, const Tensor& b) { return div(a, b); })},
      {"pow", binary([](const Tensor& a, const Tensor& b) { return pow(a, b); })},
      {"maximum", binary([](const Tensor& a, const Tensor& b) { return maximum(a, b); })},
      {"minimum", binary([](const Tensor& a, const Tensor& b) { return minimum(a, b); })},
      {"eq", binary([](const Tensor& a, const Tensor& b) { return eq(a, b); })},
      {"lt", binary([](const Tensor& a, const Tensor& b) { return lt(a, b); })},
      {"ge", binary([](const Tensor& a, const Tensor& b) { return ge(a, b); })},
      {"logical_and", binary([](const Tensor& a, const Tensor& b) { return logical_and(a, b); })},
      {"logical_or", binary([](const Tensor& a, const Tensor& b) { return logical_or(a, b); })},
      {"logical_xor", binary([](const Tensor& a, const Tensor& b) { return logical_xor(a, b); })},
      {"where", [](const GoldenCase&, const Inputs& in) { return Outputs{where(in[0], in[1], in[2])}; }},
      {"masked_fill", [](const GoldenCase& c, const Inputs& in) {
         return Outputs{masked_fill(in[0], in[1], c.number("value"))};
       }},
      {"clamp", [](const GoldenCase& c, const Inputs& in) {
         auto bound = [&](const char* key) -> std::optional<Scalar> {
           if (!c.has(key)) return std::nullopt;
           return c.text(key).find('.') == std::string::npos ? Scalar(c.integer(key))
                                                              : Scalar(c.number(key));
         };
         return Outputs{clamp(in[0], bound("min"), bound("max"))};
       }},
      {"mul_scalar", [](const GoldenCase& c, const Inputs& in) { return Outputs{in[0] * value_of(c)}; }},
      {"add_scalar", [](const GoldenCase& c, const Inputs& in) { return Outputs{in[0] + value_of(c)}; }},
      {"rsub_scalar", [](const GoldenCase& c, const Inputs& in) { return Outputs{value_of(c) - in[0]}; }},
      {"div_scalar", [](const GoldenCase& c, const Inputs& in) { return Outputs{in[0] / value_of(c)}; }},
      {"pow_scalar", [](const GoldenCase& c, const Inputs& in) { return Outputs{pow(in[0], value_of(c))}; }},
      {"neg", unary([](const Tensor& t) { return neg(t); })},
      {"abs", unary([](const Tensor& t) { return abs(t); })},
      {"exp", unary([](const Tensor& t) { return exp(t); })},
      {"log", unary([](const Tensor& t) { return log(t); })},
      {"log1p", unary([](const Tensor& t) { return log1p(t); })},
      {"sqrt", unary([](const Tensor& t) { return sqrt(t); })},
      {"rsqrt", unary([](const Tensor& t) { return rsqrt(t); })},
      {"tanh", unary([](const Tensor& t) { return tanh(t); })},
      {"sigmoid", unary([](const Tensor& t) { return sigmoid(t); })},
      {"relu", unary([](const Tensor& t) { return relu(t); })},
      {"sin", unary([](const Tensor& t) { return sin(t); })},
      {"cos", unary([](const Tensor& t) { return cos(t); })},
      {"gelu", [](const GoldenCase& c, const Inputs& in) {
         return Outputs{gelu(in[0], c.text("approximate"))};
       }},
      {"gelu_backward", [](const GoldenCase& c, const Inputs& in) {
         return Outputs{gelu_backward(in[0], in[1], c.text("approximate"))};
       }},
      // reductions
      {"sum", over_dims([](const Tensor& t, const Shape& d, bool k) { return sum(t, d, k); })},
      {"mean", over_dims([](const Tensor& t, const Shape& d, bool k) { return mean(t, d, k); })},
      {"prod", over_dims([](const Tensor& t, const Shape& d, bool k) { return prod(t, d, k); })},
      {"amax", over_dims([](const Tensor& t, const Shape& d, bool k) { return amax(t, d, k); })},
      {"amin", over_dims([](const Tensor& t, const Shape& d, bool k) { return amin(t, d, k); })},
      {"logsumexp", over_dims([](const Tensor& t, const Shape& d, bool k) { return logsumexp(t, d, k); })},
      {"var", [](const GoldenCase& c, const Inputs& in) {
         return Outputs{var(in[0], c.list("dims"), c.integer("correction"), c.integer("keepdim") != 0)};
       }},
      {"std", [](const GoldenCase& c, const Inputs& in) {
         return Outputs{std(in[0], c.list("dims"), c.integer("correction"), c.integer("keepdim") != 0)};
       }},
      {"max_dim", [](const GoldenCase& c, const Inputs& in) {
         auto [v, i] = max(in[0], c.integer("dim"), c.integer("keepdim") != 0);
         return Outputs{v, i};
       }},
      {"min_dim", [](const GoldenCase& c, const Inputs& in) {
         auto [v, i] = min(in[0], c.integer("dim"), c.integer("keepdim") != 0);
         return Outputs{v, i};
       }},
      {"argmax", along_dim([](const Tensor& t, int64_t d, bool k) { return argmax(t, d, k); })},
      {"argmin", along_dim([](const Tensor& t, int64_t d, bool k) { return argmin(t, d, k); })},
      {"argmax_all", unary([](const Tensor& t) { return argmax(t); })},
      {"argmin_all", unary([](const Tensor& t) { return argmin(t); })},
      // linear algebra and NN
      {"matmul", binary([](const Tensor& a, const Tensor& b) { return matmul(a, b); })},
      {"matmul_tt", binary([](const Tensor& a, const Tensor& b) { return matmul(a.t(), b.t()); })},
      {"softmax", [](const GoldenCase& c, const Inputs& in) { return Outputs{softmax(in[0], c.integer("dim"))}; }},
      {"log_softmax", [](const GoldenCase& c, const Inputs& in) {
         return Outputs{log_softmax(in[0], c.integer("dim"))};
       }},
      {"layer_norm", [](const GoldenCase& c, const Inputs& in) {
         const double eps = c.has("eps") ? c.number("eps") : 1e-5;
         const Tensor w = in.size() > 1 ? in[1] : Tensor(), b = in.size() > 2 ? in[2] : Tensor();
         return Outputs{layer_norm(in[0], c.list("normalized_shape"), w, b, eps)};
       }},
      {"embedding", binary([](const Tensor& w, const Tensor& ids) { return embedding(w, ids); })},
      // indexing, joining, splitting
      {"index_select", [](const GoldenCase& c, const Inputs& in) {
         return Outputs{index_select(in[0], c.integer("dim"), in[1])};
       }},
      {"gather", [](const GoldenCase& c, const Inputs& in) { return Outputs{gather(in[0], c.integer("dim"), in[1])}; }},
      {"scatter_add", [](const GoldenCase& c, const Inputs& in) {
         return Outputs{scatter_add(in[0], c.integer("dim"), in[1], in[2])};
       }},
      {"index_add", [](const GoldenCase& c, const Inputs& in) {
         return Outputs{index_add(in[0], c.integer("dim"), in[1], in[2], c.number("alpha"))};
       }},
      {"one_hot", [](const GoldenCase& c, const Inputs& in) {
         return Outputs{one_hot(in[0], c.integer("num_classes"))};
       }},
      {"cat", [](const GoldenCase& c, const Inputs& in) { return Outputs{cat(in, c.integer("dim"))}; }},
      {"stack", [](const GoldenCase& c, const Inputs& in) { return Outputs{stack(in, c.integer("dim"))}; }},
      {"split", [](const GoldenCase& c, const Inputs& in) {
         return split(in[0], c.integer("split_size"), c.integer("dim"));
       }},
      {"chunk", [](const GoldenCase& c, const Inputs& in) {
         return chunk(in[0], c.integer("chunks"), c.integer("dim"));
       }},
      {"tril", [](const GoldenCase& c, const Inputs& in) { return Outputs{tril(in[0], c.integer("diagonal"))}; }},
      {"triu", [](const GoldenCase& c, const Inputs& in) { return Outputs{triu(in[0], c.integer("diagonal"))}; }},
  };
  return table;
}

void expect_matches(const Outputs& got, const Outputs& want, const std::string& where) {
  ASSERT_EQ(got.size(), want.size()) << where;
  for (size_t i = 0; i < got.size(); ++i) {
    SCOPED_TRACE(where + " output " + std::to_string(i));
    EXPECT_EQ(got[i].dtype(), want[i].dtype());
    const bool f64 = want[i].dtype() == kFloat64;
    if (is_floating(want[i].dtype())) {
      testing::expect_close(got[i], want[i], f64 ? 1e-10 : 2e-5, f64 ? 1e-12 : 2e-6);
    } else {
      testing::expect_close(got[i], want[i], 0, 0);
    }
  }
}

void run_file(const std::string& file) {
  const auto cases = testing::load_golden(file);
  for (const GoldenCase& c : cases) {
    auto runner = runners().find(c.op);
    ASSERT_NE(runner, runners().end()) << file << ": no runner for op '" << c.op << "'";
    expect_matches(runner->second(c, c.inputs), c.outputs, c.name);
    // Same values through non-contiguous inputs.
    Inputs strided;
    for (const Tensor& t : c.inputs) strided.push_back(testing::non_contiguous(t));
    expect_matches(runner->second(c, strided), c.outputs, c.name + " (non-contiguous inputs)");
  }
}

TEST(Golden, Elementwise) { run_file("elementwise.txt"); }
TEST(Golden, Reductions) { run_file("reductions.txt"); }
TEST(Golden, Linalg) { run_file("linalg.txt"); }
TEST(Golden, NN) { run_file("nn.txt"); }
TEST(Golden, Indexing) { run_file("indexing.txt"); }

}  // namespace
}  // namespace toadstool
