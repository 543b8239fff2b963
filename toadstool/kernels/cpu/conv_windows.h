#pragma once
// im2col and col2im on the CPU (kernels/backend.h has the contracts,
// kernels/conv_windows.h the index arithmetic): one input plane (n, c) per
// task, split across the team, and within a plane whole rows of windows at
// a time: for each tap (kh, kw) and output row oh, the windows that read
// inside the input are one run of ow (window_run), a contiguous copy or add
// at stride 1. col2im adds each tap's rows into the zeroed plane in the
// taps' order (kh, kw), so every input element receives its terms in
// window_sum's order, starting from zero: the same bits as the CUDA kernel,
// which sums per element.
#include <algorithm>
#include <cstdint>

#include "toadstool/kernels/conv_windows.h"
#include "toadstool/kernels/cpu/parallel.h"

namespace toadstool::kernels::cpu {

// The windows o in [begin, end) along dim d whose tap k reads inside the
// input: 0 <= o * stride + k * dilation - pad_begin < in.
struct WindowRun {
  int64_t begin = 0, end = 0;
  int64_t first_input = 0;  // the input coordinate window 0's tap k reads (may be < 0)
};

inline WindowRun window_run(const ConvWindows& w, int d, int64_t k) {
  const int64_t offset = k * w.dilation[d] - w.pad_begin[d];
  const int64_t stride = w.stride[d];
  auto ceil_div = [](int64_t a, int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; };
  const int64_t begin = std::min(ceil_div(-offset, stride), w.out[d]);
  const int64_t end = std::min(ceil_div(w.in[d] - offset, stride), w.out[d]);
  return {begin, std::max(begin, end), offset};
}

// input [N, C, in...] -> columns [N, C, kernel..., out...].
template <class T>
void im2col(const ConvWindows& w, const T* input, T* columns) {
  const int64_t in_plane = w.in[0] * w.in[1];
  const int64_t out_rows = w.out[0], out_cols = w.out[1];
  const int64_t block = w.kernel[0] * w.kernel[1] * out_rows * out_cols;
  const int64_t grain = std::max<int64_t>(1, kDefaultGrain / std::max<int64_t>(block, 1));
  parallel_for(0, w.batch * w.channels, grain, [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const T* in = input + plane * in_plane;
      T* out = columns + plane * block;
      for (int64_t kh = 0; kh < w.kernel[0]; ++kh) {
        const WindowRun rows = window_run(w, 0, kh);
        for (int64_t kw = 0; kw < w.kernel[1]; ++kw) {
          const WindowRun cols = window_run(w, 1, kw);
          for (int64_t oh = 0; oh < out_rows; ++oh, out += out_cols) {
            if (oh < rows.begin || oh >= rows.end) {
              std::fill(out, out + out_cols, T(0));
              continue;
            }
            const T* source = in + (rows.first_input + oh * w.stride[0]) * w.in[1];
            std::fill(out, out + cols.begin, T(0));
            std::fill(out + cols.end, out + out_cols, T(0));
            if (w.stride[1] == 1) {
              std::copy(source + cols.first_input + cols.begin,
                        source + cols.first_input + cols.end, out + cols.begin);
            } else {
              for (int64_t ow = cols.begin; ow < cols.end; ++ow) {
                out[ow] = source[cols.first_input + ow * w.stride[1]];
              }
            }
          }
        }
      }
    }
  });
}

// columns [N, C, kernel..., out...] -> input [N, C, in...], each element
// the sum of the column elements copied from it.
template <class T>
void col2im(const ConvWindows& w, const T* columns, T* input) {
  const int64_t in_plane = w.in[0] * w.in[1];
  const int64_t out_cols = w.out[1];
  const int64_t block = w.kernel[0] * w.kernel[1] * w.out[0] * out_cols;
  const int64_t grain = std::max<int64_t>(1, kDefaultGrain / std::max<int64_t>(block, 1));
  parallel_for(0, w.batch * w.channels, grain, [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const T* cols_of_plane = columns + plane * block;
      T* out = input + plane * in_plane;
      std::fill(out, out + in_plane, T(0));
      for (int64_t kh = 0; kh < w.kernel[0]; ++kh) {
        const WindowRun rows = window_run(w, 0, kh);
        for (int64_t kw = 0; kw < w.kernel[1]; ++kw) {
          const WindowRun cols = window_run(w, 1, kw);
          const T* tap = cols_of_plane + (kh * w.kernel[1] + kw) * w.out[0] * out_cols;
          for (int64_t oh = rows.begin; oh < rows.end; ++oh) {
            const T* row = tap + oh * out_cols;
            T* target = out + (rows.first_input + oh * w.stride[0]) * w.in[1] + cols.first_input;
            if (w.stride[1] == 1) {  // contiguous: vectorised
              for (int64_t ow = cols.begin; ow < cols.end; ++ow) target[ow] += row[ow];
            } else {
              for (int64_t ow = cols.begin; ow < cols.end; ++ow)
                target[ow * w.stride[1]] += row[ow];
            }
          }
        }
      }
    }
  });
}

}  // namespace toadstool::kernels::cpu
