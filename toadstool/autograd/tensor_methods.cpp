// Method and operator forms of the ops: each forwards to the free function.
#include "toadstool/autograd/ops.h"
#include "toadstool/tensor/factory.h"

namespace toadstool {

Tensor Tensor::to(DType dt) const { return to_dtype(*this, dt); }
Tensor Tensor::to(Device d, bool non_blocking) const { return to_device(*this, d, non_blocking); }
Tensor Tensor::pin_memory() const { return toadstool::pin_memory(*this); }
Tensor Tensor::contiguous() const { return toadstool::contiguous(*this); }
Tensor Tensor::clone() const { return toadstool::clone(*this); }

Tensor Tensor::view(const Shape& s) const { return toadstool::view(*this, s); }
Tensor Tensor::reshape(const Shape& s) const { return toadstool::reshape(*this, s); }
Tensor Tensor::permute(const Shape& dims) const { return toadstool::permute(*this, dims); }
Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  return toadstool::transpose(*this, d0, d1);
}
Tensor Tensor::t() const {
  TS_CHECK(dim() <= 2, "t: expected a tensor with at most 2 dims, got shape ", shape());
  return dim() < 2 ? *this : toadstool::transpose(*this, 0, 1);
}
Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  return toadstool::narrow(*this, d, start, length);
}
Tensor Tensor::slice(int64_t d, std::optional<int64_t> start, std::optional<int64_t> end,
                     int64_t step) const {
  return toadstool::slice(*this, d, start, end, step);
}
Tensor Tensor::select(int64_t d, int64_t index) const { return toadstool::select(*this, d, index); }
Tensor Tensor::squeeze() const { return toadstool::squeeze(*this); }
Tensor Tensor::squeeze(int64_t d) const { return toadstool::squeeze(*this, d); }
Tensor Tensor::unsqueeze(int64_t d) const { return toadstool::unsqueeze(*this, d); }
Tensor Tensor::expand(const Shape& s) const { return toadstool::expand(*this, s); }
Tensor Tensor::expand_as(const Tensor& other) const {
  return toadstool::expand(*this, other.shape());
}
Tensor Tensor::flatten(int64_t start, int64_t end) const {
  return toadstool::flatten(*this, start, end);
}
Tensor Tensor::index_select(int64_t d, const Tensor& index) const {
  return toadstool::index_select(*this, d, index);
}

Tensor Tensor::add(const Tensor& o, const Scalar& alpha) const {
  return toadstool::add(*this, o, alpha);
}
Tensor Tensor::sub(const Tensor& o, const Scalar& alpha) const {
  return toadstool::sub(*this, o, alpha);
}
Tensor Tensor::mul(const Tensor& o) const { return toadstool::mul(*this, o); }
Tensor Tensor::div(const Tensor& o) const { return toadstool::div(*this, o); }
Tensor Tensor::pow(const Tensor& e) const { return toadstool::pow(*this, e); }
Tensor Tensor::pow(const Scalar& e) const { return toadstool::pow(*this, e); }
Tensor Tensor::neg() const { return toadstool::neg(*this); }
Tensor Tensor::abs() const { return toadstool::abs(*this); }
Tensor Tensor::exp() const { return toadstool::exp(*this); }
Tensor Tensor::log() const { return toadstool::log(*this); }
Tensor Tensor::log1p() const { return toadstool::log1p(*this); }
Tensor Tensor::sqrt() const { return toadstool::sqrt(*this); }
Tensor Tensor::rsqrt() const { return toadstool::rsqrt(*this); }
Tensor Tensor::tanh() const { return toadstool::tanh(*this); }
Tensor Tensor::sigmoid() const { return toadstool::sigmoid(*this); }
Tensor Tensor::relu() const { return toadstool::relu(*this); }
Tensor Tensor::sin() const { return toadstool::sin(*this); }
Tensor Tensor::cos() const { return toadstool::cos(*this); }
Tensor Tensor::clamp(std::optional<Scalar> lo, std::optional<Scalar> hi) const {
  return toadstool::clamp(*this, lo, hi);
}
Tensor Tensor::masked_fill(const Tensor& mask, const Scalar& value) const {
  return toadstool::masked_fill(*this, mask, value);
}

Tensor& Tensor::add_(const Tensor& o, const Scalar& alpha) {
  return toadstool::add_(*this, o, alpha);
}
Tensor& Tensor::add_(const Scalar& o) { return toadstool::add_(*this, o); }
Tensor& Tensor::sub_(const Tensor& o, const Scalar& alpha) {
  return toadstool::sub_(*this, o, alpha);
}
Tensor& Tensor::sub_(const Scalar& o) { return toadstool::sub_(*this, o); }
Tensor& Tensor::mul_(const Tensor& o) { return toadstool::mul_(*this, o); }
Tensor& Tensor::mul_(const Scalar& o) { return toadstool::mul_(*this, o); }
Tensor& Tensor::div_(const Tensor& o) { return toadstool::div_(*this, o); }
Tensor& Tensor::div_(const Scalar& o) { return toadstool::div_(*this, o); }
Tensor& Tensor::clamp_(std::optional<Scalar> lo, std::optional<Scalar> hi) {
  return toadstool::clamp_(*this, lo, hi);
}
Tensor& Tensor::masked_fill_(const Tensor& mask, const Scalar& value) {
  return toadstool::masked_fill_(*this, mask, value);
}
Tensor& Tensor::fill_(const Scalar& value) { return toadstool::fill_(*this, value); }
Tensor& Tensor::zero_() { return toadstool::zero_(*this); }
Tensor& Tensor::copy_(const Tensor& src) { return toadstool::copy_(*this, src); }

Tensor Tensor::sum(const Shape& dims, bool keepdim) const {
  return toadstool::sum(*this, dims, keepdim);
}
Tensor Tensor::mean(const Shape& dims, bool keepdim) const {
  return toadstool::mean(*this, dims, keepdim);
}
Tensor Tensor::prod(const Shape& dims, bool keepdim) const {
  return toadstool::prod(*this, dims, keepdim);
}
Tensor Tensor::amax(const Shape& dims, bool keepdim) const {
  return toadstool::amax(*this, dims, keepdim);
}
Tensor Tensor::amin(const Shape& dims, bool keepdim) const {
  return toadstool::amin(*this, dims, keepdim);
}
Tensor Tensor::var(const Shape& dims, int64_t correction, bool keepdim) const {
  return toadstool::var(*this, dims, correction, keepdim);
}
Tensor Tensor::std(const Shape& dims, int64_t correction, bool keepdim) const {
  return toadstool::std(*this, dims, correction, keepdim);
}
Tensor Tensor::logsumexp(const Shape& dims, bool keepdim) const {
  return toadstool::logsumexp(*this, dims, keepdim);
}
Tensor Tensor::argmax(std::optional<int64_t> d, bool keepdim) const {
  return toadstool::argmax(*this, d, keepdim);
}
Tensor Tensor::argmin(std::optional<int64_t> d, bool keepdim) const {
  return toadstool::argmin(*this, d, keepdim);
}

Tensor Tensor::matmul(const Tensor& other) const { return toadstool::matmul(*this, other); }
Tensor Tensor::softmax(int64_t d) const { return toadstool::softmax(*this, d); }
Tensor Tensor::log_softmax(int64_t d) const { return toadstool::log_softmax(*this, d); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator+(const Tensor& a, const Scalar& b) { return add(a, b); }
Tensor operator+(const Scalar& a, const Tensor& b) { return add(b, a); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator-(const Tensor& a, const Scalar& b) { return sub(a, b); }
Tensor operator-(const Scalar& a, const Tensor& b) { return rsub(b, a); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator*(const Tensor& a, const Scalar& b) { return mul(a, b); }
Tensor operator*(const Scalar& a, const Tensor& b) { return mul(b, a); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator/(const Tensor& a, const Scalar& b) { return div(a, b); }
Tensor operator/(const Scalar& a, const Tensor& b) { return rdiv(b, a); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
Tensor operator==(const Tensor& a, const Scalar& b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, const Scalar& b) { return ne(a, b); }
Tensor operator<(const Tensor& a, const Scalar& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Scalar& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Scalar& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Scalar& b) { return ge(a, b); }
Tensor operator&&(const Tensor& a, const Tensor& b) { return logical_and(a, b); }
Tensor operator||(const Tensor& a, const Tensor& b) { return logical_or(a, b); }
Tensor operator!(const Tensor& a) { return logical_not(a); }

}  // namespace toadstool
