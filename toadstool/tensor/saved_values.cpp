#include "toadstool/tensor/saved_values.h"

#include "toadstool/tensor/error.h"
#include "toadstool/tensor/native_ops.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool {

int64_t saved_integer_in(int64_t n, std::string_view what, int64_t lo, int64_t hi) {
  TS_CHECK(n >= lo && n <= hi, what, " should be a whole number in [", lo, ", ", hi, "], got ", n);
  return n;
}

int64_t saved_integer(const Tensor& t, std::string_view what, int64_t lo, int64_t hi) {
  TS_CHECK(t.defined() && t.numel() == 1 && t.dtype() != DType::Bool, what,
           " should be a one-element number tensor, got ", detail::describe(t));
  if (!t.is_floating_point()) {
    return saved_integer_in(native::to_dtype(t, DType::Int64).item<int64_t>(), what, lo, hi);
  }
  const double v = native::to_dtype(t, DType::Float64).item<double>();
  const std::optional<int64_t> n = whole_number_in(v, lo, hi);
  TS_CHECK(n.has_value(), what, " should be a whole number in [", lo, ", ", hi, "], got ", v);
  return *n;
}

}  // namespace toadstool
