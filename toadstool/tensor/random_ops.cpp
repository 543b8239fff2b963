// Random factories: each reserves its counter blocks from the generator,
// then fills element i from block offset + i / k (kernels/philox.h).
#include "toadstool/kernels/philox.h"
#include "toadstool/tensor/dispatch.h"
#include "toadstool/tensor/elementwise.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/native_ops.h"

namespace toadstool {

namespace {

using kernels::RandomKind;

Generator& pick(Generator* generator) { return generator ? *generator : default_generator(); }

// 16-bit floats are drawn in float32 and rounded; float64 has its own kind.
DType draw_dtype(DType requested, const char* op) {
  TS_CHECK(is_floating(requested), op, ": expected a floating dtype, got ", dtype_name(requested));
  return requested == DType::Float64 ? DType::Float64 : DType::Float32;
}

// Uniform in [0, 1) or standard normal.
Tensor draw_float(const Shape& shape, TensorOptions options, Generator* generator, const char* op,
                  bool normal) {
  const DType dt = draw_dtype(options.dtype_, op);
  Tensor out = detail::make_tensor(shape, dt, options.device_, op);
  const RandomKind kind = dt == DType::Float64
                              ? (normal ? RandomKind::NormalDouble : RandomKind::UniformDouble)
                              : (normal ? RandomKind::NormalFloat : RandomKind::UniformFloat);
  const uint64_t offset = pick(generator).reserve(kernels::philox_blocks_used(out.numel(), kind));
  const uint64_t seed = pick(generator).seed();
  if (normal) {
    TS_KERNEL(out.device(), fill_normal, dt, out.data_ptr(), out.numel(), seed, offset, 0, 1);
  } else {
    TS_KERNEL(out.device(), fill_uniform, dt, out.data_ptr(), out.numel(), seed, offset, 0, 1);
  }
  return detail::finish_result(out, options.dtype_);
}

}  // namespace

Tensor rand(const Shape& shape, TensorOptions options, Generator* generator) {
  return draw_float(shape, options, generator, "rand", false);
}

Tensor randn(const Shape& shape, TensorOptions options, Generator* generator) {
  return draw_float(shape, options, generator, "randn", true);
}

Tensor rand_like(const Tensor& like, Generator* generator) {
  return rand(like.shape(), TensorOptions(like.dtype()).device(like.device()), generator);
}
Tensor randn_like(const Tensor& like, Generator* generator) {
  return randn(like.shape(), TensorOptions(like.dtype()).device(like.device()), generator);
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions options,
               Generator* generator) {
  TS_CHECK(low < high, "randint: expected low < high, got low=", low, " high=", high);
  Tensor out = detail::make_tensor(shape, DType::Int64, options.device_, "randint");
  const uint64_t offset =
      pick(generator).reserve(kernels::philox_blocks_used(out.numel(), RandomKind::Int64));
  TS_KERNEL(out.device(), fill_randint, out.data_ptr<int64_t>(), out.numel(),
            pick(generator).seed(), offset, low, high);
  return native::to_dtype(out, options.dtype_);
}

Tensor randperm(int64_t n, Generator* generator) {
  TS_CHECK(n >= 0, "randperm: n must be non-negative, got ", n);
  Tensor out = detail::make_tensor({n}, DType::Int64, kCPU, "randperm");
  const uint64_t offset =
      pick(generator).reserve(kernels::philox_blocks_used(n, RandomKind::Int64));
  TS_KERNEL(out.device(), fill_randperm, out.data_ptr<int64_t>(), n, pick(generator).seed(),
            offset);
  return out;
}

Tensor bernoulli(const Shape& shape, double p, TensorOptions options, Generator* generator) {
  TS_CHECK(p >= 0 && p <= 1, "bernoulli: p must be in [0, 1], got ", p);
  Tensor out = detail::make_tensor(shape, options.dtype_, options.device_, "bernoulli");
  const uint64_t offset =
      pick(generator).reserve(kernels::philox_blocks_used(out.numel(), RandomKind::Bernoulli));
  TS_KERNEL(out.device(), fill_bernoulli, out.dtype(), out.data_ptr(), out.numel(),
            pick(generator).seed(), offset, p);
  return out;
}

Tensor bernoulli(const Tensor& probabilities, Generator* generator) {
  detail::check_defined(probabilities, "bernoulli");
  TS_CHECK(is_floating(probabilities.dtype()), "bernoulli: probabilities must be floating, got ",
           detail::describe(probabilities));
  const Tensor probs = native::contiguous(probabilities);
  TS_CHECK(
      native::all(native::logical_and(native::ge(probs, 0.0), native::le(probs, 1.0))).item<bool>(),
      "bernoulli: probabilities must be in [0, 1]");
  Tensor out = detail::make_tensor(probs.shape(), probs.dtype(), probs.device());
  const uint64_t offset =
      pick(generator).reserve(kernels::philox_blocks_used(out.numel(), RandomKind::Bernoulli));
  TS_KERNEL(out.device(), fill_bernoulli_tensor, out.dtype(), out.data_ptr(), probs.data_ptr(),
            out.numel(), pick(generator).seed(), offset);
  return out;
}

namespace native {

Tensor dropout_masked(const Tensor& in, const Tensor& residual, const kernels::DropoutMask& mask) {
  detail::check_defined(in, "dropout");
  TS_CHECK(is_floating(in.dtype()), "dropout: expected a floating tensor, got ",
           detail::describe(in));
  TS_CHECK(mask.p > 0 && mask.p < 1, "dropout: the mask needs 0 < p < 1, got ", mask.p);
  const Tensor x = contiguous(in);
  Tensor r;
  if (residual.defined()) {
    detail::common_device("dropout", {&in, &residual});
    TS_CHECK(residual.shape() == in.shape() && residual.dtype() == in.dtype(),
             "dropout: the residual must have the input's shape and dtype, got ",
             detail::describe(residual), " for ", detail::describe(in));
    r = contiguous(residual);
  }
  Tensor out = detail::make_tensor(x.shape(), x.dtype(), x.device());
  TS_KERNEL(out.device(), dropout, out.dtype(), out.data_ptr(), x.data_ptr(),
            r.defined() ? r.data_ptr() : nullptr, out.numel(), mask);
  return out;
}

}  // namespace native

}  // namespace toadstool
