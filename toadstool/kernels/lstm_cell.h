#pragma once
// One LSTM step's element-wise math, written once for the CPU loop
// (kernels/cpu/lstm_cell.h) and the CUDA kernel (kernels/cuda/lstm_cell.cu):
// state unit (b, j), j < H, reads the four gates (b, j), (b, H + j),
// (b, 2H + j), (b, 3H + j) and writes its state (kernel_args.h's
// LstmCellForward / LstmCellBackward has the buffers). The activations are
// the element-wise ops' own (math.h), so the fused step gives the values
// of the composition sigmoid / tanh / mul / add.
#include <cstdint>

#include "toadstool/kernels/host_device.h"
#include "toadstool/kernels/kernel_args.h"
#include "toadstool/kernels/math.h"

// The unit functions are always inlined on the CPU: called from a loop
// over units, they must be for that loop to vectorize (GCC's heuristics
// leave a function with five exponentials out of line).
#if defined(__CUDACC__)
#define TS_LSTM_UNIT TS_HOST_DEVICE
#else
#define TS_LSTM_UNIT inline __attribute__((always_inline))
#endif

namespace toadstool::kernels {

// One state unit's step: the gates' pre-activations and c_prev in; the
// gates after activation, c', tanh(c') and h' out (plain scalars, so a
// CPU loop over units vectorizes):
//   i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of the pre-activations
//   c' = f c_prev + i g,  h' = o tanh(c')
template <class T>
TS_LSTM_UNIT void lstm_unit_forward(T pre_i, T pre_f, T pre_g, T pre_o, T c_prev, T& i, T& f, T& g,
                                    T& o, T& c, T& tanh_c, T& h) {
  i = SigmoidOp<T>{}(pre_i);
  f = SigmoidOp<T>{}(pre_f);
  g = TanhOp<T>{}(pre_g);
  o = SigmoidOp<T>{}(pre_o);
  c = f * c_prev + i * g;
  tanh_c = TanhOp<T>{}(c);
  h = o * tanh_c;
}

// A real step's derivative from dh, dc (after the step) and dy (its
// output): with dh' = dh + dy and dc' = dc + dh' o (1 - tanh_c^2),
//   di = dc' g i (1 - i),  df = dc' c_prev f (1 - f),  dg = dc' i (1 - g^2),
//   do = dh' tanh_c o (1 - o),  dc_prev = dc' f.
template <class T>
TS_LSTM_UNIT void lstm_unit_backward(T i, T f, T g, T o, T tanh_c, T c_prev, T dh, T dc, T dy,
                                     T& di, T& df, T& dg, T& d_o, T& dc_prev) {
  const T dh_new = dh + dy;
  const T dc_new = dc + dh_new * o * (T(1) - tanh_c * tanh_c);
  di = dc_new * g * i * (T(1) - i);
  df = dc_new * c_prev * f * (T(1) - f);
  dg = dc_new * i * (T(1) - g * g);
  d_o = dh_new * tanh_c * o * (T(1) - o);
  dc_prev = dc_new * f;
}

// Element (b, j) of a step, for the CUDA kernel (the CPU runs the same
// unit functions over whole rows, kernels/cpu/lstm_cell.h).
template <class T>
TS_HOST_DEVICE void lstm_cell_forward_element(const LstmCellForward& a, int64_t b, int64_t j) {
  const int64_t H = a.hidden, row = b * 4 * H, unit = b * H + j;
  const T* x = static_cast<const T*>(a.xproj) + row;
  const T* hp = static_cast<const T*>(a.hproj) + row;
  T* acts = static_cast<T*>(a.acts) + row;
  const T c_prev = static_cast<const T*>(a.c_prev)[unit];
  T c, tanh_c, h;
  lstm_unit_forward<T>(x[j] + hp[j], x[H + j] + hp[H + j], x[2 * H + j] + hp[2 * H + j],
                       x[3 * H + j] + hp[3 * H + j], c_prev, acts[j], acts[H + j], acts[2 * H + j],
                       acts[3 * H + j], c, tanh_c, h);
  static_cast<T*>(a.tanh_c)[unit] = tanh_c;
  const bool real = a.mask == nullptr || a.mask[b];
  static_cast<T*>(a.c)[unit] = real ? c : c_prev;
  static_cast<T*>(a.h)[unit] = real ? h : static_cast<const T*>(a.h_prev)[unit];
  static_cast<T*>(a.y)[unit] = real ? h : T(0);
}

// Where the step is not real: no gate gradient, dh and dc passed on.
template <class T>
TS_HOST_DEVICE void lstm_cell_backward_element(const LstmCellBackward& a, int64_t b, int64_t j) {
  const int64_t H = a.hidden, row = b * 4 * H, unit = b * H + j;
  T* dgates = static_cast<T*>(a.dgates) + row;
  const T dh = static_cast<const T*>(a.dh)[unit];
  const T dc = static_cast<const T*>(a.dc)[unit];
  if (a.mask != nullptr && !a.mask[b]) {
    dgates[j] = dgates[H + j] = dgates[2 * H + j] = dgates[3 * H + j] = T(0);
    static_cast<T*>(a.dc_prev)[unit] = dc;
    static_cast<T*>(a.dh_skip)[unit] = dh;
    return;
  }
  const T* acts = static_cast<const T*>(a.acts) + row;
  lstm_unit_backward<T>(
      acts[j], acts[H + j], acts[2 * H + j], acts[3 * H + j], static_cast<const T*>(a.tanh_c)[unit],
      static_cast<const T*>(a.c_prev)[unit], dh, dc, static_cast<const T*>(a.dy)[unit], dgates[j],
      dgates[H + j], dgates[2 * H + j], dgates[3 * H + j], static_cast<T*>(a.dc_prev)[unit]);
  if (a.dh_skip != nullptr) static_cast<T*>(a.dh_skip)[unit] = T(0);
}

}  // namespace toadstool::kernels
