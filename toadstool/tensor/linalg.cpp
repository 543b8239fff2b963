// matmul: shape rules, then one (batched) GEMM call. Operands that are
// transposed views are passed as transposed GEMM operands, not copied.
#include <optional>

#include "toadstool/tensor/dispatch.h"
#include "toadstool/tensor/elementwise.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/native_ops.h"

namespace toadstool::native {

namespace {

// A matrix operand as GEMM sees it: row-major [rows, cols] with leading dim
// ld, or transposed (stored as [cols, rows]).
struct MatrixOperand {
  bool transposed = false;
  int64_t ld = 0;
};

// How the last two dims (rows, cols) with strides (row_stride, col_stride)
// map onto GEMM, or nothing when neither stride is 1 (the caller copies).
std::optional<MatrixOperand> as_gemm_operand(int64_t rows, int64_t cols, int64_t row_stride,
                                             int64_t col_stride) {
  // A size-1 dim's stride is meaningless: treat it as whatever fits.
  if (cols == 1 || col_stride == 1) {
    const int64_t ld = rows == 1 ? cols : row_stride;
    if (ld >= std::max<int64_t>(cols, 1)) return MatrixOperand{false, ld};
  }
  if (rows == 1 || row_stride == 1) {
    const int64_t ld = cols == 1 ? rows : col_stride;
    if (ld >= std::max<int64_t>(rows, 1)) return MatrixOperand{true, ld};
  }
  return std::nullopt;
}

// A stack of matrices [batch, rows, cols] with one batch stride.
struct BatchedOperand {
  Tensor tensor;  // 3-D view
  MatrixOperand matrix;
  int64_t batch_stride = 0;
};

// Views `t` ([..., rows, cols], batch dims already broadcast to `batch`)
// as a 3-D batched operand; copies only when the layout does not allow it.
BatchedOperand batched_operand(const Tensor& t, const Shape& batch) {
  Shape shape = batch;
  shape.push_back(t.shape()[t.dim() - 2]);
  shape.push_back(t.shape()[t.dim() - 1]);
  const Tensor expanded = detail::expand_to(t, shape, "matmul");
  const int64_t batch_numel = detail::shape_numel(batch);
  const int64_t rows = shape[shape.size() - 2], cols = shape.back();
  // One batch stride must step through every batch dim.
  auto single_batch_stride = [&](const Tensor& e) -> std::optional<int64_t> {
    std::optional<int64_t> stride;
    int64_t expected = 0;
    for (int64_t d = static_cast<int64_t>(batch.size()) - 1; d >= 0; --d) {
      if (batch[d] == 1) continue;
      if (!stride) {
        stride = e.strides()[d];
        expected = *stride * batch[d];
      } else if (e.strides()[d] != expected) {
        return std::nullopt;
      } else {
        expected *= batch[d];
      }
    }
    return stride.value_or(0);
  };
  const int64_t nd = expanded.dim();
  auto matrix = as_gemm_operand(rows, cols, expanded.strides()[nd - 2], expanded.strides()[nd - 1]);
  auto stride = single_batch_stride(expanded);
  if (matrix && stride) {
    return {detail::make_view(expanded, {batch_numel, rows, cols},
                              {*stride, expanded.strides()[nd - 2], expanded.strides()[nd - 1]},
                              expanded.storage_offset()),
            *matrix, *stride};
  }
  const Tensor copy = contiguous(expanded).view({batch_numel, rows, cols});
  return {copy, MatrixOperand{false, cols}, rows * cols};
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  detail::check_defined(b, "matmul");
  const Device device = detail::common_device("matmul", {&a, &b});
  TS_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both operands need at least 1 dim, got ",
           detail::describe(a), " and ", detail::describe(b));
  TS_CHECK(a.dtype() == b.dtype(), "matmul: operands must have one dtype, got ",
           detail::describe(a), " and ", detail::describe(b));
  TS_CHECK(is_floating(a.dtype()), "matmul: expected floating operands, got ", detail::describe(a),
           " and ", detail::describe(b));
  // 1-D operands become a row (left) or column (right) and lose it at the end.
  const Tensor a2 = a.dim() == 1 ? unsqueeze(a, 0) : a;
  const Tensor b2 = b.dim() == 1 ? unsqueeze(b, 1) : b;
  const int64_t M = a2.shape()[a2.dim() - 2], K = a2.shape()[a2.dim() - 1];
  const int64_t N = b2.shape()[b2.dim() - 1];
  TS_CHECK(b2.shape()[b2.dim() - 2] == K,
           "matmul: inner dimensions do not match: ", detail::describe(a), " @ ",
           detail::describe(b), " (", K, " vs ", b2.shape()[b2.dim() - 2], ")");

  const Shape a_batch(a2.shape().begin(), a2.shape().end() - 2);
  const Shape b_batch(b2.shape().begin(), b2.shape().end() - 2);
  Shape batch;
  try {
    batch = detail::broadcast_shapes(a_batch, b_batch, "matmul");
  } catch (const Error& e) {
    // The batch dims alone would not say which operands they came from.
    throw Error(detail::concat(e.what(), "; they are the batch dims of ", detail::describe(a),
                               " @ ", detail::describe(b)));
  }

  Shape out_shape = batch;
  if (a.dim() > 1) out_shape.push_back(M);
  if (b.dim() > 1) out_shape.push_back(N);
  Tensor out = detail::make_tensor(out_shape, a.dtype(), device);
  if (out.numel() == 0) return out;

  // [..., M, K] @ [K, N] with a collapsible batch: fold the batch into M, one GEMM.
  if (b2.dim() == 2 && a2.dim() > 2) {
    const int64_t rows = detail::shape_numel(a_batch) * M;
    const Tensor flat = reshape(a2, {rows, K});  // a view whenever the layout allows
    const Tensor result = matmul(flat, b2);
    return reshape(result, out_shape);
  }

  const BatchedOperand A = batched_operand(a2, batch);
  const BatchedOperand B = batched_operand(b2, batch);
  kernels::GemmCall gemm;
  gemm.trans_a = A.matrix.transposed, gemm.trans_b = B.matrix.transposed;
  gemm.batch = detail::shape_numel(batch), gemm.M = M, gemm.N = N, gemm.K = K;
  gemm.A = A.tensor.data_ptr(), gemm.lda = A.matrix.ld, gemm.stride_a = A.batch_stride;
  gemm.B = B.tensor.data_ptr(), gemm.ldb = B.matrix.ld, gemm.stride_b = B.batch_stride;
  gemm.C = out.data_ptr(), gemm.ldc = N, gemm.stride_c = M * N;
  TS_KERNEL(device, gemm, a.dtype(), gemm);
  return out;
}

LinearForward linear(const Tensor& input, const Tensor& weight, const Tensor& bias,
                     kernels::GemmActivation activation, bool keep_pre) {
  detail::check_defined(input, "linear");
  detail::check_defined(weight, "linear");
  const Device device = bias.defined() ? detail::common_device("linear", {&input, &weight, &bias})
                                       : detail::common_device("linear", {&input, &weight});
  TS_CHECK(input.dim() >= 1 && weight.dim() == 2 && input.size(-1) == weight.size(1),
           "linear: expected input [..., in] and weight [out, in], got ", detail::describe(input),
           " and ", detail::describe(weight));
  TS_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == weight.size(0)),
           "linear: expected bias [", weight.size(0), "], got ", detail::describe(bias));
  TS_CHECK(input.dtype() == weight.dtype() && (!bias.defined() || bias.dtype() == input.dtype()),
           "linear: operands must have one dtype, got ", detail::describe(input), ", ",
           detail::describe(weight), (bias.defined() ? ", " + detail::describe(bias) : ""));
  TS_CHECK(is_floating(input.dtype()), "linear: expected floating operands, got ",
           detail::describe(input));
  const int64_t in = weight.size(1), out_features = weight.size(0);
  Shape out_shape(input.shape().begin(), input.shape().end() - 1);
  const int64_t rows = detail::shape_numel(out_shape);
  out_shape.push_back(out_features);
  LinearForward result;
  result.out = detail::make_tensor(out_shape, input.dtype(), device);
  const bool keeps_pre = keep_pre && (activation == kernels::GemmActivation::GeluErf ||
                                      activation == kernels::GemmActivation::GeluTanh);
  if (keeps_pre) result.pre = detail::make_tensor(out_shape, input.dtype(), device);
  if (result.out.numel() == 0) return result;
  // x [rows, in] and w [out, in] (read as op(B) = w^T) as row-major
  // matrices: unit column stride and rows at least `in` apart; anything else
  // (a broadcast row of stride 0, a transposed buffer) is copied first.
  const auto as_rows = [in](const Tensor& t) {
    const bool fits = (t.size(0) == 1 || t.stride(0) >= in) && (in <= 1 || t.stride(1) == 1);
    return fits ? t : contiguous(t);
  };
  const Tensor x = as_rows(reshape(input, {rows, in}));
  const Tensor w = as_rows(weight);
  const auto leading_dim = [in](const Tensor& t) {
    return std::max<int64_t>(t.size(0) == 1 ? in : t.stride(0), std::max<int64_t>(in, 1));
  };
  const Tensor b = bias.defined() ? contiguous(bias) : Tensor();
  kernels::GemmCall gemm;
  gemm.trans_a = false, gemm.trans_b = true;
  gemm.M = rows, gemm.N = out_features, gemm.K = in;
  gemm.A = x.data_ptr(), gemm.lda = leading_dim(x);
  gemm.B = w.data_ptr(), gemm.ldb = leading_dim(w);
  gemm.C = result.out.data_ptr(), gemm.ldc = out_features;
  gemm.epilogue.bias = b.defined() ? b.data_ptr() : nullptr;
  gemm.epilogue.activation = activation;
  gemm.epilogue.pre_activation = keeps_pre ? result.pre.data_ptr() : nullptr;
  TS_KERNEL(device, gemm, input.dtype(), gemm);
  return result;
}

}  // namespace toadstool::native
