// matmul and the NN ops with their derivatives.
#include <array>

#include "toadstool/autograd/autocast.h"
#include "toadstool/autograd/ops.h"
#include "toadstool/autograd/record.h"
#include "toadstool/kernels/philox.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool {

using autograd::Grads;
using autograd::needs_grad;
using autograd::Op;
using autograd::record;
using autograd::SavedTensor;

namespace {

// d(a @ b): grad_a = g @ b^T, grad_b = a^T @ g, with 1-D operands treated as
// a row [1, K] (a) or a column [K, 1] (b) and the extra dim dropped again.
// Only the gradients that are needed are computed.
Grads matmul_grads(const Tensor& g, const Tensor& a, const Tensor& b, bool need_a, bool need_b) {
  if (a.dim() == 1 && b.dim() == 1) {  // dot product: g is 0-d
    return {need_a ? g * b : Tensor(), need_b ? g * a : Tensor()};
  }
  const Tensor a2 = a.dim() == 1 ? unsqueeze(a, 0) : a;  // [..., M, K]
  const Tensor b2 = b.dim() == 1 ? unsqueeze(b, 1) : b;  // [..., K, N]
  Tensor g2 = g;                                         // [..., M, N]
  if (a.dim() == 1) g2 = unsqueeze(g2, -2);
  if (b.dim() == 1) g2 = unsqueeze(g2, -1);
  Tensor grad_a, grad_b;
  if (need_a) {
    grad_a = matmul(g2, transpose(b2, -1, -2));
    if (a.dim() == 1) grad_a = squeeze(grad_a, -2);
  }
  if (need_b) {
    if (b2.dim() == 2 && a2.dim() > 2) {
      // A weight shared over the batch ([..., M, K] @ [K, N], as in Linear):
      // one GEMM over the folded batch, a2^T [K, B*M] @ g2 [B*M, N], instead of
      // a batched GEMM and a sum.
      const int64_t k = a2.size(-1);
      grad_b = matmul(transpose(reshape(a2, {-1, k}), 0, 1), reshape(g2, {-1, g2.size(-1)}));
    } else {
      grad_b = matmul(transpose(a2, -1, -2), g2);
    }
    if (b.dim() == 1) grad_b = squeeze(grad_b, -1);
  }
  return {grad_a, grad_b};
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  if (autocast::casts(autocast::Op::matmul, a, b))
    return matmul(autocast::input(autocast::Op::matmul, a),
                  autocast::input(autocast::Op::matmul, b));
  Tensor out = native::matmul(a, b);
  if (needs_grad(a, b)) {
    record(Op::matmul, out, {a, b},
           [a = SavedTensor(a), b = SavedTensor(b), need_a = a.requires_grad(),
            need_b = b.requires_grad()](const Tensor& g) -> Grads {
             return matmul_grads(g, a.get(), b.get(), need_a, need_b);
           });
  }
  return out;
}

Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias) {
  return linear(input, weight, bias, LinearActivation::None);
}

namespace {

kernels::GemmActivation gemm_activation(LinearActivation activation) {
  switch (activation) {
    case LinearActivation::ReLU: return kernels::GemmActivation::Relu;
    case LinearActivation::GELU: return kernels::GemmActivation::GeluErf;
    case LinearActivation::GELUTanh: return kernels::GemmActivation::GeluTanh;
    case LinearActivation::None: break;
  }
  return kernels::GemmActivation::None;
}

// d(activation(x w^T + b)) for out [..., out_features]: the gradient at the
// pre-activation (relu from the output, GELU from the saved pre), then
// grad_x = gp w, grad_w = gp^T x over the folded rows, grad_b = row sums.
Grads linear_grads(const Tensor& g, const Tensor& input, const Tensor& weight, bool has_bias,
                   LinearActivation activation, const Tensor& out, const Tensor& pre,
                   std::array<bool, 3> needed) {
  Tensor gp = g;
  if (activation == LinearActivation::ReLU) gp = native::relu_backward(g, out);
  if (activation == LinearActivation::GELU) gp = gelu_backward(g, pre, "none");
  if (activation == LinearActivation::GELUTanh) gp = gelu_backward(g, pre, "tanh");
  const int64_t in = weight.size(1), out_features = weight.size(0);
  // Explicit row counts: a -1 cannot be inferred when in or out_features is 0.
  const int64_t rows = detail::shape_numel(Shape(input.shape().begin(), input.shape().end() - 1));
  const Tensor gp2 = reshape(gp, {rows, out_features});
  Grads grads(3);
  if (needed[0]) grads[0] = matmul(gp, weight);
  if (needed[1]) grads[1] = matmul(transpose(gp2, 0, 1), reshape(input, {rows, in}));
  if (needed[2] && has_bias) grads[2] = sum(gp2, {0});
  return grads;
}

}  // namespace

Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias,
              LinearActivation activation) {
  if (autocast::casts(autocast::Op::linear, input, weight, bias))
    return linear(autocast::input(autocast::Op::linear, input),
                  autocast::input(autocast::Op::linear, weight),
                  autocast::input(autocast::Op::linear, bias), activation);
  const bool grad = needs_grad(input, weight, bias);
  native::LinearForward forward =
      native::linear(input, weight, bias, gemm_activation(activation), /*keep_pre=*/grad);
  Tensor out = forward.out;
  if (grad) {
    // relu's backward reads the output, GELU's the pre-activation.
    const Tensor relu_out = activation == LinearActivation::ReLU ? out : Tensor();
    record(Op::linear, out, {input, weight, bias},
           [input = SavedTensor(input), weight = SavedTensor(weight), has_bias = bias.defined(),
            activation, out = SavedTensor(relu_out), pre = SavedTensor(forward.pre),
            needed = std::array<bool, 3>{input.requires_grad(), weight.requires_grad(),
                                         bias.requires_grad()}](const Tensor& g) -> Grads {
             return linear_grads(g, input.get(), weight.get(), has_bias, activation, out.get(),
                                 pre.get(), needed);
           });
  }
  return out;
}

Tensor softmax(const Tensor& t, int64_t dim) {
  if (autocast::casts(autocast::Op::softmax, t))
    return softmax(autocast::input(autocast::Op::softmax, t), dim);
  Tensor out = native::softmax(t, dim);
  if (needs_grad(t)) {
    record(Op::softmax, out, {t}, [y = SavedTensor(out), dim](const Tensor& g) -> Grads {
      return {native::softmax_backward(g, y.get(), dim, /*log=*/false)};
    });
  }
  return out;
}

Tensor log_softmax(const Tensor& t, int64_t dim) {
  if (autocast::casts(autocast::Op::log_softmax, t))
    return log_softmax(autocast::input(autocast::Op::log_softmax, t), dim);
  Tensor out = native::log_softmax(t, dim);
  if (needs_grad(t)) {
    record(Op::log_softmax, out, {t}, [y = SavedTensor(out), dim](const Tensor& g) -> Grads {
      return {native::softmax_backward(g, y.get(), dim, /*log=*/true)};
    });
  }
  return out;
}

// No op of its own: narrow (a view), sigmoid and mul record their
// derivatives, d/da = sigmoid(b) and d/db = a sigmoid(b) (1 - sigmoid(b)).
Tensor glu(const Tensor& t, int64_t dim) {
  detail::check_defined(t, "glu");
  TS_CHECK(t.dim() > 0, "glu: needs a dim to split, got a 0-d tensor ", detail::describe(t));
  const int64_t d = detail::wrap_dim(dim, t.dim(), "glu");
  const int64_t size = t.size(d);
  TS_CHECK(size % 2 == 0, "glu: the size of dim ", dim, " must be even to split it in halves, got ",
           size, " in ", detail::describe(t));
  const int64_t half = size / 2;
  return mul(narrow(t, d, 0, half), sigmoid(narrow(t, d, half, half)));
}

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps) {
  if (autocast::casts(autocast::Op::layer_norm, x, weight, bias))
    return layer_norm(autocast::input(autocast::Op::layer_norm, x), normalized_shape,
                      autocast::input(autocast::Op::layer_norm, weight),
                      autocast::input(autocast::Op::layer_norm, bias), eps);
  if (!needs_grad(x, weight, bias))
    return native::layer_norm(x, normalized_shape, weight, bias, eps);
  // The fused kernel's forward keeps each row's mean and 1/std for its backward.
  native::LayerNormForward forward =
      native::layer_norm_forward(x, normalized_shape, weight, bias, eps);
  Tensor out = forward.out;
  record(
      Op::layer_norm, out, {x, weight, bias},
      [normalized_shape, x = SavedTensor(x), weight = SavedTensor(weight), bias = SavedTensor(bias),
       mean = SavedTensor(forward.mean), rstd = SavedTensor(forward.rstd),
       need_affine = weight.requires_grad() || bias.requires_grad()](const Tensor& g) -> Grads {
        native::LayerNormGrads grads =
            native::layer_norm_backward(g, x.get(), normalized_shape, mean.get(), rstd.get(),
                                        weight.get(), bias.get(), need_affine);
        return {grads.x, grads.weight, grads.bias};
      });
  return out;
}

Tensor embedding(const Tensor& weight, const Tensor& indices, std::optional<int64_t> padding_idx) {
  Tensor out = native::embedding(weight, indices);
  if (padding_idx) {
    const int64_t num = weight.size(0);
    TS_CHECK(*padding_idx >= -num && *padding_idx < num, "embedding: padding_idx ", *padding_idx,
             " is out of range for ", num, " embeddings");
    if (*padding_idx < 0) *padding_idx += num;
  }
  if (needs_grad(weight)) {
    // Each looked-up row's gradient is added into its row of weight
    // (repeated ids accumulate); the padding row gets none.
    record(Op::embedding, out, {weight},
           [shape = weight.shape(), dtype = weight.dtype(), indices = SavedTensor(indices),
            padding_idx](const Tensor& g) -> Grads {
             Tensor grad = native::index_add_to_zeros(shape, dtype, 0, reshape(indices.get(), {-1}),
                                                      reshape(g, {-1, shape[1]}));
             if (padding_idx) {
               Tensor padding_row = native::select(grad, 0, *padding_idx);
               native::zero_(padding_row);
             }
             return {grad};
           });
  }
  return out;
}

namespace {

// The generator state of a dropout mask over n elements: the counter blocks
// of n 16-bit keep draws (RandomKind::DropoutKeep) taken from `generator`.
kernels::DropoutMask reserve_dropout_mask(int64_t n, double p, Generator* generator) {
  Generator& g = generator != nullptr ? *generator : default_generator();
  const uint64_t offset =
      g.reserve(kernels::philox_blocks_used(n, kernels::RandomKind::DropoutKeep));
  return {p, g.seed(), offset};
}

// A dropout mask whose first pass is recorded for a backward: on the CPU
// it keeps one bit per element (kernels::DropoutMask::keep_bits, int64
// words), so the backward reads the mask instead of drawing it again.
// Returns the words (undefined elsewhere); `mask` then points at them.
// `row` elements: a kernel that splits rows among threads (the fused layer
// norm) needs each row to start on a word.
Tensor keep_bits_for(kernels::DropoutMask& mask, int64_t n, const Tensor& like, int64_t row = 64) {
  if (!like.device().is_cpu() || row % 64 != 0) return {};
  Tensor words = detail::make_tensor({kernels::dropout_keep_words(n)}, DType::Int64, like.device());
  mask.keep_bits = static_cast<uint64_t*>(words.data_ptr());
  mask.keep_bits_drawn = false;
  return words;
}

// The mask a backward applies: the bits the forward drew, when it kept them.
kernels::DropoutMask drawn(kernels::DropoutMask mask) {
  mask.keep_bits_drawn = mask.keep_bits != nullptr;
  return mask;
}

// in * mask (+ residual), recorded. The mask is linear, so the backward is
// the same op on the gradient (recorded again: it differentiates further),
// reading the keep bits `keep_bits` (int64 words) when the mask has them.
// A mask without bits gets them here if the pass is recorded.
Tensor apply_dropout_mask(const Tensor& in, const Tensor& residual, kernels::DropoutMask mask,
                          Tensor keep_bits = {}) {
  const bool recorded = needs_grad(in, residual);
  if (recorded && mask.keep_bits == nullptr) keep_bits = keep_bits_for(mask, in.numel(), in);
  Tensor out = native::dropout_masked(in, residual, mask);
  if (recorded) {
    const bool has_residual = residual.defined();
    record(has_residual ? Op::dropout_add : Op::dropout, out, {in, residual},
           [mask = drawn(mask), keep_bits, has_residual](const Tensor& g) -> Grads {
             return {apply_dropout_mask(g, Tensor(), mask, keep_bits), has_residual ? g : Tensor()};
           });
  }
  return out;
}

void check_dropout_p(double p) {
  TS_CHECK(p >= 0 && p <= 1, "dropout: p must be in [0, 1], got ", p);
}

}  // namespace

// Element i is kept when its 16-bit draw (kernels/philox.h, RandomKind::
// DropoutKeep) is below the keep probability 1 - p rounded up to a multiple
// of 2^-16. On the CPU the forward keeps the mask as one bit per element for
// the backward (a sixteenth of a bfloat16 tensor); elsewhere the backward
// draws it again from the same Philox state (kernels::DropoutMask).
Tensor dropout(const Tensor& t, double p, bool training, Generator* generator) {
  detail::check_defined(t, "dropout");
  check_dropout_p(p);
  if (!training || p == 0) return t;
  if (p == 1) return t * zeros_like(t);
  return apply_dropout_mask(t, Tensor(), reserve_dropout_mask(t.numel(), p, generator));
}

Tensor dropout_add(const Tensor& t, const Tensor& residual, double p, bool training,
                   Generator* generator) {
  check_dropout_p(p);
  const bool fused = training && p > 0 && p < 1 && residual.defined() &&
                     residual.shape() == t.shape() && residual.dtype() == t.dtype();
  if (!fused) return residual + dropout(t, p, training, generator);
  return apply_dropout_mask(t, residual, reserve_dropout_mask(t.numel(), p, generator));
}

namespace {

// dropout_add_layer_norm after autocast. With `widened_block`, t is a
// 16-bit block that autocast would cast to residual's float32: the kernel
// reads it so (and rounds its gradient as the cast's backward would),
// without the cast's two copies.
Tensor add_dropped_norm(const Tensor& t, const Tensor& residual, double p, bool training,
                        Generator* generator, const Shape& normalized_shape, const Tensor& weight,
                        const Tensor& bias, double eps, bool widened_block) {
  check_dropout_p(p);
  const bool fused = training && p > 0 && p < 1 && t.defined() && residual.defined() &&
                     residual.shape() == t.shape() &&
                     (residual.dtype() == t.dtype() || widened_block);
  if (!fused && widened_block) {
    return add_dropped_norm(t.to(residual.dtype()), residual, p, training, generator,
                            normalized_shape, weight, bias, eps, false);
  }
  if (!fused) {
    return layer_norm(dropout_add(t, residual, p, training, generator), normalized_shape, weight,
                      bias, eps);
  }
  kernels::DropoutMask mask = reserve_dropout_mask(t.numel(), p, generator);
  const bool recorded = needs_grad(t, residual, weight, bias);
  const Tensor keep_bits =
      recorded ? keep_bits_for(mask, t.numel(), t, detail::shape_numel(normalized_shape))
               : Tensor();
  native::DropoutAddLayerNormForward forward = native::dropout_add_layer_norm_forward(
      t, residual, mask, normalized_shape, weight, bias, eps);
  Tensor out = forward.out;
  if (!recorded) return out;
  // x = residual + dropout(t) is kept (as layer_norm keeps its input), and
  // the mask as keep bits or regenerated. The residual's gradient is x's,
  // t's the masked one.
  const std::optional<DType> block_dtype =
      widened_block ? std::optional<DType>(t.dtype()) : std::nullopt;
  record(Op::dropout_add_layer_norm, out, {t, residual, weight, bias},
         [normalized_shape, mask = drawn(mask), keep_bits, block_dtype, x = SavedTensor(forward.x),
          weight = SavedTensor(weight), bias = SavedTensor(bias), mean = SavedTensor(forward.mean),
          rstd = SavedTensor(forward.rstd),
          need_affine = weight.requires_grad() || bias.requires_grad()](const Tensor& g) -> Grads {
           native::LayerNormGrads grads = native::layer_norm_backward(
               g, x.get(), normalized_shape, mean.get(), rstd.get(), weight.get(), bias.get(),
               need_affine, &mask, block_dtype);
           return {grads.block, grads.x, grads.weight, grads.bias};
         });
  return out;
}

}  // namespace

Tensor dropout_add_layer_norm(const Tensor& t, const Tensor& residual, double p, bool training,
                              Generator* generator, const Shape& normalized_shape,
                              const Tensor& weight, const Tensor& bias, double eps) {
  constexpr auto kAutocast = autocast::Op::dropout_add_layer_norm;
  if (!autocast::casts(kAutocast, t, residual, weight, bias)) {
    return add_dropped_norm(t, residual, p, training, generator, normalized_shape, weight, bias,
                            eps, false);
  }
  // On the CPU a 16-bit block (a Linear's output) goes to the kernel as it
  // is: it reads the block as float32 and writes its gradient rounded.
  const Tensor sums = autocast::input(kAutocast, residual);
  const bool widened = t.defined() && t.device().is_cpu() && sums.dtype() == kFloat32 &&
                       (t.dtype() == kBFloat16 || t.dtype() == kFloat16);
  return add_dropped_norm(widened ? t : autocast::input(kAutocast, t), sums, p, training, generator,
                          normalized_shape, autocast::input(kAutocast, weight),
                          autocast::input(kAutocast, bias), eps, widened);
}

}  // namespace toadstool
