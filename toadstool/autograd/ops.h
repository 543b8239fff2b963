#pragma once
// The public tensor ops: toadstool::add, toadstool::matmul, ... and the
// Tensor methods and operators, which call these. They are differentiable:
// each wraps its native front-end (tensor/native_ops.h) and, when grad mode
// is on and an input requires grad, records its backward on the tape (the
// definitions live in autograd/*_ops.cpp, one place per op). Ops without a
// derivative (comparisons, argmax, one_hot, ...) are the native ones.
//
// Every op checks its arguments and throws toadstool::Error naming itself and
// the shapes, dtypes and devices involved. Binary ops broadcast (NumPy rules)
// and promote dtypes (PyTorch rules).
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "toadstool/autograd/grad_mode.h"
#include "toadstool/tensor/attention.h"
#include "toadstool/tensor/conv_windows.h"
#include "toadstool/tensor/generator.h"
#include "toadstool/tensor/native_ops.h"
#include "toadstool/tensor/tensor.h"

namespace toadstool {

// Not differentiable: integer, boolean or index results.
using native::all;
using native::any;
using native::argmax;
using native::argmin;
using native::eq;
using native::ge;
using native::gelu_backward;
using native::gt;
using native::hashed_bigrams;
using native::le;
using native::logical_and;
using native::logical_not;
using native::logical_or;
using native::logical_xor;
using native::lt;
using native::ne;
using native::one_hot;
using native::relu_backward;
// Fused optimizer steps: in place, under no_grad, on parameters and state.
using native::adam_step_;
using native::adam_steps_;
using native::AdamStep;
using native::AdamStepTensors;
using native::sgd_step_;
using native::sgd_steps_;
using native::SgdStep;
using native::SgdStepTensors;
using native::StepGateTensors;

// ---- views: share storage with the input -------------------------------------
Tensor view(const Tensor& t, const Shape& shape);     // one dim may be -1
Tensor reshape(const Tensor& t, const Shape& shape);  // a view when possible, else a copy
Tensor permute(const Tensor& t, const Shape& dims);
Tensor transpose(const Tensor& t, int64_t dim0, int64_t dim1);
Tensor narrow(const Tensor& t, int64_t dim, int64_t start, int64_t length);
// Python-style t[start:end:step] along dim; bounds are clamped, step > 0.
Tensor slice(const Tensor& t, int64_t dim, std::optional<int64_t> start, std::optional<int64_t> end,
             int64_t step = 1);
Tensor select(const Tensor& t, int64_t dim, int64_t index);
Tensor squeeze(const Tensor& t);
Tensor squeeze(const Tensor& t, int64_t dim);
Tensor unsqueeze(const Tensor& t, int64_t dim);
Tensor expand(const Tensor& t, const Shape& shape);  // -1 keeps a size
Tensor flatten(const Tensor& t, int64_t start_dim = 0, int64_t end_dim = -1);

// ---- copies and conversions ------------------------------------------------------
Tensor contiguous(const Tensor& t);
Tensor clone(const Tensor& t);
Tensor to_dtype(const Tensor& t, DType dtype);
Tensor to_device(const Tensor& t, Device device, bool non_blocking = false);
Tensor pin_memory(const Tensor& t);

// ---- element-wise, binary ----------------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b, const Scalar& alpha = 1);  // a + alpha * b
Tensor add(const Tensor& a, const Scalar& b);
Tensor sub(const Tensor& a, const Tensor& b, const Scalar& alpha = 1);  // a - alpha * b
Tensor sub(const Tensor& a, const Scalar& b);
Tensor rsub(const Tensor& a, const Scalar& b);  // b - a
Tensor mul(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Scalar& b);
Tensor div(const Tensor& a, const Tensor& b);  // true division: integers give float32
Tensor div(const Tensor& a, const Scalar& b);
Tensor rdiv(const Tensor& a, const Scalar& b);  // b / a
Tensor pow(const Tensor& base, const Tensor& exponent);
Tensor pow(const Tensor& base, const Scalar& exponent);
Tensor pow(const Scalar& base, const Tensor& exponent);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
// The angle of the point (b, a) in [-pi, pi], as torch.atan2(a, b).
Tensor atan2(const Tensor& a, const Tensor& b);

// where(condition, a, b): a where condition is true, else b (all broadcast).
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& condition, const Tensor& a, const Scalar& b);
Tensor masked_fill(const Tensor& t, const Tensor& mask, const Scalar& value);
Tensor clamp(const Tensor& t, std::optional<Scalar> min, std::optional<Scalar> max);

// ---- element-wise, unary (integer inputs of float ops give float32) ------------------
Tensor neg(const Tensor& t);
Tensor abs(const Tensor& t);
Tensor exp(const Tensor& t);
Tensor log(const Tensor& t);
Tensor log1p(const Tensor& t);
Tensor sqrt(const Tensor& t);
Tensor rsqrt(const Tensor& t);
Tensor tanh(const Tensor& t);
Tensor sigmoid(const Tensor& t);
Tensor relu(const Tensor& t);
Tensor sin(const Tensor& t);
Tensor cos(const Tensor& t);
// approximate: "none" (erf form, the default) or "tanh".
Tensor gelu(const Tensor& t, const std::string& approximate = "none");
// log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (as
// torch.nn.functional.softplus). beta must be non-zero.
Tensor softplus(const Tensor& t, double beta = 1, double threshold = 20);

// ---- in place: write into `self`, bump its version, return it --------------------
// The result must have self's shape (no broadcasting of the destination) and
// a dtype that casts to self's (no float result into an integer tensor).
// In-place ops are not recorded on the tape: inside a NoGradGuard (optimizer
// steps, initialisation) they work on any tensor; with grad mode on, an
// operand that requires grad is an Error (use the out-of-place op).
Tensor& add_(Tensor& self, const Tensor& other, const Scalar& alpha = 1);
Tensor& add_(Tensor& self, const Scalar& other);
Tensor& sub_(Tensor& self, const Tensor& other, const Scalar& alpha = 1);
Tensor& sub_(Tensor& self, const Scalar& other);
Tensor& mul_(Tensor& self, const Tensor& other);
Tensor& mul_(Tensor& self, const Scalar& other);
Tensor& div_(Tensor& self, const Tensor& other);
Tensor& div_(Tensor& self, const Scalar& other);
Tensor& clamp_(Tensor& self, std::optional<Scalar> min, std::optional<Scalar> max);
Tensor& masked_fill_(Tensor& self, const Tensor& mask, const Scalar& value);
Tensor& fill_(Tensor& self, const Scalar& value);
Tensor& zero_(Tensor& self);
// Copies src (broadcast to self's shape, converted to self's dtype) into self.
Tensor& copy_(Tensor& self, const Tensor& src);

// ---- reductions: dims empty = all dims --------------------------------------------------
Tensor sum(const Tensor& t, const Shape& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& t, const Shape& dims = {}, bool keepdim = false);
Tensor prod(const Tensor& t, const Shape& dims = {}, bool keepdim = false);
Tensor amax(const Tensor& t, const Shape& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& t, const Shape& dims = {}, bool keepdim = false);
// Variance with Bessel-style correction (1 = unbiased, 0 = population).
Tensor var(const Tensor& t, const Shape& dims = {}, int64_t correction = 1, bool keepdim = false);
Tensor std(const Tensor& t, const Shape& dims = {}, int64_t correction = 1, bool keepdim = false);
Tensor logsumexp(const Tensor& t, const Shape& dims, bool keepdim = false);
// max/min along one dim: values and int64 indices (first occurrence; NaN wins).
std::pair<Tensor, Tensor> max(const Tensor& t, int64_t dim, bool keepdim = false);
std::pair<Tensor, Tensor> min(const Tensor& t, int64_t dim, bool keepdim = false);
Tensor max(const Tensor& t);  // full reduction
Tensor min(const Tensor& t);

// ---- linear algebra ---------------------------------------------------------------------
// torch.matmul: 1-D x 1-D dot, 2-D x 2-D, and batched with broadcast batch
// dims; transposed operands are read in place, without copies.
Tensor matmul(const Tensor& a, const Tensor& b);
// torch.nn.functional.linear: input [..., in] @ weight [out, in]^T + bias
// [out] (bias may be undefined); one op for autocast, so the bias is added
// in the autocast dtype as well. One GEMM: the bias is added as each tile
// of the output is stored.
Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias = {});
// An activation fused into linear's GEMM epilogue.
enum class LinearActivation { None, ReLU, GELU, GELUTanh };
// activation(linear(input, weight, bias)) in one pass over the output (the
// values of relu(), gelu(t) and gelu(t, "tanh") after linear()).
Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias,
              LinearActivation activation);

// ---- NN kernels -------------------------------------------------------------------------
Tensor softmax(const Tensor& t, int64_t dim);
Tensor log_softmax(const Tensor& t, int64_t dim);
// Normalises over the trailing dims given by normalized_shape; weight and
// bias (optional, of normalized_shape) scale and shift.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = {},
                  const Tensor& bias = {}, double eps = 1e-5);
// torch.nn.functional.glu: t [..., 2n, ...] split into halves a, b of n
// along dim -> a * sigmoid(b) [..., n, ...]. A composition of narrow,
// sigmoid and mul, whose derivatives give its gradient. An odd size along
// dim (or a 0-d t) is an Error naming glu, the dim and the shape.
Tensor glu(const Tensor& t, int64_t dim = -1);
// Rows of `weight` [num, dim] picked by int64 `indices` of any shape: [..., dim].
// The row at padding_idx gets no gradient.
Tensor embedding(const Tensor& weight, const Tensor& indices,
                 std::optional<int64_t> padding_idx = std::nullopt);
// Zeroes each element with probability p and scales the rest by 1 / (1 - p)
// when training; the identity otherwise. The mask is drawn from `generator`
// (default: the global one), a 16-bit draw per element: the keep
// probability 1 - p is rounded up to a multiple of 2^-16 (kernels/philox.h,
// RandomKind::DropoutKeep).
Tensor dropout(const Tensor& t, double p, bool training = true, Generator* generator = nullptr);
// residual + dropout(t, p, training, generator), the same values from the
// same generator state, in one pass over memory when t and residual have
// one shape and dtype (the composition otherwise).
Tensor dropout_add(const Tensor& t, const Tensor& residual, double p, bool training = true,
                   Generator* generator = nullptr);
// layer_norm(residual + dropout(t, p), normalized_shape, weight, bias, eps):
// a post-norm Transformer layer's "add & norm", with the values and
// generator draws of that composition, in one pass over the rows forward and
// one backward (when training with 0 < p < 1 and t, residual of one shape
// and dtype; the composition otherwise).
Tensor dropout_add_layer_norm(const Tensor& t, const Tensor& residual, double p, bool training,
                              Generator* generator, const Shape& normalized_shape,
                              const Tensor& weight = {}, const Tensor& bias = {},
                              double eps = 1e-5);
// torch.nn.functional.scaled_dot_product_attention: q [..., L, E], k [..., S, E],
// v [..., S, Ev] (same leading dims) -> [..., L, Ev],
//   dropout(softmax(q k^T * scale + mask), p) v,
// fused (flash-style: nothing [L, S]-sized is formed, forward or backward).
// Options (mask, is_causal, dropout, scale): tensor/attention.h. A row whose
// every key is masked gives 0 and no gradient (PyTorch: NaN).
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& options = {});
// Self-attention over a packed projection: qkv [B, L, 3E] holds q, k and v
// side by side, each split into num_heads heads -> [B, L, E], the heads
// merged. scaled_dot_product_attention of the three head views, with one
// [B, L, 3E] gradient written by the kernel (tensor/attention.h).
Tensor scaled_dot_product_attention_packed(const Tensor& qkv, int64_t num_heads,
                                           const AttentionOptions& options = {});

// ---- convolutions (docs/nn.md, "Convolutions") -----------------------------------------
// The windows (tensor/conv_windows.h): im2col input [N, C, *in] -> [N, C K,
// P]; col2im, its adjoint, [N, C K, P] -> [N, C, *input_size]. Each is the
// other's derivative.
Tensor im2col(const Tensor& input, const ConvWindowOptions& options);
Tensor col2im(const Tensor& columns, const Shape& input_size, const ConvWindowOptions& options);
// torch.nn.functional.conv1d / conv2d: input [N, C, L] / [N, C, H, W] (or
// without N), weight [O, C / groups, k...], bias [O] -> [N, O, out...], as
// weight (O / groups rows of each group) times im2col's columns. stride,
// padding and dilation: one value for every dim or one per dim.
struct ConvOptions {
  Shape stride{1};
  Shape padding{0};
  // PyTorch's padding="same": the output as long as the input (stride 1),
  // an odd total padding's extra zero at the end; `padding` is then unused.
  bool padding_same = false;
  Shape dilation{1};
  int64_t groups = 1;
};
Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias = {},
              const ConvOptions& options = {});
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = {},
              const ConvOptions& options = {});
// torch.nn.functional.max_pool1d / 2d and avg_pool1d / 2d over input [N, C,
// *spatial] (or without N): the windows of im2col, their max (padding
// never wins; the gradient goes to the first maximum, as PyTorch's) or
// mean (count_include_pad: padding zeros count, as PyTorch's default).
// kernel_size and the other lists: one value for every dim or one per dim;
// stride defaults to kernel_size; padding at most half the kernel.
struct PoolOptions {
  Shape kernel_size;
  Shape stride{};  // default: kernel_size
  Shape padding{0};
  Shape dilation{1};              // max pooling only
  bool count_include_pad = true;  // average pooling only
};
Tensor max_pool1d(const Tensor& input, const PoolOptions& options);
Tensor max_pool2d(const Tensor& input, const PoolOptions& options);
Tensor avg_pool1d(const Tensor& input, const PoolOptions& options);
Tensor avg_pool2d(const Tensor& input, const PoolOptions& options);
// torch.nn.functional.adaptive_avg_pool1d / 2d: output i of a dim averages
// input [floor(i in / out), ceil((i + 1) in / out)).
Tensor adaptive_avg_pool1d(const Tensor& input, int64_t output_size);
Tensor adaptive_avg_pool2d(const Tensor& input, const Shape& output_size);

// ---- losses (options in tensor/loss_options.h; docs/losses.md) -------------------------
// torch.nn.functional.cross_entropy with class-index targets: logits [N, C]
// with target [N], [N, C, d1, ...] with [N, d1, ...], or [C] with a 0-d
// target; int64 targets in [0, C) or equal to ignore_index. One fused kernel:
// log-sum-exp and loss in one pass over each line, softmax - smoothed
// one-hot in the backward. Differentiable in logits (not in weight).
Tensor cross_entropy(const Tensor& logits, const Tensor& target,
                     const CrossEntropyOptions& options = {});
// torch.nn.functional.nll_loss: -weight[t] * log_probs[t] per line, with the
// shapes of cross_entropy (log_probs in place of logits).
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const NLLLossOptions& options = {});
// torch.nn.functional.binary_cross_entropy_with_logits, stable for any x:
// (1 - y) x + (1 + (pos_weight - 1) y) (max(-x, 0) + log1p(exp(-|x|))), times
// weight. target has input's shape; differentiable in input and target.
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const BCEWithLogitsOptions& options = {});
// torch.nn.functional.mse_loss: (input - target)^2, reduced; equal shapes.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);

// ---- indexing ---------------------------------------------------------------------------
Tensor index_select(const Tensor& t, int64_t dim, const Tensor& index);
Tensor gather(const Tensor& t, int64_t dim, const Tensor& index);
// A copy of t with src[i] added at index[i] along dim (duplicates accumulate).
Tensor scatter_add(const Tensor& t, int64_t dim, const Tensor& index, const Tensor& src);
// A copy of t with alpha * source slices added at the positions in index.
Tensor index_add(const Tensor& t, int64_t dim, const Tensor& index, const Tensor& source,
                 const Scalar& alpha = 1);
// The rows of a [R, C] tensor that index [N] picks (distinct rows), and
// back: the adjoint pair that packs a padded batch's real tokens
// (nn/packed_tokens.h). inverse [R] holds each row's position in index, or
// N for a row that index leaves out:
//   pack_rows(t [R, C], ...)   = t[index]                                [N, C]
//   unpack_rows(s [N, C], ...) row r = s[inverse[r]], 0 where it is N    [R, C]
// Each one's gradient is the other: row copies in the tensor's dtype.
Tensor pack_rows(const Tensor& t, const Tensor& index, const Tensor& inverse);
Tensor unpack_rows(const Tensor& s, const Tensor& index, const Tensor& inverse);

// ---- joining and splitting ----------------------------------------------------------------
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& t, int64_t split_size, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& t, const std::vector<int64_t>& sizes, int64_t dim = 0);
std::vector<Tensor> chunk(const Tensor& t, int64_t chunks, int64_t dim = 0);
// Lower / upper triangle of the last two dims; diagonal shifts the cut.
Tensor tril(const Tensor& t, int64_t diagonal = 0);
Tensor triu(const Tensor& t, int64_t diagonal = 0);

}  // namespace toadstool
