#pragma once
// im2col and col2im on the CPU (kernels/backend.h has the contracts,
// kernels/conv_windows.h the index arithmetic): one input plane (n, c) per
// task, split across the team.
#include <algorithm>
#include <cstdint>

#include "toadstool/kernels/conv_windows.h"
#include "toadstool/kernels/cpu/parallel.h"

namespace toadstool::kernels::cpu {

// input [N, C, in...] -> columns [N, C, kernel..., out...].
template <class T>
void im2col(const ConvWindows& w, const T* input, T* columns) {
  const int64_t in_plane = w.in[0] * w.in[1];
  const int64_t block = w.kernel[0] * w.kernel[1] * w.out[0] * w.out[1];
  const int64_t grain = std::max<int64_t>(1, kDefaultGrain / std::max<int64_t>(block, 1));
  parallel_for(0, w.batch * w.channels, grain, [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const T* in = input + plane * in_plane;
      T* out = columns + plane * block;
      for (int64_t kh = 0; kh < w.kernel[0]; ++kh) {
        for (int64_t kw = 0; kw < w.kernel[1]; ++kw) {
          for (int64_t oh = 0; oh < w.out[0]; ++oh) {
            for (int64_t ow = 0; ow < w.out[1]; ++ow) {
              const int64_t source = window_source(w, kh, kw, oh, ow);
              *out++ = source < 0 ? T(0) : in[source];
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
  const int64_t block = w.kernel[0] * w.kernel[1] * w.out[0] * w.out[1];
  const int64_t grain = std::max<int64_t>(1, kDefaultGrain / std::max<int64_t>(block, 1));
  parallel_for(0, w.batch * w.channels, grain, [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const T* cols = columns + plane * block;
      T* out = input + plane * in_plane;
      for (int64_t i = 0; i < w.in[0]; ++i) {
        for (int64_t j = 0; j < w.in[1]; ++j) *out++ = window_sum<T, T>(w, cols, i, j);
      }
    }
  });
}

}  // namespace toadstool::kernels::cpu
