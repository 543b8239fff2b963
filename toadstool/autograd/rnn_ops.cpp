// lstm_layer and gru_layer (autograd/rnn_ops.h): the time loop forward and
// its backpropagation through time, written with the native ops.
#include "toadstool/autograd/rnn_ops.h"

#include <array>
#include <string>

#include "toadstool/autograd/record.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/lstm_cell.h"
#include "toadstool/tensor/native_ops.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool {

using autograd::alias;
using autograd::Grads;
using autograd::needs_grad;
using autograd::Op;
using autograd::record;
using autograd::SavedTensor;

namespace {

namespace nt = native;

// The sizes of one layer's loop: T steps of B sequences, H hidden units.
struct Loop {
  int64_t steps, batch, hidden;
  bool reverse;
  // The time index of the s-th step taken.
  int64_t time(int64_t s) const { return reverse ? steps - 1 - s : s; }
};

std::string shapes(const Tensor& xproj, const Tensor& w_hh, const Tensor& b_hh, const Tensor& h0,
                   const Tensor& c0, const Tensor& mask) {
  std::string text = "xproj " + detail::describe(xproj) + ", w_hh " + detail::describe(w_hh);
  if (b_hh.defined()) text += ", b_hh " + detail::describe(b_hh);
  if (h0.defined()) text += ", h0 " + detail::describe(h0);
  if (c0.defined()) text += ", c0 " + detail::describe(c0);
  if (mask.defined()) text += ", mask " + detail::describe(mask);
  return text;
}

// The shapes, dtypes and devices of one layer's inputs (gates: 4 for the
// LSTM, 3 for the GRU).
Loop check_layer(const char* op, int64_t gates, const Tensor& xproj, const Tensor& w_hh,
                 const Tensor& b_hh, const Tensor& h0, const Tensor& c0, const Tensor& mask,
                 bool reverse) {
  TS_CHECK(xproj.defined() && w_hh.defined(), op, ": xproj and w_hh must be defined");
  const std::string got = shapes(xproj, w_hh, b_hh, h0, c0, mask);
  TS_CHECK(xproj.dim() == 3 && w_hh.dim() == 2 && w_hh.size(0) == gates * w_hh.size(1) &&
               w_hh.size(1) > 0 && xproj.size(2) == w_hh.size(0) && xproj.size(0) > 0,
           op, ": needs xproj [T, B, ", gates, " H] with T > 0 and w_hh [", gates, " H, H], got ",
           got);
  const Loop loop{xproj.size(0), xproj.size(1), w_hh.size(1), reverse};
  const Shape state = {loop.batch, loop.hidden};
  TS_CHECK((!b_hh.defined() || b_hh.shape() == Shape{gates * loop.hidden}) &&
               (!h0.defined() || h0.shape() == state) && (!c0.defined() || c0.shape() == state),
           op, ": needs b_hh [", gates * loop.hidden, "], h0 and c0 [", loop.batch, ", ",
           loop.hidden, "], got ", got);
  TS_CHECK(
      !mask.defined() || (mask.dtype() == kBool && mask.shape() == (Shape{loop.steps, loop.batch})),
      op, ": needs a bool mask [", loop.steps, ", ", loop.batch, "], got ", got);
  TS_CHECK(xproj.dtype() == kFloat32 || xproj.dtype() == kFloat64, op,
           ": needs float32 or float64 tensors, got ", got);
  for (const Tensor* t : {&w_hh, &b_hh, &h0, &c0, &mask}) {
    if (!t->defined()) continue;
    TS_CHECK(t->device() == xproj.device(), op, ": the tensors are on different devices: ", got);
    TS_CHECK(t == &mask || t->dtype() == xproj.dtype(), op,
             ": the tensors have different dtypes: ", got);
  }
  return loop;
}

// h0 (or zeros) as a fresh tensor without autograd state.
Tensor initial_state(const Tensor& given, const Loop& loop, const Tensor& like) {
  if (given.defined()) return nt::contiguous(alias(given));
  return zeros({loop.batch, loop.hidden}, TensorOptions(like.dtype()).device(like.device()));
}

// h W^T + b [B, G H] for the LSTM step, computed as (W h^T)^T: W [G H, H]
// is then the GEMM's A operand, which its micro-kernel reads where it is,
// and h^T [H, B] the small operand it packs (the other way round it would
// pack all of W_hh at every step). The [G H, B] product is transposed
// back (a copy of B G H values).
Tensor lstm_step_product(const Tensor& h, const Tensor& w, const Tensor& b) {
  Tensor out = nt::contiguous(nt::transpose(nt::matmul(w, nt::transpose(h, 0, 1)), 0, 1));
  if (b.defined()) nt::add_(out, b);
  return out;
}

Tensor linear_step(const Tensor& h, const Tensor& w, const Tensor& b) {
  return nt::linear(h, w, b, kernels::GemmActivation::None).out;
}

// dst <- src, for a view dst.
void write(Tensor dst, const Tensor& src) { nt::copy_(dst, src); }

// The masked step's bookkeeping: the new state where the step is real, the
// old one elsewhere, and the output zeroed at padding. m [B, 1] bool.
Tensor keep_where(const Tensor& m, const Tensor& fresh, const Tensor& old) {
  return m.defined() ? nt::where(m, fresh, old) : fresh;
}

// The parameter gradients shared by both ops: dW_hh = dhp^T h_prev over all
// steps at once ([G H, T B] x [T B, H]) and db_hh = the sums of dhp.
// dhp [T, B, G H], h_prev [T, B, H].
void hidden_weight_grads(Grads& grads, const Tensor& dhp, const Tensor& h_prev, bool need_w,
                         bool need_b) {
  const int64_t rows = dhp.size(0) * dhp.size(1);
  const Tensor dhp2 = nt::view(dhp, {rows, dhp.size(2)});
  if (need_w) {
    grads[1] = nt::matmul(nt::transpose(dhp2, 0, 1), nt::view(h_prev, {rows, h_prev.size(2)}));
  }
  if (need_b) grads[2] = nt::sum(dhp2, {0});
}

// a (1 - a): the sigmoid's derivative from its output.
Tensor sigmoid_slope(const Tensor& a) { return nt::mul(a, nt::rsub(a, 1)); }
// 1 - a^2: tanh's derivative from its output.
Tensor tanh_slope(const Tensor& a) { return nt::rsub(nt::mul(a, a), 1); }

}  // namespace

Tensor lstm_layer(const Tensor& xproj, const Tensor& w_hh, const Tensor& b_hh, const Tensor& h0,
                  const Tensor& c0, const Tensor& mask, bool reverse) {
  const Loop loop = check_layer("lstm_layer", 4, xproj, w_hh, b_hh, h0, c0, mask, reverse);
  const int64_t T = loop.steps, B = loop.batch, H = loop.hidden;
  const TensorOptions options = TensorOptions(xproj.dtype()).device(xproj.device());
  Tensor result = empty({T + 2, B, H}, options);
  // Saved for the backward, by time index: the gates after their
  // activations (i, f, g, o), tanh(c'), and the states each step starts
  // from. Each step's kernel writes the next step's starting state in place
  // (the last step's into h_n, c_n), so nothing is copied per step.
  Tensor acts = empty({T, B, 4 * H}, options);
  Tensor tanh_c = empty({T, B, H}, options);
  Tensor h_prev = empty({T, B, H}, options);
  Tensor c_prev = empty({T, B, H}, options);
  const Tensor x = nt::contiguous(alias(xproj));
  const Tensor w = alias(w_hh), b = b_hh.defined() ? alias(b_hh) : Tensor();
  const Tensor m_all = mask.defined() ? nt::contiguous(alias(mask)) : Tensor();  // [T, B]
  write(nt::select(h_prev, 0, loop.time(0)), initial_state(h0, loop, xproj));
  write(nt::select(c_prev, 0, loop.time(0)), initial_state(c0, loop, xproj));
  for (int64_t s = 0; s < T; ++s) {
    const int64_t t = loop.time(s);
    const bool last = s + 1 == T;
    const Tensor hp = nt::select(h_prev, 0, t), cp = nt::select(c_prev, 0, t);
    nt::lstm_cell_forward(
        nt::select(x, 0, t), lstm_step_product(hp, w, b), hp, cp,
        m_all.defined() ? nt::select(m_all, 0, t) : Tensor(), nt::select(acts, 0, t),
        nt::select(tanh_c, 0, t),
        last ? nt::select(result, 0, T) : nt::select(h_prev, 0, loop.time(s + 1)),
        last ? nt::select(result, 0, T + 1) : nt::select(c_prev, 0, loop.time(s + 1)),
        nt::select(result, 0, t));
  }
  if (!needs_grad(xproj, w_hh, b_hh, h0, c0)) return result;
  record(Op::lstm_layer, result, {xproj, w_hh, b_hh, h0, c0},
         [loop, w = SavedTensor(w_hh), m_all = SavedTensor(m_all), acts = SavedTensor(acts),
          tanh_c = SavedTensor(tanh_c), h_prev = SavedTensor(h_prev), c_prev = SavedTensor(c_prev),
          has_b = b_hh.defined(),
          need = std::array<bool, 5>{xproj.requires_grad(), w_hh.requires_grad(),
                                     b_hh.requires_grad(), h0.requires_grad(),
                                     c0.requires_grad()}](const Tensor& g) -> Grads {
           const int64_t T = loop.steps, B = loop.batch, H = loop.hidden;
           const Tensor& masks = m_all.get();
           const TensorOptions options = TensorOptions(g.dtype()).device(g.device());
           const Tensor grad = nt::contiguous(g);  // [T + 2, B, H]
           // dL/d(gates before activation) by time index [T, B, 4H]: the
           // gradient of xproj and of h W_hh^T + b_hh alike.
           Tensor dgates = empty({T, B, 4 * H}, options);
           Tensor dh = nt::contiguous(nt::select(grad, 0, T));
           Tensor dc = nt::contiguous(nt::select(grad, 0, T + 1));
           // W_hh^T [H, 4H] once, its rows padded so that they are not a
           // multiple of 2 KB apart: the GEMM then reads it in place as
           // the A operand of dh_prev^T = W_hh^T dg^T at every step.
           const int64_t G = 4 * H;
           Tensor w_t = nt::narrow(empty({H, G + 16}, options), 1, 0, G);
           write(w_t, nt::transpose(w.get(), 0, 1));
           for (int64_t s = T - 1; s >= 0; --s) {
             const int64_t t = loop.time(s);
             const Tensor m = masks.defined() ? nt::select(masks, 0, t) : Tensor();
             const Tensor dg = nt::select(dgates, 0, t);
             Tensor dc_prev = empty({B, H}, options);
             Tensor dh_skip = m.defined() ? empty({B, H}, options) : Tensor();
             nt::lstm_cell_backward(nt::select(acts.get(), 0, t), nt::select(tanh_c.get(), 0, t),
                                    nt::select(c_prev.get(), 0, t), m, dh, dc,
                                    nt::select(grad, 0, t), dg, dc_prev, dh_skip);
             // dL/dh_prev: through W_hh, and past the step where it was padding.
             Tensor dh_prev =
                 nt::contiguous(nt::transpose(nt::matmul(w_t, nt::transpose(dg, 0, 1)), 0, 1));
             if (m.defined()) nt::add_(dh_prev, dh_skip);
             dh = dh_prev;
             dc = dc_prev;
           }
           Grads grads(5);
           if (need[0]) grads[0] = dgates;
           hidden_weight_grads(grads, dgates, h_prev.get(), need[1], need[2] && has_b);
           if (need[3]) grads[3] = dh;
           if (need[4]) grads[4] = dc;
           return grads;
         });
  return result;
}

Tensor gru_layer(const Tensor& xproj, const Tensor& w_hh, const Tensor& b_hh, const Tensor& h0,
                 const Tensor& mask, bool reverse) {
  const Loop loop = check_layer("gru_layer", 3, xproj, w_hh, b_hh, h0, Tensor(), mask, reverse);
  const int64_t T = loop.steps, B = loop.batch, H = loop.hidden;
  const TensorOptions options = TensorOptions(xproj.dtype()).device(xproj.device());
  Tensor result = empty({T + 1, B, H}, options);
  // Saved for the backward, by time index: r, z, n after their activations,
  // h W_hn^T + b_hn, and the state each step started from.
  Tensor acts = empty({T, B, 3 * H}, options);
  Tensor hn_all = empty({T, B, H}, options);
  Tensor h_prev = empty({T, B, H}, options);
  const Tensor x = alias(xproj), w = alias(w_hh), b = b_hh.defined() ? alias(b_hh) : Tensor();
  const Tensor m_all = mask.defined() ? nt::unsqueeze(alias(mask), 2) : Tensor();  // [T, B, 1]
  Tensor h = initial_state(h0, loop, xproj);
  for (int64_t s = 0; s < T; ++s) {
    const int64_t t = loop.time(s);
    write(nt::select(h_prev, 0, t), h);
    const Tensor hp = linear_step(h, w, b);  // [B, 3H]: h_r, h_z, h_n
    const Tensor xt = nt::select(x, 0, t);
    const Tensor a = nt::select(acts, 0, t);
    write(nt::narrow(a, 1, 0, 2 * H),
          nt::sigmoid(nt::add(nt::narrow(xt, 1, 0, 2 * H), nt::narrow(hp, 1, 0, 2 * H))));
    const Tensor hn = nt::select(hn_all, 0, t);
    write(hn, nt::narrow(hp, 1, 2 * H, H));
    const Tensor r = nt::narrow(a, 1, 0, H), z = nt::narrow(a, 1, H, H);
    const Tensor n = nt::narrow(a, 1, 2 * H, H);
    write(n, nt::tanh(nt::add(nt::narrow(xt, 1, 2 * H, H), nt::mul(r, hn))));
    // (1 - z) n + z h = n + z (h - n)
    const Tensor h_new = nt::add(n, nt::mul(z, nt::sub(h, n)));
    const Tensor m = mask.defined() ? nt::select(m_all, 0, t) : Tensor();
    write(nt::select(result, 0, t), m.defined() ? nt::where(m, h_new, 0) : h_new);
    h = keep_where(m, h_new, h);
  }
  write(nt::select(result, 0, T), h);
  if (!needs_grad(xproj, w_hh, b_hh, h0)) return result;
  record(
      Op::gru_layer, result, {xproj, w_hh, b_hh, h0},
      [loop, w = SavedTensor(w_hh), m_all = SavedTensor(m_all), acts = SavedTensor(acts),
       hn_all = SavedTensor(hn_all), h_prev = SavedTensor(h_prev), has_b = b_hh.defined(),
       need = std::array<bool, 4>{xproj.requires_grad(), w_hh.requires_grad(), b_hh.requires_grad(),
                                  h0.requires_grad()}](const Tensor& g) -> Grads {
        const int64_t T = loop.steps, H = loop.hidden;
        const Tensor& weight = w.get();
        const Tensor& masks = m_all.get();
        const TensorOptions options = TensorOptions(g.dtype()).device(g.device());
        // By time index, [T, B, 3H]: dL/dxproj (r, z and n before their
        // activations) and dL/d(h W_hh^T + b_hh), which differ in the n
        // part by the factor r.
        Tensor dx = empty({T, loop.batch, 3 * H}, options);
        Tensor dhp = empty({T, loop.batch, 3 * H}, options);
        Tensor dh = nt::contiguous(nt::select(g, 0, T));
        for (int64_t s = T - 1; s >= 0; --s) {
          const int64_t t = loop.time(s);
          const Tensor m = masks.defined() ? nt::select(masks, 0, t) : Tensor();
          const Tensor a = nt::select(acts.get(), 0, t);
          const Tensor r = nt::narrow(a, 1, 0, H), z = nt::narrow(a, 1, H, H),
                       n = nt::narrow(a, 1, 2 * H, H);
          const Tensor hp = nt::select(h_prev.get(), 0, t);
          Tensor dh_new = nt::add(dh, nt::select(g, 0, t));
          if (m.defined()) dh_new = nt::where(m, dh_new, 0);
          // h' = n + z (h - n): into n, z and h.
          const Tensor dn_pre = nt::mul(nt::sub(dh_new, nt::mul(dh_new, z)), tanh_slope(n));
          const Tensor dz_pre = nt::mul(nt::mul(dh_new, nt::sub(hp, n)), sigmoid_slope(z));
          const Tensor dr_pre =
              nt::mul(nt::mul(dn_pre, nt::select(hn_all.get(), 0, t)), sigmoid_slope(r));
          const Tensor dxt = nt::select(dx, 0, t), dht = nt::select(dhp, 0, t);
          write(nt::narrow(dxt, 1, 0, H), dr_pre);
          write(nt::narrow(dxt, 1, H, H), dz_pre);
          write(nt::narrow(dxt, 1, 2 * H, H), dn_pre);
          write(nt::narrow(dht, 1, 0, 2 * H), nt::narrow(dxt, 1, 0, 2 * H));
          write(nt::narrow(dht, 1, 2 * H, H), nt::mul(dn_pre, r));
          Tensor dh_prev = nt::add(nt::matmul(dht, weight), nt::mul(dh_new, z));
          if (m.defined()) dh_prev = nt::where(m, dh_prev, dh);
          dh = dh_prev;
        }
        Grads grads(4);
        if (need[0]) grads[0] = dx;
        hidden_weight_grads(grads, dhp, h_prev.get(), need[1], need[2] && has_b);
        if (need[3]) grads[3] = dh;
        return grads;
      });
  return result;
}

}  // namespace toadstool
