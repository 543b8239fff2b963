#include "toadstool/autograd/gradcheck.h"

#include <cmath>
#include <set>
#include <sstream>

#include "toadstool/autograd/grad_mode.h"
#include "toadstool/autograd/node.h"
#include "toadstool/autograd/ops.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool::autograd {

namespace {

// The op names of every node on the graph that produced `out`.
std::vector<std::string> ops_on_graph(const Tensor& out) {
  std::set<std::string> names;
  std::set<const Node*> seen;
  std::vector<const Node*> stack;
  if (out.grad_fn()) stack.push_back(out.grad_fn().get());
  while (!stack.empty()) {
    const Node* node = stack.back();
    stack.pop_back();
    if (!seen.insert(node).second) continue;
    if (!node->is_accumulator) names.emplace(node->name());
    for (const Edge& edge : node->inputs) {
      if (edge.node) stack.push_back(edge.node.get());
    }
  }
  return {names.begin(), names.end()};
}

// Element `linear` (row-major over t's shape) of a float64 tensor, in place.
double& element(const Tensor& t, int64_t linear) {
  int64_t offset = 0;
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    offset += (linear % t.shape()[d]) * t.strides()[d];
    linear /= t.shape()[d];
  }
  return t.data_ptr<double>()[offset];
}

Shape unravel(int64_t linear, const Shape& shape) {
  Shape index(shape.size());
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    index[d] = linear % shape[d];
    linear /= shape[d];
  }
  return index;
}

void check_input(const Tensor& t, size_t i) {
  TS_CHECK(t.is_leaf(), "gradcheck: input ", i, " is the result of '", t.grad_fn()->name(),
           "', not a leaf; pass x.detach().requires_grad_()");
  TS_CHECK(t.dtype() == DType::Float64, "gradcheck: input ", i, " requires grad but is ",
           detail::describe(t), "; check gradients in float64");
  for (int64_t d = 0; d < t.dim(); ++d) {
    TS_CHECK(t.strides()[d] != 0 || t.shape()[d] <= 1, "gradcheck: input ", i, " (",
             detail::describe(t), ") has overlapping elements (stride 0); pass a contiguous copy");
  }
}

}  // namespace

GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs, double eps,
                          double atol, double rtol) {
  std::vector<size_t> checked;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() || !inputs[i].requires_grad()) continue;
    check_input(inputs[i], i);
    checked.push_back(i);
  }
  TS_CHECK(!checked.empty(), "gradcheck: no input requires grad");

  // Analytic: one backward of the projection, with the inputs' grads set
  // aside and restored afterwards.
  std::vector<Tensor> saved_grads;
  saved_grads.reserve(inputs.size());
  for (const Tensor& t : inputs) saved_grads.push_back(t.defined() ? t.grad() : Tensor());
  for (size_t i : checked) inputs[i].set_grad(Tensor());
  GradcheckResult result;
  std::vector<Tensor> analytic;
  Tensor projection;
  {
    EnableGradGuard grad_on;
    const Tensor out = fn(inputs);
    TS_CHECK(out.defined() && out.dtype() == DType::Float64, "gradcheck: fn must return a float64 ",
             "tensor, got ", out.defined() ? detail::describe(out) : std::string("undefined"));
    TS_CHECK(out.requires_grad(), "gradcheck: fn's output does not depend on an input that ",
             "requires grad");
    Generator generator(20261124);
    projection = randn(out.shape(), DType::Float64, &generator);
    result.ops = ops_on_graph(out);
    out.backward(projection);
    for (size_t i : checked) {
      const Tensor& g = inputs[i].grad();
      analytic.push_back(g.defined() ? g : zeros(inputs[i].shape(), DType::Float64));
    }
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].defined()) inputs[i].set_grad(saved_grads[i]);
  }

  // Numerical: central differences of s(x) = sum(fn(x) * r), one element at a time.
  NoGradGuard no_grad;
  auto s = [&] { return sum(mul(fn(inputs), projection)).item<double>(); };
  for (size_t c = 0; c < checked.size(); ++c) {
    const Tensor& x = inputs[checked[c]];
    const Tensor grad = contiguous(analytic[c]);
    for (int64_t k = 0; k < x.numel(); ++k) {
      double& value = element(x, k);
      const double original = value;
      value = original + eps;
      const double above = s();
      value = original - eps;
      const double below = s();
      value = original;
      const double numerical = (above - below) / (2 * eps);
      const double computed = grad.data_ptr<double>()[k];
      const double ratio = std::abs(computed - numerical) / (atol + rtol * std::abs(numerical));
      if (!(ratio <= result.worst_ratio)) {  // also catches NaN
        result.worst_ratio = std::isnan(ratio) ? INFINITY : ratio;
        std::ostringstream report;
        report << "input " << checked[c] << " (shape " << detail::concat(x.shape()) << ") element "
               << detail::concat(unravel(k, x.shape())) << ": analytic " << computed
               << ", numerical " << numerical << ", |difference| " << std::abs(computed - numerical)
               << " vs tolerance " << atol + rtol * std::abs(numerical) << "; ops: ";
        for (const std::string& op : result.ops) report << op << ' ';
        result.report = report.str();
      }
    }
  }
  result.ok = result.worst_ratio <= 1;
  if (result.ok) result.report.clear();
  return result;
}

}  // namespace toadstool::autograd
