#pragma once
// The index arithmetic of im2col and col2im (kernels/backend.h), written
// once for both backends so that they read and sum the same elements in the
// same order.
#include <cstdint>

#include "toadstool/kernels/host_device.h"
#include "toadstool/kernels/kernel_args.h"

namespace toadstool::kernels {

// The input coordinate along dim d that kernel tap k of window o reads;
// outside [0, in[d]) it is padding.
TS_HOST_DEVICE int64_t window_input(const ConvWindows& w, int d, int64_t o, int64_t k) {
  return o * w.stride[d] - w.pad_begin[d] + k * w.dilation[d];
}

// Element (kh, kw, oh, ow) of a [kernel[0], kernel[1], out[0], out[1]]
// block of columns: the offset in its [in[0], in[1]] input plane, or -1
// for padding.
TS_HOST_DEVICE int64_t window_source(const ConvWindows& w, int64_t kh, int64_t kw, int64_t oh,
                                     int64_t ow) {
  const int64_t i = window_input(w, 0, oh, kh), j = window_input(w, 1, ow, kw);
  if (i < 0 || i >= w.in[0] || j < 0 || j >= w.in[1]) return -1;
  return i * w.in[1] + j;
}

// The window along dim d whose tap k reads input coordinate i, or -1 when
// none does.
TS_HOST_DEVICE int64_t window_of(const ConvWindows& w, int d, int64_t i, int64_t k) {
  const int64_t shifted = i + w.pad_begin[d] - k * w.dilation[d];
  if (shifted < 0 || shifted % w.stride[d] != 0) return -1;
  const int64_t o = shifted / w.stride[d];
  return o < w.out[d] ? o : -1;
}

// col2im's element (i, j) of one input plane: the sum over the taps (kh,
// kw), in that order, of the column elements im2col copied from it.
// `columns` is the plane's [kernel[0], kernel[1], out[0], out[1]] block.
template <class T, class Acc>
TS_HOST_DEVICE T window_sum(const ConvWindows& w, const T* columns, int64_t i, int64_t j) {
  Acc sum = 0;
  const int64_t plane = w.out[0] * w.out[1];
  for (int64_t kh = 0; kh < w.kernel[0]; ++kh) {
    const int64_t oh = window_of(w, 0, i, kh);
    if (oh < 0) continue;
    for (int64_t kw = 0; kw < w.kernel[1]; ++kw) {
      const int64_t ow = window_of(w, 1, j, kw);
      if (ow < 0) continue;
      sum += static_cast<Acc>(columns[(kh * w.kernel[1] + kw) * plane + oh * w.out[1] + ow]);
    }
  }
  return static_cast<T>(sum);
}

}  // namespace toadstool::kernels
