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
//   time, so memory is read in order. With fewer blocks than threads could
//   share (a bias's gradient: [8192, 128] into [128]), the reduced elements
//   are split too, into chunks folded separately and merged
//   in chunk order; the split depends on the shape only, so every thread
//   count gives the same result.
#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
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

// Outer order: blocks of kOuterBlock outputs of the innermost kept dim.
inline constexpr int64_t kOuterBlock = 256;
// Fewer blocks than this split their reduced elements into chunks of at
// least kOuterChunk, at most kOuterMaxChunks of them (the partial
// accumulators stay under 3 MB: 7 x 64 x 256 of variance's 24 bytes).
inline constexpr int64_t kOuterFewBlocks = 8;
inline constexpr int64_t kOuterChunk = 1024;
inline constexpr int64_t kOuterMaxChunks = 64;

// Block `block` (of blocks_per_row per row of the outer kept dims) folds
// reduced elements [r0, r1) into acc [its width].
template <class Op, class In, class Acc>
void fold_outer_block(const ReduceGeometry& g, const Op& op, const In* in, int64_t block,
                      int64_t blocks_per_row, int64_t r0, int64_t r1, Acc* acc) {
  const int64_t inner = g.kept_sizes[0];
  const int64_t row = block / blocks_per_row;
  const int64_t k0 = (block % blocks_per_row) * kOuterBlock;
  const int64_t width = std::min(kOuterBlock, inner - k0);
  // Offset of kept element (row, k0): the row unravels over kept dims 1...
  int64_t base = k0;
  int64_t rest = row;
  for (int d = 1; d < g.kept_ndim; ++d) {
    base += (rest % g.kept_sizes[d]) * g.kept_strides[d];
    rest /= g.kept_sizes[d];
  }
  std::fill(acc, acc + width, op.init());
  for (int64_t r = r0; r < r1; ++r) {
    const In* x =
        in + base + detail::offset_of(r, g.reduced_ndim, g.reduced_sizes, g.reduced_strides);
    for (int64_t k = 0; k < width; ++k) acc[k] = op.step(acc[k], x[k], r);
  }
}

template <class Op, class In, class Out>
void reduce_outer(const ReduceGeometry& g, const Op& op, const In* in, Out* out, int64_t grain) {
  using Acc = decltype(op.init());
  const int64_t inner = g.kept_sizes[0];
  const int64_t blocks_per_row = (inner + kOuterBlock - 1) / kOuterBlock;
  const int64_t blocks = g.outputs / inner * blocks_per_row;
  // Block b's outputs: out[first(b) + k] for k < width(b).
  auto first = [&](int64_t b) {
    return b / blocks_per_row * inner + (b % blocks_per_row) * kOuterBlock;
  };
  auto width = [&](int64_t b) {
    return std::min(kOuterBlock, inner - (b % blocks_per_row) * kOuterBlock);
  };
  const int64_t chunk =
      std::max(kOuterChunk, (g.reduce_numel + kOuterMaxChunks - 1) / kOuterMaxChunks);
  const int64_t chunks = (g.reduce_numel + chunk - 1) / chunk;
  if (blocks >= kOuterFewBlocks || chunks < 2) {
    parallel_for(0, blocks, std::max<int64_t>(1, grain / kOuterBlock),
                 [&](int64_t begin, int64_t end) {
                   // Not a std::vector: Acc may be bool.
                   const auto acc = std::make_unique<Acc[]>(kOuterBlock);
                   for (int64_t b = begin; b < end; ++b) {
                     fold_outer_block(g, op, in, b, blocks_per_row, 0, g.reduce_numel, acc.get());
                     for (int64_t k = 0; k < width(b); ++k) out[first(b) + k] = op.finish(acc[k]);
                   }
                 });
    return;
  }
  // partial [blocks, chunks, kOuterBlock]: chunk c of block b folds reduced
  // elements [c chunk, (c + 1) chunk).
  const auto partial = std::make_unique<Acc[]>(blocks * chunks * kOuterBlock);
  parallel_for(0, blocks * chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t c = item % chunks;
      fold_outer_block(g, op, in, item / chunks, blocks_per_row, c * chunk,
                       std::min(g.reduce_numel, (c + 1) * chunk),
                       partial.get() + item * kOuterBlock);
    }
  });
  for (int64_t b = 0; b < blocks; ++b) {
    const Acc* p = partial.get() + b * chunks * kOuterBlock;
    for (int64_t k = 0; k < width(b); ++k) {
      Acc acc = p[k];
      for (int64_t c = 1; c < chunks; ++c) acc = op.merge(acc, p[c * kOuterBlock + k]);
      out[first(b) + k] = op.finish(acc);
    }
  }
}

template <class Op, class In, class Out>
void reduce(const ReduceGeometry& g, const Op& op, const In* in, Out* out) {
  if (g.outputs == 0) return;
  const bool inner_contiguous = g.reduced_ndim > 0 && g.reduced_strides[0] == 1;
  const bool kept_contiguous = g.kept_ndim > 0 && g.kept_strides[0] == 1;
  const int64_t grain = std::max<int64_t>(1, kDefaultGrain / std::max<int64_t>(g.reduce_numel, 1));
  if (kept_contiguous && !inner_contiguous && g.reduce_numel > 1) {
    reduce_outer(g, op, in, out, grain);
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
