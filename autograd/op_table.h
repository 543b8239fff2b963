#pragma once
// The op table: every differentiable op that records a node on the tape.
// A node names its op from this table, so an op cannot take part in
// autograd without an entry here, and tests/unit/test_gradcheck_ops.cpp
// fails when an entry has no gradient check.
#include <array>
#include <cstddef>
#include <string_view>

namespace toadstool::autograd {

enum class Op {
  // views and copies
  view,
  reshape,
  flatten,
  squeeze,
  unsqueeze,
  permute,
  transpose,
  narrow,
  slice,
  select,
  expand,
  contiguous,
  clone,
  to_dtype,
  to_device,
  // element-wise, binary (Scalar forms have their own entries)
  add,
  add_scalar,
  sub,
  rsub,
  mul,
  mul_scalar,
  div,
  div_scalar,
  rdiv,
  pow,
  pow_scalar,
  rpow,
  maximum,
  minimum,
  where,
  masked_fill,
  clamp,
  // element-wise, unary
  neg,
  abs,
  exp,
  log,
  log1p,
  sqrt,
  rsqrt,
  tanh,
  sigmoid,
  relu,
  sin,
  cos,
  gelu,
  // reductions
  sum,
  mean,
  prod,
  amax,
  amin,
  var,
  std,
  logsumexp,
  max_dim,
  min_dim,
  max,
  min,
  // linear algebra and NN
  matmul,
  softmax,
  log_softmax,
  layer_norm,
  embedding,
  dropout,
  scaled_dot_product_attention,
  cross_entropy,
  binary_cross_entropy_with_logits,
  // indexing, joining
  index_select,
  gather,
  scatter_add,
  index_add,
  cat,
  stack,
  tril,
  triu,
};

inline constexpr std::array<std::string_view, 74> kOpNames = {
    "view",          "reshape",
    "flatten",       "squeeze",
    "unsqueeze",     "permute",
    "transpose",     "narrow",
    "slice",         "select",
    "expand",        "contiguous",
    "clone",         "to_dtype",
    "to_device",     "add",
    "add_scalar",    "sub",
    "rsub",          "mul",
    "mul_scalar",    "div",
    "div_scalar",    "rdiv",
    "pow",           "pow_scalar",
    "rpow",          "maximum",
    "minimum",       "where",
    "masked_fill",   "clamp",
    "neg",           "abs",
    "exp",           "log",
    "log1p",         "sqrt",
    "rsqrt",         "tanh",
    "sigmoid",       "relu",
    "sin",           "cos",
    "gelu",          "sum",
    "mean",          "prod",
    "amax",          "amin",
    "var",           "std",
    "logsumexp",     "max_dim",
    "min_dim",       "max",
    "min",           "matmul",
    "softmax",       "log_softmax",
    "layer_norm",    "embedding",
    "dropout",       "scaled_dot_product_attention",
    "cross_entropy", "binary_cross_entropy_with_logits",
    "index_select",  "gather",
    "scatter_add",   "index_add",
    "cat",           "stack",
    "tril",          "triu",
};
static_assert(kOpNames.size() == static_cast<size_t>(Op::triu) + 1,
              "kOpNames must list every Op, in order");

inline std::string_view op_name(Op op) { return kOpNames[static_cast<size_t>(op)]; }

}  // namespace toadstool::autograd
