#pragma once
// The LSTM step on the CPU (kernels/lstm_cell.h has the math): rows of the
// batch split across the team when the step is big enough to repay it, each
// row one vectorized loop over its H units. The row functions take their
// buffers as restrict parameters: GCC honours restrict there, not on
// pointers declared inside a loop, and without it would not vectorize.
#include <algorithm>
#include <cstdint>

#include "toadstool/kernels/cpu/parallel.h"
#include "toadstool/kernels/lstm_cell.h"

namespace toadstool::kernels::cpu {

// One row: gates [4H] = x + hp; c_prev, h_prev -> the gates after
// activation (four [H] pointers: one base with offsets of H would leave
// the compiler unsure the four stores never overlap), tanh_c, c, h, y [H].
// A row whose step is not real is computed alike (its acts and tanh_c are
// never read), then its state is passed on and its output zeroed: a select
// inside the loop would keep GCC from vectorizing it.
template <class T>
void lstm_row_forward(int64_t H, bool real, const T* __restrict x, const T* __restrict hp,
                      const T* __restrict c_prev, const T* __restrict h_prev, T* __restrict act_i,
                      T* __restrict act_f, T* __restrict act_g, T* __restrict act_o,
                      T* __restrict tanh_c, T* __restrict c, T* __restrict h, T* __restrict y) {
  for (int64_t j = 0; j < H; ++j) {
    lstm_unit_forward<T>(x[j] + hp[j], x[H + j] + hp[H + j], x[2 * H + j] + hp[2 * H + j],
                         x[3 * H + j] + hp[3 * H + j], c_prev[j], act_i[j], act_f[j], act_g[j],
                         act_o[j], c[j], tanh_c[j], h[j]);
    y[j] = h[j];
  }
  if (!real) {
    std::copy(c_prev, c_prev + H, c);
    std::copy(h_prev, h_prev + H, h);
    std::fill(y, y + H, T(0));
  }
}

// One real row's derivative: the four gates' gradients ([H] each, as the
// forward's outputs) and dc_prev [H].
template <class T>
void lstm_row_backward(int64_t H, const T* __restrict acts, const T* __restrict tanh_c,
                       const T* __restrict c_prev, const T* __restrict dh, const T* __restrict dc,
                       const T* __restrict dy, T* __restrict d_i, T* __restrict d_f,
                       T* __restrict d_g, T* __restrict d_o, T* __restrict dc_prev) {
  for (int64_t j = 0; j < H; ++j) {
    lstm_unit_backward<T>(acts[j], acts[H + j], acts[2 * H + j], acts[3 * H + j], tanh_c[j],
                          c_prev[j], dh[j], dc[j], dy[j], d_i[j], d_f[j], d_g[j], d_o[j],
                          dc_prev[j]);
  }
}

template <class T>
void lstm_cell_forward(const LstmCellForward& a) {
  const int64_t H = a.hidden;
  const int64_t grain = std::max<int64_t>(1, kDefaultGrain / std::max<int64_t>(4 * H, 1));
  parallel_for(0, a.batch, grain, [&a, H](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      T* acts = static_cast<T*>(a.acts) + b * 4 * H;
      lstm_row_forward<T>(
          H, a.mask == nullptr || a.mask[b], static_cast<const T*>(a.xproj) + b * 4 * H,
          static_cast<const T*>(a.hproj) + b * 4 * H, static_cast<const T*>(a.c_prev) + b * H,
          static_cast<const T*>(a.h_prev) + b * H, acts, acts + H, acts + 2 * H, acts + 3 * H,
          static_cast<T*>(a.tanh_c) + b * H, static_cast<T*>(a.c) + b * H,
          static_cast<T*>(a.h) + b * H, static_cast<T*>(a.y) + b * H);
    }
  });
}

template <class T>
void lstm_cell_backward(const LstmCellBackward& a) {
  const int64_t H = a.hidden;
  const int64_t grain = std::max<int64_t>(1, kDefaultGrain / std::max<int64_t>(4 * H, 1));
  parallel_for(0, a.batch, grain, [&a, H](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const T* dh = static_cast<const T*>(a.dh) + b * H;
      const T* dc = static_cast<const T*>(a.dc) + b * H;
      T* dgates = static_cast<T*>(a.dgates) + b * 4 * H;
      T* dc_prev = static_cast<T*>(a.dc_prev) + b * H;
      T* dh_skip = a.dh_skip == nullptr ? nullptr : static_cast<T*>(a.dh_skip) + b * H;
      if (a.mask != nullptr && !a.mask[b]) {  // padding: no gate gradient, the state passed on
        std::fill(dgates, dgates + 4 * H, T(0));
        std::copy(dc, dc + H, dc_prev);
        std::copy(dh, dh + H, dh_skip);
        continue;
      }
      if (dh_skip != nullptr) std::fill(dh_skip, dh_skip + H, T(0));
      lstm_row_backward<T>(
          H, static_cast<const T*>(a.acts) + b * 4 * H, static_cast<const T*>(a.tanh_c) + b * H,
          static_cast<const T*>(a.c_prev) + b * H, dh, dc, static_cast<const T*>(a.dy) + b * H,
          dgates, dgates + H, dgates + 2 * H, dgates + 3 * H, dc_prev);
    }
  });
}

}  // namespace toadstool::kernels::cpu
