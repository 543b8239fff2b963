// scaled_dot_product_attention: the fused kernel forward, and its fused
// backward (recomputing the probabilities from the saved log-sum-exp).
#include "toadstool/autograd/autocast.h"
#include "toadstool/autograd/ops.h"
#include "toadstool/autograd/record.h"

namespace toadstool {

using autograd::Grads;
using autograd::needs_grad;
using autograd::Op;
using autograd::record;
using autograd::SavedTensor;

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& options) {
  if (autocast::casts(autocast::Op::scaled_dot_product_attention, q, k, v))
    return scaled_dot_product_attention(
        autocast::input(autocast::Op::scaled_dot_product_attention, q),
        autocast::input(autocast::Op::scaled_dot_product_attention, k),
        autocast::input(autocast::Op::scaled_dot_product_attention, v), options);
  if (!needs_grad(q, k, v)) return native::scaled_dot_product_attention(q, k, v, options);
  // The mask is data (padding, causality), not a parameter: a float mask that
  // requires grad would need the [..., L, S] score gradient, which the fused
  // op never forms.
  TS_CHECK(!(options.attn_mask.defined() && options.attn_mask.requires_grad()),
           "scaled_dot_product_attention: attn_mask gets no gradient; detach it (or build the "
           "attention from matmul and softmax)");
  native::AttentionForward forward = native::scaled_dot_product_attention_forward(q, k, v, options);
  const SavedTensor saved_out(forward.out);
  Tensor out = native::to_dtype(forward.out, q.dtype());  // itself unless float16 / bfloat16
  // Saved: the inputs, the mask, out and lse in the compute dtype, and the
  // generator state of the dropout mask (on the CPU also its keep bits, one
  // bit per score); nothing [L, S]-sized in floats.
  AttentionOptions saved = options;
  saved.generator = nullptr;
  saved.attn_mask = Tensor();  // saved apart, with its version
  record(Op::scaled_dot_product_attention, out, {q, k, v},
         [q = SavedTensor(q), k = SavedTensor(k), v = SavedTensor(v),
          mask = SavedTensor(options.attn_mask), saved_out, lse = SavedTensor(forward.lse),
          state = forward.dropout_state, keep_bits = forward.keep_bits,
          saved](const Tensor& g) -> Grads {
           AttentionOptions opts = saved;
           opts.attn_mask = mask.get();
           const native::AttentionGrads grads = native::scaled_dot_product_attention_backward(
               g, q.get(), k.get(), v.get(),
               native::AttentionForward{saved_out.get(), lse.get(), state, keep_bits}, opts);
           return {grads.q, grads.k, grads.v};
         });
  return out;
}

}  // namespace toadstool
