#pragma once
// Datasets: what a DataLoader draws examples from. Toadstool's tenet is that
// each item is a pair (x, y): x goes to the model, y to the loss function.
// Unlabelled data (for Trainer::predict) leaves y undefined.
#include <cstdint>
#include <vector>

#include "toadstool/tensor/tensor.h"

namespace toadstool::train {

// One item of a dataset: x [feature dims...], y [target dims...] (often 0-d).
struct Example {
  Tensor x;
  Tensor y;  // undefined for unlabelled data
};

// A batch: x [B, feature dims...], y [B, target dims...] (or undefined).
struct Batch {
  Tensor x;
  Tensor y;
};

// Stacks examples along a new first dimension: every x must have the same
// shape and dtype, and so must every y; either all examples have a y or none
// does. Anything else is an Error naming the first example that differs.
Batch collate(const std::vector<Example>& examples);

// The map-style dataset of PyTorch: a size and random access. get() may be
// called from DataLoader worker threads at the same time, so it must not
// change shared state.
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // The example at `index`, 0 <= index < size().
  virtual Example get(int64_t index) const = 0;
  // The batch of the examples at `indices`, in that order. The default
  // collates get(i) for each index; a dataset that holds whole tensors
  // (TensorDataset) gathers rows in one op instead.
  virtual Batch get_batch(const std::vector<int64_t>& indices) const;
};

// Examples are rows of x [N, ...] and y [N, ...] (y optional): PyTorch's
// TensorDataset with two tensors.
class TensorDataset : public Dataset {
 public:
  // x and y must have the same first dimension; Error otherwise.
  explicit TensorDataset(Tensor x, Tensor y = {});
  int64_t size() const override;
  Example get(int64_t index) const override;
  Batch get_batch(const std::vector<int64_t>& indices) const override;
  const Tensor& x() const { return x_; }
  const Tensor& y() const { return y_; }

 private:
  Tensor x_, y_;
};

}  // namespace toadstool::train
