// PyTorch-like printing: tensor([[1., 2.],
//                                [3., 4.]], dtype=float64)
#include <cmath>
#include <cstdio>
#include <ostream>
#include <sstream>

#include "toadstool/tensor/native_ops.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool {

namespace {

// Above this many elements, each dim shows its first and last kEdgeItems.
constexpr int64_t kSummarizeThreshold = 1000;
constexpr int64_t kEdgeItems = 3;

// One number format for the whole tensor, as PyTorch chooses it.
struct Formatter {
  enum class Style { Bool, Integer, IntegralFloat, Fixed, Scientific } style;
  int width = 1;

  std::string format(double v) const {
    if (style == Style::Bool) return v != 0 ? "True" : "False";
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    char buf[64];
    switch (style) {
      case Style::Integer: std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v)); break;
      case Style::IntegralFloat: std::snprintf(buf, sizeof buf, "%.0f.", v); break;
      case Style::Fixed: std::snprintf(buf, sizeof buf, "%.4f", v); break;
      case Style::Scientific: std::snprintf(buf, sizeof buf, "%.4e", v); break;
      case Style::Bool: break;
    }
    return buf;
  }
};

Formatter choose_format(DType dtype, const double* values, int64_t n) {
  Formatter f{Formatter::Style::Integer};
  if (dtype == DType::Bool) f.style = Formatter::Style::Bool;
  if (is_floating(dtype)) {
    bool integral = true;
    double max_abs = 0, min_abs = INFINITY;
    for (int64_t i = 0; i < n; ++i) {
      const double v = values[i];
      if (!std::isfinite(v)) continue;
      integral = integral && v == std::nearbyint(v);
      max_abs = std::max(max_abs, std::fabs(v));
      if (v != 0) min_abs = std::min(min_abs, std::fabs(v));
    }
    if (integral && max_abs < 1e8) {
      f.style = Formatter::Style::IntegralFloat;
    } else if (max_abs >= 1e8 || (min_abs < 1e-4 && min_abs != INFINITY) ||
               (max_abs / min_abs > 1000 && min_abs != INFINITY)) {
      f.style = Formatter::Style::Scientific;
    } else {
      f.style = Formatter::Style::Fixed;
    }
  }
  // As PyTorch: the width comes from the finite values; nan and inf are
  // right-aligned to it (or overflow it).
  for (int64_t i = 0; i < n; ++i) {
    if (std::isfinite(values[i])) f.width = std::max<int>(f.width, f.format(values[i]).size());
  }
  return f;
}

struct Printer {
  const Tensor& values;  // float64 copy of the tensor, contiguous
  const Formatter& fmt;
  bool summarize;
  std::ostringstream out;

  void print(int64_t dim, int64_t offset, int indent) {
    const Tensor& t = values;
    if (t.dim() == 0) {
      out << fmt.format(*t.data_ptr<double>());
      return;
    }
    const int64_t size = t.shape()[dim];
    const int64_t stride = t.strides()[dim];
    out << '[';
    for (int64_t i = 0; i < size; ++i) {
      if (summarize && size > 2 * kEdgeItems && i == kEdgeItems) {
        out << "...";
        i = size - kEdgeItems - 1;
        separate(dim, indent);
        continue;
      }
      if (dim + 1 == t.dim()) {
        const std::string s = fmt.format(t.data_ptr<double>()[offset + i * stride]);
        out << std::string(std::max<int>(fmt.width - static_cast<int>(s.size()), 0), ' ') << s;
      } else {
        print(dim + 1, offset + i * stride, indent + 1);
      }
      if (i + 1 < size) separate(dim, indent);
    }
    out << ']';
  }

  void separate(int64_t dim, int indent) {
    if (dim + 1 == values.dim()) {
      out << ", ";
    } else {
      out << ',' << std::string(values.dim() - dim - 1, '\n') << std::string(indent + 1, ' ');
    }
  }
};

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  const Tensor values = native::contiguous(native::to_dtype(*this, DType::Float64));
  const Formatter fmt = choose_format(dtype(), values.data_ptr<double>(), values.numel());
  const bool summarize = numel() > kSummarizeThreshold;
  const std::string prefix = "tensor(";
  Printer printer{values, fmt, summarize, {}};
  if (numel() == 0 && dim() == 1) {
    printer.out << "[]";
  } else if (numel() == 0) {
    printer.out << "[], size=" << detail::concat(shape());
  } else {
    printer.print(0, 0, static_cast<int>(prefix.size()));
  }
  std::string s = prefix + printer.out.str();
  if (dtype() != DType::Float32 && dtype() != DType::Int64 && dtype() != DType::Bool) {
    s += std::string(", dtype=") + dtype_name(dtype());
  }
  return s + ")";
}

std::ostream& operator<<(std::ostream& out, const Tensor& t) { return out << t.str(); }

}  // namespace toadstool
