// Fused NN kernels: softmax, log_softmax, layer_norm, dropout_add_layer_norm.
#include "toadstool/tensor/elementwise.h"
#include "toadstool/tensor/kernel_args.h"
#include "toadstool/tensor/native_ops.h"

namespace toadstool::native {

namespace {

// [outer, size, inner] around dim d of `shape`.
struct Around {
  int64_t outer = 1, size = 1, inner = 1;
};
Around around_dim(const Shape& shape, int64_t d) {
  Around a;
  for (int64_t k = 0; k < static_cast<int64_t>(shape.size()); ++k) {
    if (k < d) {
      a.outer *= shape[k];
    } else if (k == d) {
      a.size = shape[k];
    } else {
      a.inner *= shape[k];
    }
  }
  return a;
}

Tensor softmax_impl(const Tensor& t, int64_t dim, bool log, const char* op) {
  detail::check_defined(t, op);
  const int64_t d = detail::wrap_dim(dim, t.dim(), op);
  const DType result = is_floating(t.dtype()) ? t.dtype() : DType::Float32;
  // A contiguous copy in the compute dtype when needed.
  const Tensor in = contiguous(to_dtype(t, detail::compute_dtype(result)));
  const Around a = around_dim(t.shape(), d);
  Tensor out = detail::make_tensor(t.shape(), in.dtype(), t.device());
  TS_KERNEL(t.device(), softmax_forward, in.dtype(), in.data_ptr(), out.data_ptr(), a.outer, a.size,
            a.inner, log);
  return detail::finish_result(out, result);
}

// The argument checks of layer_norm and its backward.
void check_layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                      const Tensor& bias, const char* op) {
  detail::common_device(op, {&x, &weight, &bias});
  TS_CHECK(is_floating(x.dtype()), op, ": expected a floating input, got ", detail::describe(x));
  const int64_t nd = static_cast<int64_t>(normalized_shape.size());
  TS_CHECK(
      nd >= 1 && nd <= x.dim() && Shape(x.shape().end() - nd, x.shape().end()) == normalized_shape,
      op, ": normalized_shape ", normalized_shape, " does not match the trailing dims of ",
      detail::describe(x));
  for (const Tensor* p : {&weight, &bias}) {
    if (!p->defined()) continue;
    TS_CHECK(p->shape() == normalized_shape && p->dtype() == x.dtype(), op,
             ": weight and bias must be ", normalized_shape, " ", dtype_name(x.dtype()), ", got ",
             detail::describe(*p));
  }
}

}  // namespace

Tensor softmax(const Tensor& t, int64_t dim) { return softmax_impl(t, dim, false, "softmax"); }
Tensor log_softmax(const Tensor& t, int64_t dim) {
  return softmax_impl(t, dim, true, "log_softmax");
}

Tensor softmax_backward(const Tensor& grad_y, const Tensor& y, int64_t dim, bool log) {
  const char* op = log ? "log_softmax_backward" : "softmax_backward";
  detail::check_defined(grad_y, op);
  detail::common_device(op, {&y, &grad_y});
  TS_CHECK(is_floating(y.dtype()) && grad_y.shape() == y.shape(), op,
           ": expected a floating output and a gradient of its shape, got ", detail::describe(y),
           " and ", detail::describe(grad_y));
  const int64_t d = detail::wrap_dim(dim, y.dim(), op);
  const DType compute = detail::compute_dtype(y.dtype());
  const Tensor gy = contiguous_as(grad_y, compute);
  const Tensor out = contiguous_as(y, compute);
  const Around a = around_dim(y.shape(), d);
  Tensor grad_x = detail::make_tensor(y.shape(), compute, y.device());
  TS_KERNEL(y.device(), softmax_backward, compute, gy.data_ptr(), out.data_ptr(), grad_x.data_ptr(),
            a.outer, a.size, a.inner, log);
  return detail::finish_result(grad_x, y.dtype());
}

LayerNormForward layer_norm_forward(const Tensor& x, const Shape& normalized_shape,
                                    const Tensor& weight, const Tensor& bias, double eps) {
  const char* op = "layer_norm";
  check_layer_norm(x, normalized_shape, weight, bias, op);
  TS_CHECK(eps >= 0, op, ": eps must be non-negative, got ", eps);
  const DType compute = detail::compute_dtype(x.dtype());
  const Tensor in = contiguous_as(x, compute);
  const Tensor w = contiguous_as(weight, compute);
  const Tensor b = contiguous_as(bias, compute);
  const int64_t cols = detail::shape_numel(normalized_shape);
  const int64_t rows = cols == 0 ? 0 : x.numel() / cols;
  LayerNormForward result{detail::make_tensor(x.shape(), compute, x.device()),
                          detail::make_tensor({rows}, compute, x.device()),
                          detail::make_tensor({rows}, compute, x.device())};
  TS_KERNEL(x.device(), layer_norm_forward, compute, in.data_ptr(), ptr_or_null(w), ptr_or_null(b),
            result.out.data_ptr(), result.mean.data_ptr(), result.rstd.data_ptr(), rows, cols, eps);
  result.out = detail::finish_result(result.out, x.dtype());
  return result;
}

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps) {
  return layer_norm_forward(x, normalized_shape, weight, bias, eps).out;
}

DropoutAddLayerNormForward dropout_add_layer_norm_forward(
    const Tensor& block, const Tensor& residual, const kernels::DropoutMask& mask,
    const Shape& normalized_shape, const Tensor& weight, const Tensor& bias, double eps) {
  const char* op = "dropout_add_layer_norm";
  detail::check_defined(block, op);
  detail::check_defined(residual, op);
  const Device device = detail::common_device(op, {&block, &residual});
  const bool widened = device.is_cpu() && residual.dtype() == kFloat32 &&
                       (block.dtype() == kBFloat16 || block.dtype() == kFloat16);
  TS_CHECK(residual.shape() == block.shape() && (residual.dtype() == block.dtype() || widened), op,
           ": the residual must have the block's shape and dtype (or float32 for a 16-bit block "
           "on the CPU), got ",
           detail::describe(residual), " for ", detail::describe(block));
  check_layer_norm(residual, normalized_shape, weight, bias, op);
  TS_CHECK(eps >= 0, op, ": eps must be non-negative, got ", eps);
  TS_CHECK(mask.p > 0 && mask.p < 1, op, ": the mask needs 0 < p < 1, got ", mask.p);
  const DType compute = detail::compute_dtype(residual.dtype());
  const Tensor in = widened ? contiguous(block) : contiguous_as(block, compute);
  const Tensor res = contiguous_as(residual, compute);
  const Tensor w = contiguous_as(weight, compute);
  const Tensor b = contiguous_as(bias, compute);
  const int64_t cols = detail::shape_numel(normalized_shape);
  const int64_t rows = cols == 0 ? 0 : block.numel() / cols;
  DropoutAddLayerNormForward result{detail::make_tensor(block.shape(), compute, device),
                                    detail::make_tensor(block.shape(), compute, device),
                                    detail::make_tensor({rows}, compute, device),
                                    detail::make_tensor({rows}, compute, device)};
  TS_KERNEL(device, dropout_add_layer_norm_forward, compute, in.dtype(), in.data_ptr(),
            res.data_ptr(), mask, result.x.data_ptr(), ptr_or_null(w), ptr_or_null(b),
            result.out.data_ptr(), result.mean.data_ptr(), result.rstd.data_ptr(), rows, cols, eps);
  result.out = detail::finish_result(result.out, residual.dtype());
  return result;
}

LayerNormGrads layer_norm_backward(const Tensor& grad_y, const Tensor& x,
                                   const Shape& normalized_shape, const Tensor& mean,
                                   const Tensor& rstd, const Tensor& weight, const Tensor& bias,
                                   bool weight_and_bias, const kernels::DropoutMask* dropout,
                                   std::optional<DType> block_dtype) {
  const char* op = "layer_norm_backward";
  check_layer_norm(x, normalized_shape, weight, bias, op);
  detail::check_defined(grad_y, op);
  detail::check_defined(mean, op);
  detail::check_defined(rstd, op);
  detail::common_device(op, {&x, &grad_y, &mean, &rstd});
  TS_CHECK(grad_y.shape() == x.shape(), op, ": gradient ", detail::describe(grad_y),
           " does not match the input ", detail::describe(x));
  const DType compute = detail::compute_dtype(x.dtype());
  const int64_t cols = detail::shape_numel(normalized_shape);
  const int64_t rows = cols == 0 ? 0 : x.numel() / cols;
  TS_CHECK(mean.numel() == rows && rstd.numel() == rows && mean.dtype() == compute &&
               rstd.dtype() == compute,
           op, ": mean and rstd must be the ", rows, " row statistics of the forward, got ",
           detail::describe(mean), " and ", detail::describe(rstd));
  const Tensor gy = contiguous_as(grad_y, compute);
  const Tensor in = contiguous_as(x, compute);
  const Tensor w = contiguous_as(weight, compute);
  LayerNormGrads grads;
  grads.x = detail::make_tensor(x.shape(), compute, x.device());
  if (weight_and_bias && weight.defined())
    grads.weight = detail::make_tensor(normalized_shape, compute, x.device());
  if (weight_and_bias && bias.defined())
    grads.bias = detail::make_tensor(normalized_shape, compute, x.device());
  if (dropout != nullptr) {
    // A 16-bit block of float32 sums gets its gradient rounded by the kernel.
    const DType written = block_dtype.value_or(compute);
    grads.block = detail::make_tensor(x.shape(), written, x.device());
    TS_KERNEL(x.device(), dropout_add_layer_norm_backward, compute, written, gy.data_ptr(),
              in.data_ptr(), contiguous(mean).data_ptr(), contiguous(rstd).data_ptr(),
              ptr_or_null(w), *dropout, grads.x.data_ptr(), grads.block.data_ptr(),
              mutable_ptr_or_null(grads.weight), mutable_ptr_or_null(grads.bias), rows, cols);
    grads.block = detail::finish_result(grads.block, block_dtype.value_or(x.dtype()));
  } else {
    TS_KERNEL(x.device(), layer_norm_backward, compute, gy.data_ptr(), in.data_ptr(),
              contiguous(mean).data_ptr(), contiguous(rstd).data_ptr(), ptr_or_null(w),
              grads.x.data_ptr(), mutable_ptr_or_null(grads.weight),
              mutable_ptr_or_null(grads.bias), rows, cols);
  }
  grads.x = detail::finish_result(grads.x, x.dtype());
  if (grads.weight.defined()) grads.weight = detail::finish_result(grads.weight, x.dtype());
  if (grads.bias.defined()) grads.bias = detail::finish_result(grads.bias, x.dtype());
  return grads;
}

}  // namespace toadstool::native
