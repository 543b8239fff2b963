// scaled_dot_product_attention and its packed self-attention form: the
// fused kernel forward, and its fused backward (recomputing the
// probabilities from the saved log-sum-exp).
#include "toadstool/autograd/autocast.h"
#include "toadstool/autograd/ops.h"
#include "toadstool/autograd/record.h"

namespace toadstool {

using autograd::Grads;
using autograd::needs_grad;
using autograd::Op;
using autograd::record;
using autograd::SavedTensor;

namespace {

// The mask is data (padding, causality), not a parameter: a float mask that
// requires grad would need the [..., L, S] score gradient, which the fused
// op never forms.
void check_mask_gets_no_grad(const AttentionOptions& options, const char* op) {
  TS_CHECK(!(options.attn_mask.defined() && options.attn_mask.requires_grad()), op,
           ": attn_mask gets no gradient; detach it (or build the attention from matmul and "
           "softmax)");
}

// What the backward needs of the forward: out and lse in the compute dtype,
// the mask (with its version), the generator state of the dropout mask (on
// the CPU also its keep bits, one bit per score); nothing [L, S]-sized in
// floats.
class SavedForward {
 public:
  SavedForward(const native::AttentionForward& forward, const AttentionOptions& options)
      : out_(forward.out),
        lse_(forward.lse),
        mask_(options.attn_mask),
        state_(forward.dropout_state),
        keep_bits_(forward.keep_bits),
        options_(options) {
    options_.generator = nullptr;
    options_.attn_mask = Tensor();  // saved apart, with its version
  }
  native::AttentionForward forward() const { return {out_.get(), lse_.get(), state_, keep_bits_}; }
  AttentionOptions options() const {
    AttentionOptions o = options_;
    o.attn_mask = mask_.get();
    return o;
  }

 private:
  SavedTensor out_, lse_, mask_;
  Generator::State state_;
  Tensor keep_bits_;
  AttentionOptions options_;
};

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& options) {
  if (autocast::casts(autocast::Op::scaled_dot_product_attention, q, k, v))
    return scaled_dot_product_attention(
        autocast::input(autocast::Op::scaled_dot_product_attention, q),
        autocast::input(autocast::Op::scaled_dot_product_attention, k),
        autocast::input(autocast::Op::scaled_dot_product_attention, v), options);
  if (!needs_grad(q, k, v)) return native::scaled_dot_product_attention(q, k, v, options);
  check_mask_gets_no_grad(options, "scaled_dot_product_attention");
  native::AttentionForward forward = native::scaled_dot_product_attention_forward(q, k, v, options);
  Tensor out = native::to_dtype(forward.out, q.dtype());  // itself unless float16 / bfloat16
  const SavedForward saved(forward, options);
  record(Op::scaled_dot_product_attention, out, {q, k, v},
         [q = SavedTensor(q), k = SavedTensor(k), v = SavedTensor(v),
          saved](const Tensor& g) -> Grads {
           const native::AttentionGrads grads = native::scaled_dot_product_attention_backward(
               g, q.get(), k.get(), v.get(), saved.forward(), saved.options());
           return {grads.q, grads.k, grads.v};
         });
  return out;
}

Tensor scaled_dot_product_attention_packed(const Tensor& qkv, int64_t num_heads,
                                           const AttentionOptions& options) {
  if (autocast::casts(autocast::Op::scaled_dot_product_attention_packed, qkv))
    return scaled_dot_product_attention_packed(
        autocast::input(autocast::Op::scaled_dot_product_attention_packed, qkv), num_heads,
        options);
  if (!needs_grad(qkv)) return native::scaled_dot_product_attention_packed(qkv, num_heads, options);
  check_mask_gets_no_grad(options, "scaled_dot_product_attention_packed");
  native::AttentionForward forward =
      native::scaled_dot_product_attention_packed_forward(qkv, num_heads, options);
  Tensor out = native::to_dtype(forward.out, qkv.dtype());
  if (!options.sequence_offsets.defined()) out = native::merge_heads(out);  // [N, E] already
  const SavedForward saved(forward, options);
  record(Op::scaled_dot_product_attention_packed, out, {qkv},
         [qkv = SavedTensor(qkv), num_heads, saved](const Tensor& g) -> Grads {
           return {native::scaled_dot_product_attention_packed_backward(
               g, qkv.get(), num_heads, saved.forward(), saved.options())};
         });
  return out;
}

}  // namespace toadstool
