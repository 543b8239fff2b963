#pragma once
// The reduction loop behind sum, prod, amax/amin, argmax/argmin and var.
//
// The front-end (tensor/reduce_ops.cpp) splits the input's dims into kept
// dims (one output element per index) and reduced dims, each listed
// innermost first with sizes and element strides, in the tensor's logical
// order, so that the reduced linear index `r` handed to the op is the
// row-major index over the reduced dims (argmax needs it).
//
// An Op provides:
//   Acc init() const;                    // the identity
//   Acc step(Acc, In x, int64_t r) const;  // fold in element x at index r
//   Acc merge(Acc a, Acc b) const;       // order-free: ties break by index
//   Out finish(Acc) const;
//
// Two loop orders:
// - inner: when the innermost reduced dim is the contiguous one, each output
//   folds its elements in order, 16 lanes at a time so the loop vectorizes;
// - outer: when the innermost kept dim is contiguous instead (sum over
//   rows), a block of outputs is folded together, one reduced element at a
//   time, so memory is read in order.
#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "toadstool/kernels/cpu/parallel.h"
#include "toadstool/kernels/kernel_args.h"

namespace toadstool::kernels::cpu {

namespace detail {

// Element offset of linear index `linear` over dims given innermost first.
inline int64_t offset_of(int64_t linear, int ndim, const std::array<int64_t, kMaxReduceDims>& sizes,
                         const std::array<int64_t, kMaxReduceDims>& strides) {
  int64_t offset = 0;
  for (int d = 0; d < ndim; ++d) {
    offset += (linear % sizes[d]) * strides[d];
    linear /= sizes[d];
  }
  return offset;
}

// Folds `count` elements at stride 1 starting at index r0 into acc.
template <class Op, class In, class Acc>
Acc fold_contiguous(const Op& op, Acc acc, const In* x, int64_t count, int64_t r0) {
  constexpr int kLanes = 16;
  int64_t i = 0;
  if (count >= 2 * kLanes) {
    std::array<Acc, kLanes> lanes;
    lanes.fill(op.init());
    for (; i + kLanes <= count; i += kLanes) {
      for (int j = 0; j < kLanes; ++j) lanes[j] = op.step(lanes[j], x[i + j], r0 + i + j);
    }
    // Lane j saw indices j, j+16, ...; merge breaks ties by index.
    Acc lanes_total = lanes[0];
    for (int j = 1; j < kLanes; ++j) lanes_total = op.merge(lanes_total, lanes[j]);
    acc = op.merge(acc, lanes_total);
  }
  for (; i < count; ++i) acc = op.step(acc, x[i], r0 + i);
  return acc;
}

}  // namespace detail

template <class Op, class In, class Out>
void reduce(const ReduceGeometry& g, const Op& op, const In* in, Out* out) {
  if (g.outputs == 0) return;
  const bool inner_contiguous = g.reduced_ndim > 0 && g.reduced_strides[0] == 1;
  const bool kept_contiguous = g.kept_ndim > 0 && g.kept_strides[0] == 1;
  const int64_t grain = std::max<int64_t>(1, kDefaultGrain / std::max<int64_t>(g.reduce_numel, 1));

  if (kept_contiguous && !inner_contiguous && g.reduce_numel > 1) {
    // Outer order: blocks of the innermost kept dim, folded together.
    const int64_t inner = g.kept_sizes[0];
    const int64_t outer = g.outputs / inner;
    constexpr int64_t kBlock = 256;
    const int64_t blocks_per_row = (inner + kBlock - 1) / kBlock;
    parallel_for(0, outer * blocks_per_row, std::max<int64_t>(1, grain / kBlock),
                 [&](int64_t begin, int64_t end) {
                   using Acc = decltype(op.init());
                   std::vector<Acc> acc(kBlock);
                   for (int64_t b = begin; b < end; ++b) {
                     const int64_t row = b / blocks_per_row;
                     const int64_t k0 = (b % blocks_per_row) * kBlock;
                     const int64_t width = std::min(kBlock, inner - k0);
                     // Offset of kept element (row, k0): the row unravels over kept dims 1...
                     int64_t base = k0;
                     int64_t rest = row;
                     for (int d = 1; d < g.kept_ndim; ++d) {
                       base += (rest % g.kept_sizes[d]) * g.kept_strides[d];
                       rest /= g.kept_sizes[d];
                     }
                     std::fill(acc.begin(), acc.begin() + width, op.init());
                     for (int64_t r = 0; r < g.reduce_numel; ++r) {
                       const In* x =
                           in + base +
                           detail::offset_of(r, g.reduced_ndim, g.reduced_sizes, g.reduced_strides);
                       for (int64_t k = 0; k < width; ++k) acc[k] = op.step(acc[k], x[k], r);
                     }
                     for (int64_t k = 0; k < width; ++k)
                       out[row * inner + k0 + k] = op.finish(acc[k]);
                   }
                 });
    return;
  }

  // Inner order: one output at a time.
  parallel_for(0, g.outputs, grain, [&](int64_t begin, int64_t end) {
    const int64_t run = g.reduced_ndim > 0 ? g.reduced_sizes[0] : 1;
    const int64_t run_stride = g.reduced_ndim > 0 ? g.reduced_strides[0] : 0;
    for (int64_t o = begin; o < end; ++o) {
      const In* base = in + detail::offset_of(o, g.kept_ndim, g.kept_sizes, g.kept_strides);
      auto acc = op.init();
      for (int64_t r0 = 0; r0 < g.reduce_numel; r0 += run) {
        // Offset of the run's first element over reduced dims 1...
        const In* x =
            base + detail::offset_of(r0, g.reduced_ndim, g.reduced_sizes, g.reduced_strides);
        if (inner_contiguous) {
          acc = detail::fold_contiguous(op, acc, x, run, r0);
        } else {
          for (int64_t i = 0; i < run; ++i) acc = op.step(acc, x[i * run_stride], r0 + i);
        }
      }
      out[o] = op.finish(acc);
    }
  });
}

}  // namespace toadstool::kernels::cpu
