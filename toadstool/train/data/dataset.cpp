// collate, the default Dataset::get_batch, and TensorDataset. Everything here
// runs the non-recording native ops under NoGradGuard: building a batch is
// never part of a model's graph, and DataLoader workers run it off the main
// thread.
#include "toadstool/train/data/dataset.h"

#include <utility>

#include "toadstool/autograd/grad_mode.h"
#include "toadstool/tensor/error.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/native_ops.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool::train {

namespace {

using toadstool::detail::describe;

bool same_kind(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && a.device() == b.device();
}

}  // namespace

Batch collate(const std::vector<Example>& examples) {
  TS_CHECK(!examples.empty(), "collate: no examples to stack");
  const Example& first = examples.front();
  const bool has_y = first.y.defined();
  for (size_t i = 0; i < examples.size(); ++i) {
    const Example& e = examples[i];
    TS_CHECK(e.x.defined(), "collate: example ", i, " has no x (an undefined tensor)");
    TS_CHECK(same_kind(e.x, first.x), "collate: example ", i, " has x ", describe(e.x), " on ",
             e.x.device(), ", example 0 has x ", describe(first.x), " on ", first.x.device(),
             "; every x must have the same shape, dtype and device");
    TS_CHECK(e.y.defined() == has_y, "collate: example ", i,
             has_y ? " has no y, example 0 has one" : " has a y, example 0 has none",
             "; either every example has a y or none does");
    if (has_y) {
      TS_CHECK(same_kind(e.y, first.y), "collate: example ", i, " has y ", describe(e.y), " on ",
               e.y.device(), ", example 0 has y ", describe(first.y), " on ", first.y.device(),
               "; every y must have the same shape, dtype and device");
    }
  }
  NoGradGuard no_grad;
  std::vector<Tensor> xs, ys;
  xs.reserve(examples.size());
  if (has_y) ys.reserve(examples.size());
  for (const Example& e : examples) {
    xs.push_back(e.x);
    if (has_y) ys.push_back(e.y);
  }
  // x [B, ...], y [B, ...] (y [B] for 0-d targets).
  return {native::stack(xs, 0), has_y ? native::stack(ys, 0) : Tensor()};
}

Batch Dataset::get_batch(const std::vector<int64_t>& indices) const {
  std::vector<Example> examples;
  examples.reserve(indices.size());
  for (int64_t index : indices) examples.push_back(get(index));
  return collate(examples);
}

// ---- TensorDataset ----------------------------------------------------------

TensorDataset::TensorDataset(Tensor x, Tensor y) : x_(std::move(x)), y_(std::move(y)) {
  TS_CHECK(x_.defined(), "TensorDataset: x is undefined");
  TS_CHECK(x_.dim() >= 1, "TensorDataset: x must have a first (example) dimension, got ",
           describe(x_));
  if (y_.defined()) {
    TS_CHECK(y_.dim() >= 1, "TensorDataset: y must have a first (example) dimension, got ",
             describe(y_));
    TS_CHECK(y_.size(0) == x_.size(0), "TensorDataset: x ", describe(x_), " and y ", describe(y_),
             " differ in their first dimension (the number of examples)");
  }
}

int64_t TensorDataset::size() const { return x_.size(0); }

namespace {

void check_index(int64_t index, int64_t size) {
  TS_CHECK(index >= 0 && index < size, "TensorDataset: index ", index,
           " is out of range for a dataset of size ", size);
}

}  // namespace

Example TensorDataset::get(int64_t index) const {
  check_index(index, size());
  // Views of row `index`: x [...], y [...] (0-d for y [N]).
  return {native::select(x_, 0, index), y_.defined() ? native::select(y_, 0, index) : Tensor()};
}

Batch TensorDataset::get_batch(const std::vector<int64_t>& indices) const {
  for (int64_t index : indices) check_index(index, size());
  NoGradGuard no_grad;
  // One gather per tensor: x [B, ...], y [B, ...].
  const Tensor index = from_vector(indices);
  return {native::index_select(x_, 0, index),
          y_.defined() ? native::index_select(y_, 0, index) : Tensor()};
}

}  // namespace toadstool::train
