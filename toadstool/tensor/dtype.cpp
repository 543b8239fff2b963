#include "toadstool/tensor/dtype.h"

#include "toadstool/tensor/scalar.h"

namespace toadstool {

DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (is_reduced_float(a) && is_reduced_float(b)) return DType::Float32;
  // The enum is declared in lattice order.
  return static_cast<uint8_t>(a) > static_cast<uint8_t>(b) ? a : b;
}

namespace {
int category(DType dt) { return dt == DType::Bool ? 0 : (is_floating(dt) ? 2 : 1); }
int category(const Scalar& s) {
  switch (s.kind()) {
    case Scalar::Kind::Bool: return 0;
    case Scalar::Kind::Int: return 1;
    case Scalar::Kind::Float: break;
  }
  return 2;
}
}  // namespace

DType promote_with_scalar(DType t, const Scalar& s) {
  return category(s) > category(t) ? s.default_dtype() : t;
}

}  // namespace toadstool
