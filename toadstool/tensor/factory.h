#pragma once
// Creating tensors: constant fills, ranges, copies of host data and random
// draws from a Generator.
#include <vector>

#include "toadstool/tensor/generator.h"
#include "toadstool/tensor/tensor.h"

namespace toadstool {

Tensor empty(const Shape& shape, TensorOptions options = {});
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, const Scalar& value, TensorOptions options = {});
// A 0-d tensor holding `value` (its dtype from the scalar: bool, int64, float32).
Tensor scalar_tensor(const Scalar& value);
Tensor scalar_tensor(const Scalar& value, TensorOptions options);
// [start, end) in steps; the dtype is int64 unless options say otherwise.
Tensor arange(const Scalar& end, TensorOptions options = kInt64);
Tensor arange(const Scalar& start, const Scalar& end, const Scalar& step = 1,
              TensorOptions options = kInt64);
Tensor eye(int64_t n, int64_t m = -1, TensorOptions options = {});

// Same shape as `like`; dtype and device from `like` unless options are given.
Tensor empty_like(const Tensor& like);
Tensor zeros_like(const Tensor& like);
Tensor ones_like(const Tensor& like);
Tensor full_like(const Tensor& like, const Scalar& value);
Tensor empty_like(const Tensor& like, TensorOptions options);
Tensor zeros_like(const Tensor& like, TensorOptions options);
Tensor ones_like(const Tensor& like, TensorOptions options);
Tensor full_like(const Tensor& like, const Scalar& value, TensorOptions options);

// Copies host values into a new 1-D CPU tensor, or one of `shape`.
template <class T>
Tensor from_vector(const std::vector<T>& values);
template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape);
// Copies numel(shape) elements of `dtype` from a raw host buffer.
Tensor from_blob(const void* data, const Shape& shape, DType dtype);

// Random tensors, drawn from `generator` (default: the global one). The same
// seed gives the same numbers whatever the thread count.
Tensor rand(const Shape& shape, TensorOptions options = {}, Generator* generator = nullptr);
Tensor randn(const Shape& shape, TensorOptions options = {}, Generator* generator = nullptr);
// Integers in [low, high), int64 by default.
Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions options = kInt64,
               Generator* generator = nullptr);
// 1 with probability p (elementwise from a tensor of probabilities, or a
// single p); the result has the dtype of `probabilities` / options.
Tensor bernoulli(const Tensor& probabilities, Generator* generator = nullptr);
Tensor bernoulli(const Shape& shape, double p, TensorOptions options = {},
                 Generator* generator = nullptr);
// A random permutation of 0..n-1, int64 [n], as torch.randperm (the numbers
// differ from PyTorch's: kernels/cpu/random.h has the draw).
Tensor randperm(int64_t n, Generator* generator = nullptr);
Tensor rand_like(const Tensor& like, Generator* generator = nullptr);
Tensor randn_like(const Tensor& like, Generator* generator = nullptr);

}  // namespace toadstool
