#pragma once
// One element of gather and one line of scatter_add (kernels/backend.h's
// GatherFn, ScatterAddFn), written once for both backends: the CPU's
// threads and the GPU's run these.
#include <cstdint>

#include "toadstool/kernels/host_device.h"
#include "toadstool/kernels/kernel_args.h"

namespace toadstool::kernels {

// out[i] = self[i with coordinate dim replaced by index[i]], for element i
// of index's shape (each independent of the others).
template <class T>
TS_HOST_DEVICE void gather_element(const IndexGeometry& g, const T* self, const int64_t* index,
                                   T* out, int64_t i) {
  int64_t rest = i, idx_off = 0, self_off = 0, out_off = 0;
  for (int d = g.ndim - 1; d >= 0; --d) {
    const int64_t c = rest % g.sizes[d];
    rest /= g.sizes[d];
    idx_off += c * g.index_strides[d];
    out_off += c * g.other_strides[d];
    if (d != g.dim) self_off += c * g.self_strides[d];
  }
  out[out_off] = self[self_off + index[idx_off] * g.self_strides[g.dim]];
}

// self[i with coordinate dim replaced by index[i]] += src[i] along line l
// (every coordinate but dim fixed, the others in row-major order): a line's
// writes stay in its own line of self, added in order j, so lines never race
// and duplicates add in index order.
template <class T>
TS_HOST_DEVICE void scatter_add_line(const IndexGeometry& g, T* self, const int64_t* index,
                                     const T* src, int64_t l) {
  int64_t rest = l, idx_off = 0, self_off = 0, src_off = 0;
  for (int d = g.ndim - 1; d >= 0; --d) {
    if (d == g.dim) continue;
    const int64_t c = rest % g.sizes[d];
    rest /= g.sizes[d];
    idx_off += c * g.index_strides[d];
    self_off += c * g.self_strides[d];
    src_off += c * g.other_strides[d];
  }
  for (int64_t j = 0; j < g.sizes[g.dim]; ++j) {
    const int64_t target = index[idx_off + j * g.index_strides[g.dim]];
    self[self_off + target * g.self_strides[g.dim]] += src[src_off + j * g.other_strides[g.dim]];
  }
}

}  // namespace toadstool::kernels
