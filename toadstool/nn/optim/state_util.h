#pragma once
// Reading and writing the scalars and lists that schedules keep in their
// TensorDict state, with Errors that name the op and the entry.
#include <cstdint>
#include <string>
#include <vector>

#include "toadstool/tensor/error.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/saved_values.h"
#include "toadstool/tensor/shape_utils.h"
#include "toadstool/tensor/tensor_dict.h"

namespace toadstool::optim::detail {

inline Tensor int_scalar(int64_t value) { return scalar_tensor(value, kInt64); }
inline Tensor list_tensor(const std::vector<double>& values) { return from_vector(values); }

inline const Tensor& entry(const TensorDict& dict, const std::string& op, const std::string& key) {
  const Tensor* t = dict.find(key);
  TS_CHECK(t != nullptr, op, ": no '", key, "' entry");
  return *t;
}

// A 0-d integer tensor whose value lies in [lo, hi] (a count by default:
// tensor/saved_values.h).
inline int64_t read_int(const TensorDict& dict, const std::string& op, const std::string& key,
                        int64_t lo, int64_t hi = kMaxSavedCount) {
  const Tensor& t = entry(dict, op, key);
  TS_CHECK(t.dim() == 0 && !t.is_floating_point() && t.dtype() != kBool, op, ": '", key,
           "' should be a 0-d integer tensor, got ", toadstool::detail::describe(t));
  return saved_integer(t, op + ": '" + key + "'", lo, hi);
}

// A 0-d float tensor.
inline double read_double(const TensorDict& dict, const std::string& op, const std::string& key) {
  const Tensor& t = entry(dict, op, key);
  TS_CHECK(t.dim() == 0 && t.is_floating_point(), op, ": '", key,
           "' should be a 0-d float tensor, got ", toadstool::detail::describe(t));
  return t.to(kFloat64).item<double>();
}

// A 1-D float tensor of `size` values (one per parameter group).
inline std::vector<double> read_list(const TensorDict& dict, const std::string& op,
                                     const std::string& key, size_t size) {
  const Tensor& t = entry(dict, op, key);
  TS_CHECK(t.dim() == 1 && t.is_floating_point(), op, ": '", key,
           "' should be a 1-D float tensor, got ", toadstool::detail::describe(t));
  TS_CHECK(t.numel() == static_cast<int64_t>(size), op, ": '", key, "' has ", t.numel(),
           " values, the optimizer has ", size, " parameter groups");
  const Tensor d = t.to(kFloat64).contiguous();
  return {d.data_ptr<double>(), d.data_ptr<double>() + size};
}

// Every key of `dict` is one of `expected`.
inline void check_keys(const TensorDict& dict, const std::string& op,
                       const std::vector<std::string>& expected) {
  for (const auto& [key, tensor] : dict) {
    bool known = false;
    for (const auto& name : expected) known = known || name == key;
    TS_CHECK(known, op, ": unexpected entry '", key, "'");
  }
}

}  // namespace toadstool::optim::detail
