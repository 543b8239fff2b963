// Toadstool against PyTorch: replays every case of the golden files (made by
// tests/golden/make_golden.py), once with the stored inputs and once with
// non-contiguous copies of them, and compares values and dtypes.
#include <exception>
#include <functional>
#include <set>

#include "golden.h"
#include "test_util.h"

namespace toadstool {
namespace {

using testing::GoldenCase;
using Tensors = std::vector<Tensor>;

// One run of a case: its inputs and typed access to its stored arguments.
// Every label read is remembered, so that a stored input or argument that the
// runner ignores fails the test instead of silently testing something else.
class Case {
 public:
  Case(const GoldenCase& stored, Tensors inputs) : stored_(stored), inputs_(std::move(inputs)) {}

  Tensor& in(size_t i) {
    used_.insert("in" + std::to_string(i));
    return inputs_.at(i);
  }
  const Tensors& inputs() {
    for (size_t i = 0; i < inputs_.size(); ++i) used_.insert("in" + std::to_string(i));
    return inputs_;
  }
  bool has(const std::string& label) const { return stored_.count(label) > 0; }
  int64_t integer(const std::string& label) { return get(label).item<int64_t>(); }
  double number(const std::string& label) { return get(label).item<double>(); }
  bool flag(const std::string& label) { return get(label).item<bool>(); }
  Shape list(const std::string& label) { return testing::int_values(get(label)); }
  // The argument's dtype says what PyTorch got: a Python bool, int or float.
  Scalar scalar(const std::string& label) {
    const Tensor& t = get(label);
    if (t.dtype() == kBool) return t.item<bool>();
    if (t.dtype() == kInt64) return t.item<int64_t>();
    return t.item<double>();
  }
  std::optional<int64_t> maybe_integer(const std::string& label) {
    return has(label) ? std::optional<int64_t>(integer(label)) : std::nullopt;
  }
  std::optional<Scalar> maybe_scalar(const std::string& label) {
    return has(label) ? std::optional<Scalar>(scalar(label)) : std::nullopt;
  }
  // dtype of the expected output: the target of conversions.
  DType output_dtype() const { return stored_.at("out0").dtype(); }

  std::vector<std::string> unused() const {
    std::vector<std::string> out;
    for (const auto& [label, t] : stored_) {
      if (label.rfind("out", 0) != 0 && !used_.count(label)) out.push_back(label);
    }
    return out;
  }

 private:
  const Tensor& get(const std::string& label) {
    used_.insert(label);
    return stored_.at(label);
  }

  const GoldenCase& stored_;
  Tensors inputs_;
  std::set<std::string> used_;
};

using OpRunner = std::function<Tensors(Case&)>;
using OpRunners = std::map<std::string, OpRunner>;

template <class Fn>
OpRunner unary(Fn fn) {
  return [fn](Case& c) { return Tensors{fn(c.in(0))}; };
}
template <class Fn>
OpRunner binary(Fn fn) {
  return [fn](Case& c) { return Tensors{fn(c.in(0), c.in(1))}; };
}
// fn(in0, argument "other"): the scalar forms.
template <class Fn>
OpRunner with_scalar(Fn fn) {
  return [fn](Case& c) { return Tensors{fn(c.in(0), c.scalar("other"))}; };
}
// Ops with both forms: tensor-tensor (in0, in1) or tensor-scalar.
template <class Fn>
OpRunner tensor_or_scalar(Fn fn) {
  return [fn](Case& c) {
    if (c.has("other")) return Tensors{fn(c.in(0), c.scalar("other"))};
    return Tensors{fn(c.in(0), c.in(1))};
  };
}
// The same, with the optional "alpha" of add / sub.
template <class Fn>
OpRunner tensor_or_scalar_alpha(Fn fn) {
  return [fn](Case& c) {
    if (c.has("other")) return Tensors{fn(c.in(0), c.scalar("other"))};
    return Tensors{fn(c.in(0), c.in(1), c.has("alpha") ? c.scalar("alpha") : Scalar(1))};
  };
}
// Reductions over the list "dims" (empty = all) with "keepdim".
template <class Fn>
OpRunner over_dims(Fn fn) {
  return [fn](Case& c) { return Tensors{fn(c.in(0), c.list("dims"), c.flag("keepdim"))}; };
}
template <class Fn>
OpRunner variance(Fn fn) {
  return [fn](Case& c) {
    return Tensors{fn(c.in(0), c.list("dims"), c.integer("correction"), c.flag("keepdim"))};
  };
}
// max / min: along "dim" (values and indices) or over the whole tensor.
template <class AlongDim, class Whole>
OpRunner extremum(AlongDim along_dim, Whole whole) {
  return [along_dim, whole](Case& c) {
    if (!c.has("dim")) return Tensors{whole(c.in(0))};
    auto [values, indices] = along_dim(c.in(0), c.integer("dim"), c.flag("keepdim"));
    return Tensors{values, indices};
  };
}
template <class Fn>
OpRunner arg_extremum(Fn fn) {
  return [fn](Case& c) {
    return Tensors{fn(c.in(0), c.maybe_integer("dim"), c.has("keepdim") && c.flag("keepdim"))};
  };
}
// Ops of one tensor and one int argument (dim, diagonal, ...).
template <class Fn>
OpRunner with_integer(const std::string& label, Fn fn) {
  return [label, fn](Case& c) { return Tensors{fn(c.in(0), c.integer(label))}; };
}

OpRunners elementwise_runners() {
  return {
      {"add", tensor_or_scalar_alpha([](auto&&... a) { return add(a...); })},
      {"sub", tensor_or_scalar_alpha([](auto&&... a) { return sub(a...); })},
      {"mul", tensor_or_scalar([](const Tensor& a, const auto& b) { return mul(a, b); })},
      {"div", tensor_or_scalar([](const Tensor& a, const auto& b) { return div(a, b); })},
      {"rsub", with_scalar([](const Tensor& a, const Scalar& b) { return rsub(a, b); })},
      {"rdiv", with_scalar([](const Tensor& a, const Scalar& b) { return rdiv(a, b); })},
      {"maximum", binary([](const Tensor& a, const Tensor& b) { return maximum(a, b); })},
      {"minimum", binary([](const Tensor& a, const Tensor& b) { return minimum(a, b); })},
      {"eq", tensor_or_scalar([](const Tensor& a, const auto& b) { return eq(a, b); })},
      {"ne", tensor_or_scalar([](const Tensor& a, const auto& b) { return ne(a, b); })},
      {"lt", tensor_or_scalar([](const Tensor& a, const auto& b) { return lt(a, b); })},
      {"le", tensor_or_scalar([](const Tensor& a, const auto& b) { return le(a, b); })},
      {"gt", tensor_or_scalar([](const Tensor& a, const auto& b) { return gt(a, b); })},
      {"ge", tensor_or_scalar([](const Tensor& a, const auto& b) { return ge(a, b); })},
      {"logical_and", binary([](const Tensor& a, const Tensor& b) { return logical_and(a, b); })},
      {"logical_or", binary([](const Tensor& a, const Tensor& b) { return logical_or(a, b); })},
      {"logical_xor", binary([](const Tensor& a, const Tensor& b) { return logical_xor(a, b); })},
      {"logical_not", unary([](const Tensor& t) { return logical_not(t); })},
      {"pow",
       [](Case& c) {
         if (c.has("exponent")) return Tensors{pow(c.in(0), c.scalar("exponent"))};
         if (c.has("base")) return Tensors{pow(c.scalar("base"), c.in(0))};
         return Tensors{pow(c.in(0), c.in(1))};
       }},
      {"where",
       [](Case& c) {
         if (c.has("other")) return Tensors{where(c.in(0), c.in(1), c.scalar("other"))};
         return Tensors{where(c.in(0), c.in(1), c.in(2))};
       }},
      {"masked_fill",
       [](Case& c) { return Tensors{masked_fill(c.in(0), c.in(1), c.scalar("value"))}; }},
      {"clamp",
       [](Case& c) {
         return Tensors{clamp(c.in(0), c.maybe_scalar("min"), c.maybe_scalar("max"))};
       }},
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
      {"gelu", unary([](const Tensor& t) { return gelu(t); })},
      {"gelu_tanh", unary([](const Tensor& t) { return gelu(t, "tanh"); })},
      {"gelu_backward", [](Case& c) { return Tensors{gelu_backward(c.in(0), c.in(1))}; }},
      {"softplus",
       [](Case& c) {
         return Tensors{
             softplus(c.in(0), c.scalar("beta").to_double(), c.scalar("threshold").to_double())};
       }},
      {"atan2", binary([](const Tensor& a, const Tensor& b) { return atan2(a, b); })},
      {"gelu_tanh_backward",
       [](Case& c) { return Tensors{gelu_backward(c.in(0), c.in(1), "tanh")}; }},
      // In place: the result is the first input itself, whatever its strides.
      {"add_", tensor_or_scalar_alpha([](Tensor& self, auto&&... a) { return add_(self, a...); })},
      {"sub_", tensor_or_scalar_alpha([](Tensor& self, auto&&... a) { return sub_(self, a...); })},
      {"mul_", tensor_or_scalar([](Tensor& self, const auto& b) { return mul_(self, b); })},
      {"div_", tensor_or_scalar([](Tensor& self, const auto& b) { return div_(self, b); })},
      {"clamp_",
       [](Case& c) {
         return Tensors{clamp_(c.in(0), c.maybe_scalar("min"), c.maybe_scalar("max"))};
       }},
      {"masked_fill_",
       [](Case& c) { return Tensors{masked_fill_(c.in(0), c.in(1), c.scalar("value"))}; }},
      {"fill_", [](Case& c) { return Tensors{fill_(c.in(0), c.scalar("value"))}; }},
      {"zero_", [](Case& c) { return Tensors{zero_(c.in(0))}; }},
      {"copy_", [](Case& c) { return Tensors{copy_(c.in(0), c.in(1))}; }},
  };
}

OpRunners reduction_runners() {
  return {
      {"sum", over_dims([](auto&&... a) { return sum(a...); })},
      {"mean", over_dims([](auto&&... a) { return mean(a...); })},
      {"prod", over_dims([](auto&&... a) { return prod(a...); })},
      {"amax", over_dims([](auto&&... a) { return amax(a...); })},
      {"amin", over_dims([](auto&&... a) { return amin(a...); })},
      {"logsumexp", over_dims([](auto&&... a) { return logsumexp(a...); })},
      {"var", variance([](auto&&... a) { return var(a...); })},
      {"std", variance([](auto&&... a) { return std(a...); })},
      {"max",
       extremum([](auto&&... a) { return max(a...); }, [](auto&&... a) { return max(a...); })},
      {"min",
       extremum([](auto&&... a) { return min(a...); }, [](auto&&... a) { return min(a...); })},
      {"argmax", arg_extremum([](auto&&... a) { return argmax(a...); })},
      {"argmin", arg_extremum([](auto&&... a) { return argmin(a...); })},
      {"all", unary([](const Tensor& t) { return all(t); })},
      {"any", unary([](const Tensor& t) { return any(t); })},
  };
}

OpRunners linalg_runners() {
  return {
      {"matmul", [](Case& c) { return Tensors{matmul(c.in(0), c.in(1))}; }},
      // Transposed operands are read in place: no copies, other strides.
      {"matmul_tt", [](Case& c) { return Tensors{matmul(c.in(0).t(), c.in(1).t())}; }},
  };
}

OpRunners nn_runners() {
  return {
      {"softmax", with_integer("dim", [](auto&&... a) { return softmax(a...); })},
      {"log_softmax", with_integer("dim", [](auto&&... a) { return log_softmax(a...); })},
      {"layer_norm",
       [](Case& c) {
         const Tensors& in = c.inputs();
         const Tensor weight = in.size() > 1 ? in[1] : Tensor();
         const Tensor bias = in.size() > 2 ? in[2] : Tensor();
         const double eps = c.has("eps") ? c.number("eps") : 1e-5;
         return Tensors{layer_norm(in[0], c.list("normalized_shape"), weight, bias, eps)};
       }},
      {"embedding", [](Case& c) { return Tensors{embedding(c.in(0), c.in(1))}; }},
  };
}

OpRunners views_indexing_runners() {
  return {
      {"view", [](Case& c) { return Tensors{view(c.in(0), c.list("shape"))}; }},
      {"reshape", [](Case& c) { return Tensors{reshape(c.in(0), c.list("shape"))}; }},
      {"permute", [](Case& c) { return Tensors{permute(c.in(0), c.list("dims"))}; }},
      {"transpose",
       [](Case& c) { return Tensors{transpose(c.in(0), c.integer("dim0"), c.integer("dim1"))}; }},
      {"narrow",
       [](Case& c) {
         return Tensors{narrow(c.in(0), c.integer("dim"), c.integer("start"), c.integer("length"))};
       }},
      {"slice",
       [](Case& c) {
         return Tensors{slice(c.in(0), c.integer("dim"), c.maybe_integer("start"),
                              c.maybe_integer("end"), c.integer("step"))};
       }},
      {"select",
       [](Case& c) { return Tensors{select(c.in(0), c.integer("dim"), c.integer("index"))}; }},
      {"squeeze",
       [](Case& c) {
         return Tensors{c.has("dim") ? squeeze(c.in(0), c.integer("dim")) : squeeze(c.in(0))};
       }},
      {"unsqueeze", with_integer("dim", [](auto&&... a) { return unsqueeze(a...); })},
      {"expand", [](Case& c) { return Tensors{expand(c.in(0), c.list("shape"))}; }},
      {"flatten",
       [](Case& c) {
         return Tensors{flatten(c.in(0), c.integer("start_dim"), c.integer("end_dim"))};
       }},
      {"contiguous", unary([](const Tensor& t) { return contiguous(t); })},
      {"clone", unary([](const Tensor& t) { return clone(t); })},
      {"to", [](Case& c) { return Tensors{to_dtype(c.in(0), c.output_dtype())}; }},
      {"index_select",
       [](Case& c) { return Tensors{index_select(c.in(0), c.integer("dim"), c.in(1))}; }},
      {"gather", [](Case& c) { return Tensors{gather(c.in(0), c.integer("dim"), c.in(1))}; }},
      {"scatter_add",
       [](Case& c) { return Tensors{scatter_add(c.in(0), c.integer("dim"), c.in(1), c.in(2))}; }},
      {"index_add",
       [](Case& c) {
         const Scalar alpha = c.has("alpha") ? c.scalar("alpha") : Scalar(1);
         return Tensors{index_add(c.in(0), c.integer("dim"), c.in(1), c.in(2), alpha)};
       }},
      {"one_hot", with_integer("num_classes", [](auto&&... a) { return one_hot(a...); })},
      {"cat", [](Case& c) { return Tensors{cat(c.inputs(), c.integer("dim"))}; }},
      {"stack", [](Case& c) { return Tensors{stack(c.inputs(), c.integer("dim"))}; }},
      {"split",
       [](Case& c) {
         if (c.has("sizes")) return split(c.in(0), c.list("sizes"), c.integer("dim"));
         return split(c.in(0), c.integer("split_size"), c.integer("dim"));
       }},
      {"chunk", [](Case& c) { return chunk(c.in(0), c.integer("chunks"), c.integer("dim")); }},
      {"tril", with_integer("diagonal", [](auto&&... a) { return tril(a...); })},
      {"triu", with_integer("diagonal", [](auto&&... a) { return triu(a...); })},
  };
}

// dtype exactly; floats within float32 / float64 rounding; the rest exactly.
void expect_matches(const Tensors& got, const Tensors& want) {
  ASSERT_EQ(got.size(), want.size()) << "number of outputs";
  for (size_t i = 0; i < got.size(); ++i) {
    SCOPED_TRACE("out" + std::to_string(i));
    EXPECT_EQ(got[i].dtype(), want[i].dtype());
    if (want[i].dtype() == kFloat32) {
      testing::expect_close(got[i], want[i], 1e-5, 1e-6);
    } else if (want[i].dtype() == kFloat64) {
      testing::expect_close(got[i], want[i], 1e-12, 1e-12);
    } else {
      testing::expect_close(got[i], want[i], 0, 0);
    }
  }
}

// Runs the case once; the inputs are made by `prepare` from the stored ones.
void run_op_case(const GoldenCase& stored, const OpRunner& runner,
                 const std::function<Tensor(const Tensor&)>& prepare) {
  Tensors inputs, outputs;
  for (size_t i = 0; stored.count("in" + std::to_string(i)); ++i) {
    inputs.push_back(prepare(stored.at("in" + std::to_string(i))));
  }
  for (size_t i = 0; stored.count("out" + std::to_string(i)); ++i) {
    outputs.push_back(stored.at("out" + std::to_string(i)));
  }
  Case c(stored, std::move(inputs));
  try {
    expect_matches(runner(c), outputs);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw: " << e.what();
  }
  for (const std::string& label : c.unused()) ADD_FAILURE() << "'" << label << "' not used";
}

// Every case needs a runner (named by the part of its name before '/'), and
// every runner a case: the files and this test cannot drift apart.
void run_file(const std::string& file, const OpRunners& runners) {
  std::set<std::string> ops_seen;
  for (const auto& [name, stored] : testing::load_golden(file)) {
    SCOPED_TRACE(file + ": case " + name);
    const std::string op = name.substr(0, name.find('/'));
    const auto runner = runners.find(op);
    if (runner == runners.end()) {
      ADD_FAILURE() << "no runner for op '" << op << "'";
      continue;
    }
    ops_seen.insert(op);
    // Copies, so that in-place ops do not write into the stored inputs.
    run_op_case(stored, runner->second, [](const Tensor& t) { return t.clone(); });
    SCOPED_TRACE("non-contiguous inputs");
    run_op_case(stored, runner->second, [](const Tensor& t) { return testing::non_contiguous(t); });
  }
  for (const auto& [op, runner] : runners) {
    EXPECT_TRUE(ops_seen.count(op)) << file << ": no case for op '" << op << "'";
  }
}

TEST(Golden, Elementwise) { run_file("elementwise.txt", elementwise_runners()); }
TEST(Golden, Reductions) { run_file("reductions.txt", reduction_runners()); }
TEST(Golden, Linalg) { run_file("linalg.txt", linalg_runners()); }
TEST(Golden, NN) { run_file("nn.txt", nn_runners()); }
TEST(Golden, ViewsIndexing) { run_file("views_indexing.txt", views_indexing_runners()); }

}  // namespace
}  // namespace toadstool
