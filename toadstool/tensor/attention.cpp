// Front-ends of the fused scaled-dot-product attention: argument checks,
// layout (strided heads are read in place), mask conversion, dispatch to
// the kernel table's attention entries.
#include "toadstool/tensor/attention.h"

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "toadstool/kernels/philox.h"
#include "toadstool/tensor/dispatch.h"
#include "toadstool/tensor/elementwise.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/native_ops.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool::native {

namespace {

// t's strides over the leading (batch, head) dims: where its heads are.
kernels::HeadStrides head_strides(const Tensor& t, int64_t batch_dims) {
  kernels::HeadStrides s;
  for (int64_t d = 0; d < batch_dims; ++d) s.strides[d] = t.stride(d);
  return s;
}

// An operand the kernel reads in place: rows at any stride, elements
// contiguous. Head-split projections ([B, L, H, E] viewed as [B, H, L, E])
// qualify as they are; anything else (a transposed last dim) is copied.
struct Operand {
  Tensor t;  // in the kernel's dtype (Prepared::storage)
  kernels::HeadStrides heads;
  int64_t row = 0;
};
Operand operand(const Tensor& t, DType storage) {
  Tensor c = to_dtype(t, storage);
  if (c.size(-1) > 1 && c.stride(-1) != 1) c = contiguous(c);
  return {c, head_strides(c, c.dim() - 2), c.stride(-2)};
}

// The most memory a forward keeps its dropout keep bits in (1 MiB per layer
// of the IMDB model, 16 MiB = 2^27 scores).
constexpr int64_t kMaxKeepBitsBytes = int64_t{16} << 20;

// The checked, laid-out arguments shared by the forward and the backward.
struct Prepared {
  DType dtype, compute;
  // What q, k, v, out, grad_out and the gradients are passed to the kernel
  // in: 16-bit inputs of one dtype stay 16-bit (the CPU's kernel widens
  // them tile by tile, kernels/cpu/attention.h; CUDA multiplies them on
  // tensor cores, kernels/cuda/attention_tiled.cu); everything else in the
  // compute dtype. The mask and lse are always in the compute dtype.
  DType storage;
  Shape batch;  // the leading dims
  int64_t heads = 1, L = 0, S = 0, E = 0, Ev = 0;
  Operand q, k, v;
  Tensor mask;  // additive, expanded to [..., L, S] (stride-0 broadcast dims), or undefined
  kernels::HeadStrides mask_heads;
  bool skip_padded_queries = false;  // the kernel skips them (CPU)
  kernels::HeadStrides out_heads;    // of the tensor given to use_out_layout
  int64_t out_row = 0;
  // The backward's gradients (use_grad_layouts).
  kernels::HeadStrides grad_q_heads, grad_k_heads, grad_v_heads;
  int64_t grad_q_row = 0, grad_k_row = 0, grad_v_row = 0;
  double scale = 1;
  // Packed sequences (prepare_packed_sequences): their offsets, kept alive.
  Tensor sequence_offsets;
  const int64_t* seq_offsets = nullptr;

  // out (and grad_out) as the kernel gets them.
  void use_out_layout(const Tensor& out) {
    out_heads = head_strides(out, static_cast<int64_t>(batch.size()));
    out_row = out.stride(-2);
  }
  // The gradients the backward writes: rows at any stride, elements
  // contiguous.
  void use_grad_layouts(const AttentionGrads& g) {
    const auto n = static_cast<int64_t>(batch.size());
    grad_q_heads = head_strides(g.q, n);
    grad_k_heads = head_strides(g.k, n);
    grad_v_heads = head_strides(g.v, n);
    grad_q_row = g.q.stride(-2);
    grad_k_row = g.k.stride(-2);
    grad_v_row = g.v.stride(-2);
  }

  kernels::AttentionCall call(const AttentionOptions& options, const Generator::State& state,
                              const Tensor& keep_bits) const {
    kernels::AttentionCall a;
    a.heads = heads;
    a.batch.ndim = static_cast<int>(batch.size());
    for (size_t d = 0; d < batch.size(); ++d) a.batch.sizes[d] = batch[d];
    a.L = L;
    a.S = S;
    a.E = E;
    a.Ev = Ev;
    a.q = q.t.data_ptr();
    a.q_heads = q.heads;
    a.q_row = q.row;
    a.k = k.t.data_ptr();
    a.k_heads = k.heads;
    a.k_row = k.row;
    a.v = v.t.data_ptr();
    a.v_heads = v.heads;
    a.v_row = v.row;
    a.out_heads = out_heads;
    a.out_row = out_row;
    a.grad_q_heads = grad_q_heads;
    a.grad_q_row = grad_q_row;
    a.grad_k_heads = grad_k_heads;
    a.grad_k_row = grad_k_row;
    a.grad_v_heads = grad_v_heads;
    a.grad_v_row = grad_v_row;
    if (mask.defined()) {
      a.mask = mask.data_ptr();
      a.mask_heads = mask_heads;
      a.mask_row = mask.stride(-2);
      a.mask_col = mask.stride(-1);
    }
    a.causal = options.is_causal;
    a.skip_padded_queries = skip_padded_queries;
    a.scale = scale;
    a.dropout_p = options.dropout_p;
    a.seed = state.seed;
    a.offset = state.offset;
    if (keep_bits.defined()) a.keep_bits = static_cast<uint64_t*>(keep_bits.data_ptr());
    a.seq_offsets = seq_offsets;
    return a;
  }
};

void check_dropout_p(const AttentionOptions& options, const char* op) {
  TS_CHECK(options.dropout_p >= 0 && options.dropout_p < 1, op,
           ": dropout_p must be in [0, 1), got ", options.dropout_p);
}

// The scores' scale: the option's, default 1 / sqrt(E).
double checked_scale(const AttentionOptions& options, int64_t E, const char* op) {
  const double scale = options.scale ? *options.scale : 1.0 / std::sqrt(static_cast<double>(E));
  TS_CHECK(std::isfinite(scale), op, ": scale must be finite, got ", scale);
  return scale;
}

Prepared prepare(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options,
                 const char* op) {
  for (const Tensor* t : {&q, &k, &v}) detail::check_defined(*t, op);
  detail::common_device(op, {&q, &k, &v, &options.attn_mask});
  TS_CHECK(is_floating(q.dtype()) && q.dtype() == k.dtype() && q.dtype() == v.dtype(), op,
           ": q, k and v must have one floating dtype, got q ", detail::describe(q), ", k ",
           detail::describe(k), ", v ", detail::describe(v));
  TS_CHECK(q.dim() >= 2 && q.dim() == k.dim() && q.dim() == v.dim(), op,
           ": expected q [..., L, E], k [..., S, E] and v [..., S, Ev] with the same number of "
           "dims (at least 2), got q ",
           detail::describe(q), ", k ", detail::describe(k), ", v ", detail::describe(v));
  Prepared p;
  p.batch = Shape(q.shape().begin(), q.shape().end() - 2);
  TS_CHECK(p.batch.size() <= static_cast<size_t>(kernels::kMaxAttentionBatchDims), op, ": at most ",
           kernels::kMaxAttentionBatchDims, " leading (batch, head) dims, got q ",
           detail::describe(q));
  TS_CHECK(Shape(k.shape().begin(), k.shape().end() - 2) == p.batch &&
               Shape(v.shape().begin(), v.shape().end() - 2) == p.batch,
           op, ": q, k and v must have the same leading (batch, head) dims, got q ",
           detail::describe(q), ", k ", detail::describe(k), ", v ", detail::describe(v));
  p.L = q.size(-2);
  p.S = k.size(-2);
  p.E = q.size(-1);
  p.Ev = v.size(-1);
  TS_CHECK(k.size(-1) == p.E, op, ": q and k must have the same last dim E, got q ",
           detail::describe(q), " and k ", detail::describe(k));
  TS_CHECK(v.size(-2) == p.S, op, ": k and v must have the same number of keys S, got k ",
           detail::describe(k), " and v ", detail::describe(v));
  check_dropout_p(options, op);
  TS_CHECK(!(options.is_causal && options.attn_mask.defined()), op,
           ": attn_mask must not be given together with is_causal");
  p.scale = checked_scale(options, p.E, op);
  p.dtype = q.dtype();
  p.compute = detail::compute_dtype(q.dtype());
  p.storage = is_reduced_float(q.dtype()) && k.dtype() == q.dtype() && v.dtype() == q.dtype()
                  ? q.dtype()
                  : p.compute;
  p.heads = detail::shape_numel(p.batch);
  p.q = operand(q, p.storage);
  p.k = operand(k, p.storage);
  p.v = operand(v, p.storage);

  if (options.attn_mask.defined()) {
    const Tensor& m = options.attn_mask;
    TS_CHECK(m.dtype() == DType::Bool || is_floating(m.dtype()), op,
             ": attn_mask must be bool or floating, got ", detail::describe(m));
    Shape scores = p.batch;
    scores.push_back(p.L);
    scores.push_back(p.S);
    bool fits = m.dim() <= static_cast<int64_t>(scores.size());
    for (int64_t d = 1; fits && d <= m.dim(); ++d) {
      const int64_t size = m.size(-d);
      fits = size == 1 || size == scores[scores.size() - d];
    }
    TS_CHECK(fits, op, ": attn_mask ", detail::describe(m),
             " does not broadcast to the scores [..., L, S] = ", scores);
    // A bool mask becomes additive: 0 where the key takes part, -inf where not.
    const Tensor zero = zeros({}, TensorOptions(p.compute).device(m.device()));
    const double inf = std::numeric_limits<double>::infinity();
    Tensor additive = m.dtype() == DType::Bool ? where(m, zero, -inf) : to_dtype(m, p.compute);
    if (options.skip_padded_queries) {
      TS_CHECK(p.L == p.S && (m.dim() < 2 || m.size(-2) == 1), op,
               ": skip_padded_queries needs self-attention (L == S) and an attn_mask of one row "
               "for every query [..., 1, S], got L = ",
               p.L, ", S = ", p.S, " and attn_mask ", detail::describe(m));
      if (q.device().is_cpu()) {
        p.skip_padded_queries = true;
      } else {
        // The hidden queries' rows hide every key: the key row [..., 1, S]
        // plus its -inf entries as a column [..., S, 1] gives [..., L, S].
        const Tensor row = additive.dim() >= 2 ? additive : additive.view({1, p.S});
        additive = add(row, where(ne(transpose(row, -1, -2), -inf), zero, -inf));
      }
    }
    p.mask = expand(additive, scores);
    p.mask_heads = head_strides(p.mask, static_cast<int64_t>(p.batch.size()));
  }
  TS_CHECK(!options.skip_padded_queries || options.attn_mask.defined(), op,
           ": skip_padded_queries needs an attn_mask (the key padding)");
  return p;
}

Shape with_last_two(Shape batch, int64_t a, int64_t b) {
  batch.push_back(a);
  batch.push_back(b);
  return batch;
}

// out [..., L, Ev] in the layout the kernel writes: with two or more
// leading dims (batch, heads), L sits before the last of them ([B, L, H,
// Ev] viewed as [B, H, L, Ev]), so that merging the heads
// (transpose(1, 2).reshape([B, L, H Ev])) is a view, not a copy.
bool heads_interleaved(const Prepared& p) { return p.batch.size() >= 2; }

// The memory order of that layout: [..., L, Ev], or [..., L, H, Ev].
Shape physical_output_shape(const Prepared& p) {
  if (!heads_interleaved(p)) return with_last_two(p.batch, p.L, p.Ev);
  Shape physical(p.batch.begin(), p.batch.end() - 1);
  physical.push_back(p.L);
  physical.push_back(p.batch.back());
  physical.push_back(p.Ev);
  return physical;
}

Tensor new_output(const Prepared& p, DType dtype, Device device) {
  const Tensor t = detail::make_tensor(physical_output_shape(p), dtype, device);
  return heads_interleaved(p) ? transpose(t, -3, -2) : t;
}

// The strides of new_output's tensors, without allocating one.
Shape output_strides(const Prepared& p) {
  Shape strides = detail::contiguous_strides(physical_output_shape(p));
  if (heads_interleaved(p)) std::swap(strides[strides.size() - 3], strides[strides.size() - 2]);
  return strides;
}

// t [..., L, Ev] in the kernel's dtype and in new_output's layout: itself
// when it has it (the forward's out; a gradient that comes from merging
// the heads), else a copy.
Tensor in_output_layout(const Tensor& t, const Prepared& p) {
  Tensor c = to_dtype(t, p.storage);
  if (c.strides() == output_strides(p)) return c;
  Tensor layout = new_output(p, p.storage, c.device());
  copy_(layout, c);
  return layout;
}

}  // namespace

namespace {

// The forward of p into `out` (new_output's layout, or a packed
// sequences' [N, E]).
AttentionForward forward_into(const Prepared& p, Tensor out, const AttentionOptions& options,
                              Device device) {
  AttentionForward result;
  if (options.dropout_p > 0) {
    // The mask of score element i (flat over [..., L, S]) is the i-th keep
    // draw of dropout() over that shape: reserve its blocks now.
    Generator& g = options.generator != nullptr ? *options.generator : default_generator();
    const uint64_t blocks =
        kernels::philox_blocks_used(p.heads * p.L * p.S, kernels::RandomKind::DropoutKeep);
    result.dropout_state.offset = g.reserve(blocks);
    result.dropout_state.seed = g.seed();
    // One bit per score is quadratic in the sequence: kept up to a bound,
    // drawn again beyond it (as on CUDA), so long sequences stay O(L).
    const int64_t words = p.heads * p.L * kernels::attention_keep_words(p.S);
    if (device.type == DeviceType::CPU && words * 8 <= kMaxKeepBitsBytes) {
      result.keep_bits = detail::make_tensor({words}, DType::Int64, device);
    }
  }
  Shape lse_shape = p.batch;
  lse_shape.push_back(p.L);
  result.out = std::move(out);
  result.lse = detail::make_tensor(lse_shape, p.compute, device);
  TS_KERNEL(device, attention_forward, p.storage,
            p.call(options, result.dropout_state, result.keep_bits), result.out.data_ptr(),
            result.lse.data_ptr());
  return result;
}

}  // namespace

AttentionForward scaled_dot_product_attention_forward(const Tensor& q, const Tensor& k,
                                                      const Tensor& v,
                                                      const AttentionOptions& options) {
  Prepared p = prepare(q, k, v, options, "scaled_dot_product_attention");
  Tensor out = new_output(p, p.storage, q.device());
  p.use_out_layout(out);
  return forward_into(p, std::move(out), options, q.device());
}

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& options) {
  const Tensor out = scaled_dot_product_attention_forward(q, k, v, options).out;
  return detail::finish_result(out, q.dtype());
}

namespace {

// A backward's grad_out and the forward's results for p, whose output has
// out_shape.
void check_backward_inputs(const Prepared& p, const Tensor& grad_out,
                           const AttentionForward& forward, const Shape& out_shape,
                           const char* op) {
  TS_CHECK(grad_out.defined() && grad_out.shape() == out_shape, op, ": gradient ",
           detail::describe(grad_out), " does not match the output ", out_shape);
  TS_CHECK(forward.out.shape() == out_shape && forward.out.dtype() == p.storage &&
               forward.lse.numel() == p.heads * p.L && forward.lse.dtype() == p.compute,
           op, ": out and lse must be the forward's, got ", detail::describe(forward.out), " and ",
           detail::describe(forward.lse));
  TS_CHECK(!forward.keep_bits.defined() ||
               forward.keep_bits.numel() == p.heads * p.L * kernels::attention_keep_words(p.S),
           op, ": keep_bits must be the forward's, got ", detail::describe(forward.keep_bits));
}

// The backward into `into` (p.storage, the shapes of q, k, v; any row
// strides, elements contiguous: AttentionGrads or views of one packed
// gradient).
void backward_into(Prepared& p, const Tensor& grad_out, const Tensor& q,
                   const AttentionForward& forward, const AttentionOptions& options,
                   const AttentionGrads& into, const char* op) {
  check_backward_inputs(p, grad_out, forward, with_last_two(p.batch, p.L, p.Ev), op);
  const Tensor go = in_output_layout(grad_out, p);
  const Tensor out = in_output_layout(forward.out, p);
  p.use_out_layout(out);
  p.use_grad_layouts(into);
  const Tensor lse = contiguous(forward.lse);
  const Device device = detail::common_device(op, {&q, &grad_out, &forward.out, &forward.lse});
  TS_KERNEL(device, attention_backward, p.storage,
            p.call(options, forward.dropout_state, forward.keep_bits), out.data_ptr(),
            lse.data_ptr(), go.data_ptr(), into.q.data_ptr(), into.k.data_ptr(), into.v.data_ptr());
}

// qkv [B, L, 3E] (q, k and v side by side, as one projection GEMM makes
// them) -> q, k, v [B, H, L, E / H]: views.
AttentionGrads packed_heads(const Tensor& qkv, int64_t num_heads, const char* op) {
  detail::check_defined(qkv, op);
  TS_CHECK(qkv.dim() == 3 && num_heads > 0 && qkv.size(2) % (3 * num_heads) == 0, op,
           ": expected qkv [batch, length, 3 * embed_dim] with embed_dim a multiple of num_heads=",
           num_heads, ", got ", detail::describe(qkv));
  const int64_t batch = qkv.size(0), len = qkv.size(1), embed = qkv.size(2) / 3;
  auto part = [&](int64_t n) {
    return transpose(
        view(narrow(qkv, 2, n * embed, embed), {batch, len, num_heads, embed / num_heads}), 1, 2);
  };
  return {part(0), part(1), part(2)};
}

// Packed sequences (AttentionOptions::sequence_offsets): qkv [N, 3E] as
// the kernel reads it, heads [B, H] whose rows start at each sequence's
// offset (AttentionArgs::seq_offsets); the out (and grad_out) layout [N, E]
// and the gradient's [N, 3E] are set here too.
Prepared prepare_packed_sequences(const Tensor& qkv, int64_t num_heads,
                                  const AttentionOptions& options, const char* op) {
  detail::check_defined(qkv, op);
  const Tensor& offsets = options.sequence_offsets;
  TS_CHECK(qkv.device().is_cpu() && offsets.device().is_cpu(), op,
           ": packed sequences are a CPU form, got qkv ", detail::describe(qkv), " and offsets ",
           detail::describe(offsets));
  TS_CHECK(is_floating(qkv.dtype()) && qkv.dim() == 2 && num_heads > 0 &&
               qkv.size(1) % (3 * num_heads) == 0,
           op, ": expected qkv [tokens, 3 * embed_dim] (floating) with embed_dim a multiple of ",
           "num_heads=", num_heads, ", got ", detail::describe(qkv));
  TS_CHECK(offsets.dtype() == kInt64 && offsets.dim() == 1 && offsets.numel() >= 1, op,
           ": sequence_offsets must be int64 [batch + 1], got ", detail::describe(offsets));
  TS_CHECK(!options.attn_mask.defined() && !options.is_causal && !options.skip_padded_queries, op,
           ": packed sequences take no attn_mask, is_causal or skip_padded_queries");
  check_dropout_p(options, op);
  const Tensor starts = contiguous(offsets);
  const int64_t* at = starts.data_ptr<int64_t>();
  const int64_t batch = starts.numel() - 1, tokens = qkv.size(0), length = options.sequence_length;
  bool ordered = at[0] == 0 && at[batch] == tokens && length >= 0;
  for (int64_t b = 0; ordered && b < batch; ++b) {
    ordered = at[b] <= at[b + 1] && at[b + 1] - at[b] <= length;
  }
  TS_CHECK(ordered, op, ": sequence_offsets must go from 0 to the ", tokens,
           " tokens without decreasing, each sequence at most sequence_length=", length,
           " long, got ", detail::describe(offsets));
  Prepared p;
  p.batch = {batch, num_heads};
  p.heads = batch * num_heads;
  p.L = p.S = length;
  const int64_t embed = qkv.size(1) / 3;
  p.E = p.Ev = embed / num_heads;
  p.dtype = qkv.dtype();
  p.compute = detail::compute_dtype(qkv.dtype());
  p.storage = is_reduced_float(qkv.dtype()) ? qkv.dtype() : p.compute;
  p.scale = checked_scale(options, p.E, op);
  const Tensor stored = contiguous(to_dtype(qkv, p.storage));
  // Head (b, h) of part n: row 0 at the sequence's offset (the kernel adds
  // it), column n E + h E / H; rows 3E apart.
  const kernels::HeadStrides heads{{0, p.E}};
  auto part = [&](int64_t n) {
    return Operand{narrow(stored, 1, n * embed, embed), heads, 3 * embed};
  };
  p.q = part(0);
  p.k = part(1);
  p.v = part(2);
  p.out_heads = heads;
  p.out_row = embed;
  p.grad_q_heads = p.grad_k_heads = p.grad_v_heads = heads;
  p.grad_q_row = p.grad_k_row = p.grad_v_row = 3 * embed;
  p.sequence_offsets = starts;
  p.seq_offsets = at;
  return p;
}

// scaled_dot_product_attention_packed_backward over packed sequences:
// grad_out [N, E] -> the gradient of qkv [N, 3E].
Tensor packed_sequences_backward(const Tensor& grad_out, const Tensor& qkv, int64_t num_heads,
                                 const AttentionForward& forward, const AttentionOptions& options,
                                 const char* op) {
  const Prepared p = prepare_packed_sequences(qkv, num_heads, options, op);
  check_backward_inputs(p, grad_out, forward, {qkv.size(0), p.out_row}, op);
  // grad_out and out in one layout, [N, E] contiguous.
  const Tensor go = contiguous(to_dtype(grad_out, p.storage));
  const Tensor out = contiguous(forward.out);
  const Tensor lse = contiguous(forward.lse);
  const Tensor grad = detail::make_tensor(qkv.shape(), p.storage, qkv.device());
  const int64_t embed = p.out_row;
  TS_KERNEL(qkv.device(), attention_backward, p.storage,
            p.call(options, forward.dropout_state, forward.keep_bits), out.data_ptr(),
            lse.data_ptr(), go.data_ptr(), grad.data_ptr(),
            narrow(grad, 1, embed, embed).data_ptr(), narrow(grad, 1, 2 * embed, embed).data_ptr());
  return detail::finish_result(grad, qkv.dtype());
}

}  // namespace

Tensor merge_heads(const Tensor& out) {
  return reshape(transpose(out, 1, 2), {out.size(0), out.size(2), out.size(1) * out.size(3)});
}

AttentionGrads scaled_dot_product_attention_backward(const Tensor& grad_out, const Tensor& q,
                                                     const Tensor& k, const Tensor& v,
                                                     const AttentionForward& forward,
                                                     const AttentionOptions& options) {
  const char* op = "scaled_dot_product_attention_backward";
  Prepared p = prepare(q, k, v, options, op);
  const Device device = q.device();
  AttentionGrads grads{detail::make_tensor(with_last_two(p.batch, p.L, p.E), p.storage, device),
                       detail::make_tensor(with_last_two(p.batch, p.S, p.E), p.storage, device),
                       detail::make_tensor(with_last_two(p.batch, p.S, p.Ev), p.storage, device)};
  backward_into(p, grad_out, q, forward, options, grads, op);
  grads.q = detail::finish_result(grads.q, p.dtype);
  grads.k = detail::finish_result(grads.k, p.dtype);
  grads.v = detail::finish_result(grads.v, p.dtype);
  return grads;
}

AttentionForward scaled_dot_product_attention_packed_forward(const Tensor& qkv, int64_t num_heads,
                                                             const AttentionOptions& options) {
  const char* op = "scaled_dot_product_attention_packed";
  if (options.sequence_offsets.defined()) {
    const Prepared p = prepare_packed_sequences(qkv, num_heads, options, op);
    Tensor out = detail::make_tensor({qkv.size(0), p.out_row}, p.storage, qkv.device());
    return forward_into(p, std::move(out), options, qkv.device());
  }
  const AttentionGrads heads = packed_heads(qkv, num_heads, op);
  return scaled_dot_product_attention_forward(heads.q, heads.k, heads.v, options);
}

Tensor scaled_dot_product_attention_packed(const Tensor& qkv, int64_t num_heads,
                                           const AttentionOptions& options) {
  const Tensor out = scaled_dot_product_attention_packed_forward(qkv, num_heads, options).out;
  return detail::finish_result(options.sequence_offsets.defined() ? out : merge_heads(out),
                               qkv.dtype());
}

Tensor scaled_dot_product_attention_packed_backward(const Tensor& grad_out, const Tensor& qkv,
                                                    int64_t num_heads,
                                                    const AttentionForward& forward,
                                                    const AttentionOptions& options) {
  const char* op = "scaled_dot_product_attention_packed_backward";
  if (options.sequence_offsets.defined()) {
    return packed_sequences_backward(grad_out, qkv, num_heads, forward, options, op);
  }
  const AttentionGrads heads = packed_heads(qkv, num_heads, op);
  Prepared p = prepare(heads.q, heads.k, heads.v, options, op);
  const int64_t batch = qkv.size(0), len = qkv.size(1), embed = qkv.size(2) / 3;
  const Shape out_shape{batch, len, embed};
  TS_CHECK(grad_out.defined() && grad_out.shape() == out_shape, op, ": gradient ",
           detail::describe(grad_out), " does not match the output ", out_shape);
  // [B, L, E] -> [B, H, L, E / H]: a view of a contiguous gradient.
  const Tensor go_heads =
      transpose(reshape(grad_out, {batch, len, num_heads, embed / num_heads}), 1, 2);
  // One [B, L, 3E] gradient, which the kernel fills through the views of
  // its three parts: no per-part gradients to zero-pad and sum.
  const Tensor grad = detail::make_tensor(qkv.shape(), p.storage, qkv.device());
  backward_into(p, go_heads, heads.q, forward, options, packed_heads(grad, num_heads, op), op);
  return detail::finish_result(grad, qkv.dtype());
}

}  // namespace toadstool::native
