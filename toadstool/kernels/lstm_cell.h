#pragma once
// One LSTM step's element-wise math, written once for the CPU loop
// (kernels/cpu/lstm_cell.h) and the CUDA kernel (kernels/cuda/lstm_cell.cu):
// element (b, j) of a step, j < H, reads the four gates (b, j), (b, H + j),
// (b, 2H + j), (b, 3H + j) and writes its state unit (b, j) (kernel_args.h's
// LstmCellForward / LstmCellBackward has the buffers). The activations are
// the element-wise ops' own (math.h), so the fused step gives the values
// of the composition sigmoid / tanh / mul / add.
#include <cstdint>

#include "toadstool/kernels/host_device.h"
#include "toadstool/kernels/kernel_args.h"
#include "toadstool/kernels/math.h"

namespace toadstool::kernels {

//   i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of xproj + hproj
//   c' = f c + i g,  h' = o tanh(c')
template <class T>
TS_HOST_DEVICE void lstm_cell_forward_element(const LstmCellForward& a, int64_t b, int64_t j) {
  const int64_t H = a.hidden, row = b * 4 * H, unit = b * H + j;
  const T* x = static_cast<const T*>(a.xproj) + row;
  const T* hp = static_cast<const T*>(a.hproj) + row;
  T* acts = static_cast<T*>(a.acts) + row;
  const T i = SigmoidOp<T>{}(x[j] + hp[j]);
  const T f = SigmoidOp<T>{}(x[H + j] + hp[H + j]);
  const T g = TanhOp<T>{}(x[2 * H + j] + hp[2 * H + j]);
  const T o = SigmoidOp<T>{}(x[3 * H + j] + hp[3 * H + j]);
  acts[j] = i;
  acts[H + j] = f;
  acts[2 * H + j] = g;
  acts[3 * H + j] = o;
  const T c_prev = static_cast<const T*>(a.c_prev)[unit];
  const T c = f * c_prev + i * g;
  const T tc = TanhOp<T>{}(c);
  static_cast<T*>(a.tanh_c)[unit] = tc;
  const T h = o * tc;
  const bool real = a.mask == nullptr || a.mask[b];
  static_cast<T*>(a.c)[unit] = real ? c : c_prev;
  static_cast<T*>(a.h)[unit] = real ? h : static_cast<const T*>(a.h_prev)[unit];
  static_cast<T*>(a.y)[unit] = real ? h : T(0);
}

// The step's derivative: with dh' = dh + dy and dc' = dc + dh' o (1 - tc^2),
//   di = dc' g i (1 - i),  df = dc' c_prev f (1 - f),  dg = dc' i (1 - g^2),
//   do = dh' tc o (1 - o),  dc_prev = dc' f
// and, where the step is not real, no gate gradient and dh, dc passed on.
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
  const T i = acts[j], f = acts[H + j], g = acts[2 * H + j], o = acts[3 * H + j];
  const T tc = static_cast<const T*>(a.tanh_c)[unit];
  const T dh_new = dh + static_cast<const T*>(a.dy)[unit];
  const T dc_new = dc + dh_new * o * (T(1) - tc * tc);
  dgates[j] = dc_new * g * i * (T(1) - i);
  dgates[H + j] = dc_new * static_cast<const T*>(a.c_prev)[unit] * f * (T(1) - f);
  dgates[2 * H + j] = dc_new * i * (T(1) - g * g);
  dgates[3 * H + j] = dh_new * tc * o * (T(1) - o);
  static_cast<T*>(a.dc_prev)[unit] = dc_new * f;
  if (a.dh_skip != nullptr) static_cast<T*>(a.dh_skip)[unit] = T(0);
}

}  // namespace toadstool::kernels
