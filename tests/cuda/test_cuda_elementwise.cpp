// CUDA element-wise kernels against the CPU's: every functor of
// kernels/elementwise_list.h through its public op, for each dtype of its
// TypeSet, with bound-scalar forms, over contiguous, broadcast, transposed
// and sliced operands; dtype conversion between every pair of dtypes; tril
// and triu. The inputs are made on the CPU and copied to the GPU.
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "cuda_test_util.h"

namespace toadstool {
namespace {

using testing::expect_identical;
using testing::expect_matches_cpu;
using testing::expect_parity;
using testing::kAllDtypes;
using testing::kCompute;
using testing::kCuda;

const std::vector<DType> kNumeric = {kInt64, kFloat32, kFloat64};
const std::vector<DType> kFloats = {kFloat32, kFloat64};

// Values for binary ops: multiples of 0.5 in [-5, 5] (integers in [-5, 5]
// for int64, both values for bool), so that comparisons meet equal values
// and divisions meet zeros.
Tensor coarse(const Shape& shape, DType dtype, uint64_t seed) {
  Generator gen(seed);
  const Tensor halves = randint(-10, 11, shape, kInt64, &gen);
  if (dtype == kBool) return halves > 0;
  if (dtype == kInt64) return randint(-5, 6, shape, kInt64, &gen);
  return (halves.to(kFloat64) * 0.5).to(dtype);
}

// Values for the math functions: normal, scaled to reach their tails.
Tensor fine(const Shape& shape, DType dtype, uint64_t seed) {
  Generator gen(seed);
  return (randn(shape, kFloat64, &gen) * 3.0).to(dtype);
}

// The special floats, and the same values in another order.
Tensor specials(DType dtype) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  return from_vector<double>({nan, inf, -inf, 0.0, -0.0, 0.5, -2.5, 1e-30, 30, -30, 100, -100})
      .to(dtype);
}
Tensor specials_shuffled(DType dtype) {
  return specials(dtype).index_select(0,
                                      from_vector<int64_t>({5, 3, 9, 0, 11, 1, 4, 2, 10, 6, 8, 7}));
}

// Operand layouts of a binary op: how two contiguous inputs become the
// operands (the views are made on each device).
struct Layout {
  std::string name;
  Shape a_shape, b_shape;
  std::function<Tensor(const Tensor&)> view_a, view_b;
};
Tensor same(const Tensor& t) { return t; }
const std::vector<Layout>& binary_layouts() {
  static const std::vector<Layout> layouts = {
      {"contiguous", {37, 29}, {37, 29}, same, same},
      {"broadcast row", {37, 29}, {29}, same, same},
      {"broadcast column", {37, 1}, {37, 29}, same, same},
      {"transposed", {29, 37}, {37, 29}, [](const Tensor& t) { return t.t(); }, same},
      {"sliced",
       {37, 58},
       {37, 29},
       [](const Tensor& t) { return t.slice(1, 0, std::nullopt, 2); },
       same},
      {"expanded 3-d", {5, 1, 29}, {1, 37, 29}, same, same},
      {"0-d with 2-d", {}, {37, 29}, same, same},
      {"empty", {0, 29}, {29}, same, same},
  };
  return layouts;
}

using BinaryFn = std::function<Tensor(const Tensor&, const Tensor&)>;
struct BinaryCase {
  std::string name;
  std::vector<DType> dtypes;
  BinaryFn f;
};

// Every Binary / BinaryToBool / Where / MaskedFill row of the list, in
// tensor-tensor and bound-scalar forms (Bind::Second: t op s, Bind::First:
// s op t).
const std::vector<BinaryCase>& binary_cases() {
  static const std::vector<BinaryCase> cases = {
      {"add", kCompute, [](const Tensor& a, const Tensor& b) { return a + b; }},
      {"add alpha", kNumeric, [](const Tensor& a, const Tensor& b) { return add(a, b, 3); }},
      {"add scalar", kNumeric, [](const Tensor& a, const Tensor&) { return a + 2; }},
      {"scalar add", kNumeric, [](const Tensor& a, const Tensor&) { return 2 + a; }},
      {"sub", kNumeric, [](const Tensor& a, const Tensor& b) { return a - b; }},
      {"sub alpha", kNumeric, [](const Tensor& a, const Tensor& b) { return sub(a, b, 2); }},
      {"sub scalar", kNumeric, [](const Tensor& a, const Tensor&) { return a - 3; }},
      {"rsub", kNumeric, [](const Tensor& a, const Tensor&) { return 3 - a; }},
      {"mul", kCompute, [](const Tensor& a, const Tensor& b) { return a * b; }},
      {"mul scalar", kNumeric, [](const Tensor& a, const Tensor&) { return a * 3; }},
      {"scalar mul", kNumeric, [](const Tensor& a, const Tensor&) { return 1.5 * a; }},
      {"div", kNumeric, [](const Tensor& a, const Tensor& b) { return a / b; }},
      {"div scalar", kNumeric, [](const Tensor& a, const Tensor&) { return a / 4; }},
      {"rdiv", kNumeric, [](const Tensor& a, const Tensor&) { return 4 / a; }},
      {"pow", kFloats, [](const Tensor& a, const Tensor& b) { return pow(a, b); }},
      {"pow int", {kInt64}, [](const Tensor& a, const Tensor& b) { return pow(a, abs(b)); }},
      {"pow scalar", kNumeric, [](const Tensor& a, const Tensor&) { return pow(a, 3); }},
      {"scalar pow", kFloats, [](const Tensor& a, const Tensor&) { return pow(2.0, a); }},
      {"atan2", kFloats, [](const Tensor& a, const Tensor& b) { return atan2(a, b); }},
      {"maximum", kCompute, [](const Tensor& a, const Tensor& b) { return maximum(a, b); }},
      {"minimum", kCompute, [](const Tensor& a, const Tensor& b) { return minimum(a, b); }},
      {"eq", kCompute, [](const Tensor& a, const Tensor& b) { return a == b; }},
      {"ne", kCompute, [](const Tensor& a, const Tensor& b) { return a != b; }},
      {"lt", kCompute, [](const Tensor& a, const Tensor& b) { return a < b; }},
      {"le", kCompute, [](const Tensor& a, const Tensor& b) { return a <= b; }},
      {"gt", kCompute, [](const Tensor& a, const Tensor& b) { return a > b; }},
      {"ge", kCompute, [](const Tensor& a, const Tensor& b) { return a >= b; }},
      {"eq scalar", kNumeric, [](const Tensor& a, const Tensor&) { return a == 1; }},
      {"lt scalar", kNumeric, [](const Tensor& a, const Tensor&) { return a < 0.5; }},
      {"ge scalar", kNumeric, [](const Tensor& a, const Tensor&) { return a >= -1; }},
      {"logical_and", kCompute, [](const Tensor& a, const Tensor& b) { return a && b; }},
      {"logical_or", kCompute, [](const Tensor& a, const Tensor& b) { return a || b; }},
      {"logical_xor", kCompute, [](const Tensor& a, const Tensor& b) { return logical_xor(a, b); }},
      {"where", kCompute, [](const Tensor& a, const Tensor& b) { return where(a > b, a, b); }},
      {"where scalar", kNumeric,
       [](const Tensor& a, const Tensor& b) { return where(a < b, a, 7); }},
      {"masked_fill", kCompute,
       [](const Tensor& a, const Tensor& b) {
         // masked_fill does not broadcast its input: a is expanded first.
         const Tensor mask = a != b;
         return masked_fill(a.expand(mask.shape()), mask, 1);
       }},
  };
  return cases;
}

TEST(CudaElementwise, BinaryOpsMatchTheCpuInEveryLayout) {
  SKIP_WITHOUT_GPU();
  uint64_t seed = 1;
  for (const BinaryCase& c : binary_cases()) {
    for (DType dtype : c.dtypes) {
      for (const Layout& layout : binary_layouts()) {
        const Tensor a = coarse(layout.a_shape, dtype, seed++);
        const Tensor b = coarse(layout.b_shape, dtype, seed++);
        expect_parity(
            {a, b},
            [&](const std::vector<Tensor>& in) {
              return c.f(layout.view_a(in[0]), layout.view_b(in[1]));
            },
            c.name + " " + dtype_name(dtype) + " " + layout.name);
      }
    }
  }
}

TEST(CudaElementwise, BinaryFloatOpsMatchTheCpuOnSpecialValues) {
  SKIP_WITHOUT_GPU();
  for (const BinaryCase& c : binary_cases()) {
    for (DType dtype : c.dtypes) {
      if (!is_floating(dtype)) continue;
      expect_parity(
          {specials(dtype), specials_shuffled(dtype)},
          [&](const std::vector<Tensor>& in) { return c.f(in[0], in[1]); },
          c.name + " " + dtype_name(dtype) + " specials");
    }
  }
}

struct UnaryCase {
  std::string name;
  std::vector<DType> dtypes;
  std::function<Tensor(const Tensor&)> f;
};

// Every Unary / UnaryToBool row of the list.
const std::vector<UnaryCase>& unary_cases() {
  static const std::vector<UnaryCase> cases = {
      {"neg", kNumeric, [](const Tensor& t) { return -t; }},
      {"abs", kNumeric, [](const Tensor& t) { return abs(t); }},
      {"relu", kNumeric, [](const Tensor& t) { return relu(t); }},
      {"clamp", kNumeric, [](const Tensor& t) { return clamp(t, -1, 2); }},
      {"clamp max", kNumeric, [](const Tensor& t) { return clamp(t, std::nullopt, 1); }},
      {"clamp min", kNumeric, [](const Tensor& t) { return clamp(t, 0, std::nullopt); }},
      {"logical_not", kCompute, [](const Tensor& t) { return !t; }},
      {"exp", kFloats, [](const Tensor& t) { return exp(t); }},
      {"log", kFloats, [](const Tensor& t) { return log(t); }},
      {"log1p", kFloats, [](const Tensor& t) { return log1p(t); }},
      {"sqrt", kFloats, [](const Tensor& t) { return sqrt(t); }},
      {"rsqrt", kFloats, [](const Tensor& t) { return rsqrt(t); }},
      {"tanh", kFloats, [](const Tensor& t) { return tanh(t); }},
      {"sigmoid", kFloats, [](const Tensor& t) { return sigmoid(t); }},
      {"sin", kFloats, [](const Tensor& t) { return sin(t); }},
      {"cos", kFloats, [](const Tensor& t) { return cos(t); }},
      {"gelu", kFloats, [](const Tensor& t) { return gelu(t); }},
      {"gelu tanh", kFloats, [](const Tensor& t) { return gelu(t, "tanh"); }},
      {"softplus", kFloats, [](const Tensor& t) { return softplus(t, 2.0, 10.0); }},
      // Integers reach the float functors as float32 (a convert first).
      {"exp of int64", {kInt64}, [](const Tensor& t) { return exp(t); }},
      {"sigmoid of bool", {kBool}, [](const Tensor& t) { return sigmoid(t); }},
  };
  return cases;
}

// The operand layouts of a unary op.
struct UnaryLayout {
  std::string name;
  Shape shape;
  std::function<Tensor(const Tensor&)> view;
};
const std::vector<UnaryLayout>& unary_layouts() {
  static const std::vector<UnaryLayout> layouts = {
      {"contiguous", {37, 29}, same},
      {"transposed", {29, 37}, [](const Tensor& t) { return t.t(); }},
      {"sliced", {37, 58}, [](const Tensor& t) { return t.slice(1, 1, std::nullopt, 2); }},
      {"permuted 3-d",
       {3, 5, 7},
       [](const Tensor& t) {
         return t.permute({2, 0, 1});
       }},
      {"expanded",
       {37, 1},
       [](const Tensor& t) {
         return t.expand({37, 29});
       }},
      {"0-d", {}, same},
      {"empty", {0, 4}, same},
  };
  return layouts;
}

TEST(CudaElementwise, UnaryOpsMatchTheCpuInEveryLayout) {
  SKIP_WITHOUT_GPU();
  uint64_t seed = 100;
  for (const UnaryCase& c : unary_cases()) {
    for (DType dtype : c.dtypes) {
      for (const UnaryLayout& layout : unary_layouts()) {
        const Tensor x = is_floating(dtype) ? fine(layout.shape, dtype, seed++)
                                            : coarse(layout.shape, dtype, seed++);
        expect_parity(
            {x}, [&](const std::vector<Tensor>& in) { return c.f(layout.view(in[0])); },
            c.name + " " + dtype_name(dtype) + " " + layout.name);
      }
      if (is_floating(dtype)) {
        expect_parity(
            {specials(dtype)}, [&](const std::vector<Tensor>& in) { return c.f(in[0]); },
            c.name + " " + dtype_name(dtype) + " specials");
      }
    }
  }
}

// The derivative functors: relu's from its output, GELU's two forms.
TEST(CudaElementwise, BackwardFunctorsMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : kFloats) {
    const Tensor grad = fine({41, 23}, dtype, 7);
    const Tensor x = fine({23, 41}, dtype, 8);  // used transposed
    const std::string name = dtype_name(dtype);
    expect_parity(
        {grad, x},
        [](const std::vector<Tensor>& in) { return relu_backward(in[0], relu(in[1].t())); },
        "relu_backward " + name);
    expect_parity(
        {grad, x},
        [](const std::vector<Tensor>& in) { return gelu_backward(in[0], in[1].t(), "none"); },
        "gelu_backward " + name);
    expect_parity(
        {grad, x},
        [](const std::vector<Tensor>& in) { return gelu_backward(in[0], in[1].t(), "tanh"); },
        "gelu_backward tanh " + name);
    expect_parity(
        {specials(dtype), specials_shuffled(dtype)},
        [](const std::vector<Tensor>& in) { return gelu_backward(in[0], in[1]); },
        "gelu_backward specials " + name);
  }
}

// Fill, over every dtype: full, and fill_ / zero_ on a strided view.
TEST(CudaElementwise, FillsEveryDtype) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : kAllDtypes) {
    const Scalar value = dtype == kBool ? Scalar(true) : Scalar(2.5);
    const std::string name = dtype_name(dtype);
    expect_identical(full({5, 7}, value, TensorOptions(dtype).device(kCuda)),
                     full({5, 7}, value, dtype), "full " + name);
    expect_parity(
        {zeros({6, 8}, dtype)},
        [&](const std::vector<Tensor>& in) {
          Tensor t = in[0].clone();
          Tensor columns = t.slice(1, 0, std::nullopt, 3);
          columns.fill_(value);
          Tensor row = t.select(0, 2);
          row.zero_();
          return t;
        },
        "fill_ of a view " + name);
  }
}

// 16-bit floats compute in float32: a convert on each side of the functor.
TEST(CudaElementwise, HalfAndBFloat16OpsMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : {kFloat16, kBFloat16}) {
    const Tensor a = coarse({33, 17}, dtype, 3), b = coarse({17}, dtype, 4);
    const Tensor x = fine({17, 33}, dtype, 5);
    const std::string name = dtype_name(dtype);
    expect_parity(
        {a, b}, [](const std::vector<Tensor>& in) { return in[0] * in[1] + 1; }, "mul add " + name);
    expect_parity(
        {x}, [](const std::vector<Tensor>& in) { return exp(in[0].t()); }, "exp " + name);
    expect_parity(
        {a, b}, [](const std::vector<Tensor>& in) { return in[0] < in[1]; }, "lt " + name);
  }
}

// More elements than one grid covers (65535 blocks of 256 threads): the
// grid-stride loops of both kernels take a second turn.
TEST(CudaElementwise, LargeTensorsRunThroughTheGridStrideLoop) {
  SKIP_WITHOUT_GPU();
  const int64_t rows = 4099, cols = 4097;  // 16.8M > 65535 * 256
  const Tensor a = coarse({rows, cols}, kFloat32, 11);
  const Tensor b = coarse({cols, rows}, kFloat32, 12);
  expect_parity(
      {a, b}, [](const std::vector<Tensor>& in) { return in[0] + in[0]; }, "contiguous add");
  expect_parity(
      {a, b}, [](const std::vector<Tensor>& in) { return in[0] * in[1].t(); }, "strided mul");
}

// ---- convert ------------------------------------------------------------------------

TEST(CudaConvert, EveryPairOfDtypesMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // Fractions, negatives, ties, values past float16's range and past
  // int64's (saturating), NaN (0 as an integer).
  const Tensor values =
      from_vector<double>({0.0, -0.0, 1.0, -1.5, 2.5, 0.3, -7.75, 65504.0, 70000.0, 1e20, -1e20,
                           3e38, inf, -inf, nan, 123456789.0, -2.0, 1e-8},
                          {3, 6});
  for (DType from : kAllDtypes) {
    const Tensor source = values.to(from);
    for (DType to : kAllDtypes) {
      const std::string name = std::string(dtype_name(from)) + " to " + dtype_name(to);
      expect_identical(source.to(kCuda).to(to), source.to(to), name);
      // A transposed source: the strided plan.
      expect_parity(
          {source}, [&](const std::vector<Tensor>& in) { return in[0].t().to(to); },
          name + " transposed");
    }
  }
}

// ---- triangle ------------------------------------------------------------------------

TEST(CudaTriangle, TrilAndTriuMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  // Element sizes 1, 2, 4 and 8 bytes.
  for (DType dtype : {kBool, kFloat16, kFloat32, kInt64, kFloat64}) {
    const Tensor x = coarse({3, 5, 7}, dtype, 21);
    for (int64_t diagonal : {-6, -1, 0, 2, 9}) {
      const std::string name = std::string(dtype_name(dtype)) + " " + std::to_string(diagonal);
      expect_parity(
          {x}, [&](const std::vector<Tensor>& in) { return tril(in[0], diagonal); },
          "tril " + name);
      expect_parity(
          {x}, [&](const std::vector<Tensor>& in) { return triu(in[0], diagonal); },
          "triu " + name);
      expect_parity(
          {x}, [&](const std::vector<Tensor>& in) { return triu(in[0].transpose(1, 2), diagonal); },
          "triu transposed " + name);
    }
  }
}

}  // namespace
}  // namespace toadstool
