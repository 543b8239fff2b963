#pragma once
// The op front-ends, without gradients: toadstool::native::*. Each checks its
// arguments (throwing toadstool::Error naming itself and the shapes, dtypes
// and devices involved), allocates the result and dispatches to a kernel.
// Binary ops broadcast (NumPy rules) and promote dtypes (PyTorch rules).
//
// Users call the differentiable ops of autograd/ops.h (toadstool::*), which
// wrap these and record the backward; code in tensor/ calls these directly.
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "toadstool/kernels/kernel_args.h"
#include "toadstool/tensor/loss_options.h"
#include "toadstool/tensor/tensor.h"

namespace toadstool::native {

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
// non_blocking: Tensor::to(Device, bool) says when the copy does not wait.
Tensor to_device(const Tensor& t, Device device, bool non_blocking = false);
// A CPU tensor copied into pinned host memory (itself when already pinned).
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

// Comparisons give bool tensors.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, const Scalar& b);
Tensor ne(const Tensor& a, const Scalar& b);
Tensor lt(const Tensor& a, const Scalar& b);
Tensor le(const Tensor& a, const Scalar& b);
Tensor gt(const Tensor& a, const Scalar& b);
Tensor ge(const Tensor& a, const Scalar& b);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_xor(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& a);

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
// grad * d gelu(x) / dx, the kernel of gelu's derivative.
Tensor gelu_backward(const Tensor& grad, const Tensor& x, const std::string& approximate = "none");
// grad where the relu output y is positive, else 0: relu's derivative.
Tensor relu_backward(const Tensor& grad, const Tensor& y);

// ---- element-wise by functor -----------------------------------------------------------
// The front-ends of ops that need nothing beyond their row of
// kernels/elementwise_list.h (docs/design.md, "Adding an op"). Integer and
// bool inputs give float32; float16/bfloat16 compute in float32. a and b are
// the functor's parameters (its OpScalars p); `op` names the op in errors.
Tensor float_unary(const char* op, kernels::ElementwiseOp kernel, const Tensor& t, double a = 0,
                   double b = 0);
// Broadcasts a and b.
Tensor float_binary(const char* op, kernels::ElementwiseOp kernel, const Tensor& a,
                    const Tensor& b);

// ---- in place: write into `self`, bump its version, return it --------------------
// The result must have self's shape (no broadcasting of the destination) and
// a dtype that casts to self's (no float result into an integer tensor).
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
// The sum of squares (floats; 16-bit ones computed in float32): (t * t).sum
// in one pass, each square and the sum in double, rounded once. No autograd
// (clip_grad_norm_'s squared 2-norms).
Tensor sum_squares(const Tensor& t, const Shape& dims = {}, bool keepdim = false);
Tensor logsumexp(const Tensor& t, const Shape& dims, bool keepdim = false);
// max/min along one dim: values and int64 indices (first occurrence; NaN wins).
std::pair<Tensor, Tensor> max(const Tensor& t, int64_t dim, bool keepdim = false);
std::pair<Tensor, Tensor> min(const Tensor& t, int64_t dim, bool keepdim = false);
Tensor max(const Tensor& t);  // full reduction
// Whether every / any element is non-zero: 0-d bool tensors.
Tensor all(const Tensor& t);
Tensor any(const Tensor& t);
Tensor min(const Tensor& t);
// Without a dim: the index into the flattened tensor.
Tensor argmax(const Tensor& t, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
Tensor argmin(const Tensor& t, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);

// ---- linear algebra ---------------------------------------------------------------------
// torch.matmul: 1-D x 1-D dot, 2-D x 2-D, and batched with broadcast batch
// dims; transposed operands are read in place, without copies.
Tensor matmul(const Tensor& a, const Tensor& b);
// A fused Linear: out = activation(input @ weight^T + bias), input [..., in],
// weight [out, in], bias [out] or undefined -> [..., out], as one GEMM whose
// epilogue adds the bias and applies the activation. With keep_pre, `pre`
// holds input @ weight^T + bias for the GELU activations (their backward
// reads it; undefined otherwise).
struct LinearForward {
  Tensor out, pre;
};
LinearForward linear(const Tensor& input, const Tensor& weight, const Tensor& bias,
                     kernels::GemmActivation activation, bool keep_pre = false);

// ---- NN kernels -------------------------------------------------------------------------
Tensor softmax(const Tensor& t, int64_t dim);
Tensor log_softmax(const Tensor& t, int64_t dim);
// Normalises over the trailing dims given by normalized_shape; weight and
// bias (optional, of normalized_shape) scale and shift.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = {},
                  const Tensor& bias = {}, double eps = 1e-5);

// The pieces of the NN ops' derivatives (autograd/ calls these).
// softmax: grad_x = y * (grad_y - sum(grad_y * y)); log_softmax:
// grad_x = grad_y - exp(y) * sum(grad_y), sums along dim; y is the forward output.
Tensor softmax_backward(const Tensor& grad_y, const Tensor& y, int64_t dim, bool log);
// layer_norm's output with the row statistics the backward needs:
// mean and rstd = 1 / sqrt(var + eps), [rows] in the compute dtype.
struct LayerNormForward {
  Tensor out, mean, rstd;
};
LayerNormForward layer_norm_forward(const Tensor& x, const Shape& normalized_shape,
                                    const Tensor& weight, const Tensor& bias, double eps);
// layer_norm(residual + dropout(block)) in one pass over the rows
// (kernels/backend.h, DropoutAddLayerNormForwardFn); block and residual of
// one shape and floating dtype, 0 < mask.p < 1. Also returns x = residual +
// dropout(block), in the compute dtype, for the backward. On the CPU a
// bfloat16 / float16 block may come with a float32 residual (autocast's add
// & norm): it is read as block.to(float32) would be, without the copy.
struct DropoutAddLayerNormForward {
  Tensor out, x, mean, rstd;
};
DropoutAddLayerNormForward dropout_add_layer_norm_forward(
    const Tensor& block, const Tensor& residual, const kernels::DropoutMask& mask,
    const Shape& normalized_shape, const Tensor& weight, const Tensor& bias, double eps);
// Gradients of x, weight and bias (the latter two undefined unless
// `weight_and_bias` is set and weight / bias are defined). With `dropout`
// (the backward of dropout_add_layer_norm_forward, x its returned x), also
// the block's gradient dropout(grad x); the residual's is grad x. The
// block's gradient is in `block_dtype` (a 16-bit block of float32 sums,
// rounded as it is written), else in x's dtype.
struct LayerNormGrads {
  Tensor x, weight, bias, block;
};
LayerNormGrads layer_norm_backward(const Tensor& grad_y, const Tensor& x,
                                   const Shape& normalized_shape, const Tensor& mean,
                                   const Tensor& rstd, const Tensor& weight, const Tensor& bias,
                                   bool weight_and_bias,
                                   const kernels::DropoutMask* dropout = nullptr,
                                   std::optional<DType> block_dtype = std::nullopt);
// Rows of `weight` [num, dim] picked by int64 `indices` of any shape: [..., dim].
Tensor embedding(const Tensor& weight, const Tensor& indices);
// in * mask (+ residual, when defined: same shape, dtype and device as in),
// the dropout mask of kernels::DropoutMask, drawn or read from its keep bits;
// floating dtypes.
Tensor dropout_masked(const Tensor& in, const Tensor& residual, const kernels::DropoutMask& mask);

// ---- losses (options in tensor/loss_options.h) -----------------------------------------
// The class-index checks of cross_entropy and nll_loss (named `op` in errors):
// input [C] with a 0-d target, [N, C] with [N], or [N, C, d1, ...] with
// [N, d1, ...]; floating input; int64 targets each in [0, C) or equal to
// ignore_index; weight undefined or [C] in the input's dtype. Returns the
// sum of the weights of the targets that are not ignored (their count when
// unweighted): the denominator of the mean.
double check_class_targets(const Tensor& input, const Tensor& target, const Tensor& weight,
                           int64_t ignore_index, const char* op);
// cross_entropy (one fused kernel; see docs/losses.md) with what its
// backward reads: lse, the log-sum-exp of each line of classes ([lines],
// lines = numel / C, in the compute dtype), and the coefficients of
// loss = nll_scale * nll + smooth_scale * smooth that the reduction used.
struct CrossEntropyForward {
  Tensor loss, lse;
  double nll_scale = 1, smooth_scale = 0;
};
CrossEntropyForward cross_entropy_forward(const Tensor& logits, const Tensor& target,
                                          const CrossEntropyOptions& options);
Tensor cross_entropy(const Tensor& logits, const Tensor& target,
                     const CrossEntropyOptions& options = {});
// The gradient of the logits from the loss's gradient (the loss's shape:
// per line for Reduction::none, 0-d otherwise) and the forward's lse and scales.
Tensor cross_entropy_backward(const Tensor& grad, const Tensor& logits, const Tensor& target,
                              const Tensor& lse, const CrossEntropyOptions& options,
                              double nll_scale, double smooth_scale);

// ---- indexing ---------------------------------------------------------------------------
Tensor index_select(const Tensor& t, int64_t dim, const Tensor& index);
// index_select where an index equal to t.size(dim) selects zeros: the rows
// that packed tokens leave out (nn/packed_tokens.h), without first copying
// t to append a zero row.
Tensor index_select_or_zeros(const Tensor& t, int64_t dim, const Tensor& index);
Tensor gather(const Tensor& t, int64_t dim, const Tensor& index);
// A copy of t with src[i] added at index[i] along dim (duplicates accumulate).
Tensor scatter_add(const Tensor& t, int64_t dim, const Tensor& index, const Tensor& src);
// A copy of t with alpha * source slices added at the positions in index.
Tensor index_add(const Tensor& t, int64_t dim, const Tensor& index, const Tensor& source,
                 const Scalar& alpha = 1);
// index_add(zeros(shape, dtype) on source's device, dim, index, source)
// without copying the zeros: the gradient of index_select and embedding.
Tensor index_add_to_zeros(const Shape& shape, DType dtype, int64_t dim, const Tensor& index,
                          const Tensor& source);
// int64 class indices -> int64 one-hot [..., num_classes]; -1 infers it.
Tensor one_hot(const Tensor& indices, int64_t num_classes = -1);
// Hashed token bigrams (fastText's n-gram features): ids [..., L] int64 ->
// [..., L] int64, element j the bucket in [1, buckets) of the pair
// (ids[..., j-1], ids[..., j]) (the first token pairs with padding_idx), or
// 0 where ids[..., j] is padding_idx. For an Embedding(buckets, d,
// padding_idx 0) beside the token embedding.
Tensor hashed_bigrams(const Tensor& ids, int64_t buckets, int64_t padding_idx = 0);

// ---- joining and splitting ----------------------------------------------------------------
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& t, int64_t split_size, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& t, const std::vector<int64_t>& sizes, int64_t dim = 0);
std::vector<Tensor> chunk(const Tensor& t, int64_t chunks, int64_t dim = 0);
// Lower / upper triangle of the last two dims; diagonal shifts the cut.
Tensor tril(const Tensor& t, int64_t diagonal = 0);
Tensor triu(const Tensor& t, int64_t diagonal = 0);

// ---- fused optimizer steps ----------------------------------------------------------------
// One pass over a parameter and its state, in place (the per-element math:
// kernels/optim_math.h). param, grad and the buffers: one shape, one
// floating dtype (float32 or float64), one device, contiguous.
//
// A gate (GradScaler's found-inf flag) makes the step conditional on the
// device: `skip`, a float32 value, non-zero to skip; `skipped`, the
// parameter's float32 count of skipped gated steps, which a skipped step
// increments; hp.gate.step, the caller's count of the parameter's steps
// (this one included). A taken step counts hp.gate.step - skipped as its
// number (Adam's bias correction, SGD's first step). Both tensors one
// element on the parameter's device; hp.gate's pointers are set here.
struct StepGateTensors {
  Tensor skip, skipped;
};

using kernels::AdamStep;
using kernels::SgdStep;
// momentum_buffer may be undefined only when hp.momentum is 0.
void sgd_step_(Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, SgdStep hp,
               const StepGateTensors& gate = {});
// max_exp_avg_sq is used (and must be defined) only with hp.amsgrad.
void adam_step_(Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                const Tensor& max_exp_avg_sq, AdamStep hp, const StepGateTensors& gate = {});

// Several parameters' steps at once (multi-tensor): every step's arguments
// are checked as above before any runs, then the steps of each run of
// consecutive parameters with one device and dtype, none overlapping
// another's memory, go to one kernel call (on CUDA, one launch per 16
// parameters instead of one per parameter).
struct SgdStepTensors {
  Tensor param, grad, momentum_buffer;
  SgdStep hp;
  StepGateTensors gate;
};
struct AdamStepTensors {
  Tensor param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq;
  AdamStep hp;
  StepGateTensors gate;
};
void sgd_steps_(std::span<const SgdStepTensors> steps);
void adam_steps_(std::span<const AdamStepTensors> steps);

}  // namespace toadstool::native
