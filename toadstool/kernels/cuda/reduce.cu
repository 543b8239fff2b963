// The `reduce` entry on CUDA: sum, prod, amax/amin, var and argmax/argmin
// over any ReduceGeometry, with the ops of kernels/reduce_ops.h that the CPU
// runs (same accumulators: double for float sums, int64 for integer ones,
// Welford for var; same NaN rules and first-index ties).
//
// Fixed order: which thread folds which elements and the merge tree depend
// on the geometry only, never on timing or the GPU, so the same input gives
// the same bits on every run. No atomics. Three kernels:
// - tiles: the innermost kept dim is contiguous and the innermost reduced
//   dim is not (a sum over rows): a block is 32 adjacent outputs x 8 row
//   groups, so each warp reads 32 adjacent elements; the 8 partials of an
//   output merge in a fixed tree. Few outputs over many rows (a bias's
//   gradient, [8192, 512] -> [512]: 16 tiles) cut the rows into `chunks`
//   equal pieces, one block each (blockIdx.y), so that the GPU is full; a
//   second kernel merges each output's chunks in a fixed tree.
// - threads: few elements per output (<= 32): one thread folds one output.
// - segments: otherwise each output's reduced range is cut into `segments`
//   equal pieces (1 unless few outputs share many elements), a block folds
//   a piece (thread t: elements t, t + B, ...; then block_reduce); with
//   several pieces a second kernel merges each output's partials in order.
#include <limits>
#include <type_traits>

#include "toadstool/kernels/cuda/block_reduce.cuh"
#include "toadstool/kernels/cuda/common.cuh"
#include "toadstool/kernels/cuda/registry.h"
#include "toadstool/kernels/cuda/scratch.cuh"
#include "toadstool/kernels/reduce_ops.h"

namespace toadstool::kernels::cuda {

namespace {

using Dims = std::array<int64_t, kMaxReduceDims>;

// Element offset of linear index `linear` over dims given innermost first.
__device__ int64_t offset_of(int64_t linear, int ndim, const Dims& sizes, const Dims& strides) {
  // One dim (linear < sizes[0]): no 64-bit division per element.
  if (ndim == 1) return linear * strides[0];
  int64_t offset = 0;
  for (int d = 0; d < ndim; ++d) {
    offset += (linear % sizes[d]) * strides[d];
    linear /= sizes[d];
  }
  return offset;
}

__device__ int64_t kept_offset(const ReduceGeometry& g, int64_t o) {
  return offset_of(o, g.kept_ndim, g.kept_sizes, g.kept_strides);
}
__device__ int64_t reduced_offset(const ReduceGeometry& g, int64_t r) {
  return offset_of(r, g.reduced_ndim, g.reduced_sizes, g.reduced_strides);
}

// ---- where results go ----

// out[o] = op.finish(acc).
template <class Op, class Out>
struct StoreFinished {
  Op op;
  Out* out;
  template <class Acc>
  __device__ void operator()(int64_t o, const Acc& acc) const {
    out[o] = op.finish(acc);
  }
};

// argmax / argmin: the value and its index (0 for an empty range, as on the CPU).
template <class T>
struct StoreArg {
  T* values;
  int64_t* indices;
  __device__ void operator()(int64_t o, const ValueIndex<T>& acc) const {
    values[o] = acc.value;
    indices[o] = acc.index < 0 ? 0 : acc.index;
  }
};

// Partial accumulators of the segments kernel's first stage: partials[item].
template <class Acc>
struct StorePartial {
  Acc* partials;
  __device__ void operator()(int64_t item, const Acc& acc) const { partials[item] = acc; }
};

// ---- kernels ----

constexpr int kTileCols = 32;  // adjacent outputs of a tile (one warp)
constexpr int kTileRows = 8;   // row groups: thread row y folds r = y, y + 8, ...

// Block (tile, chunk) folds rows [n chunk / chunks, n (chunk + 1) / chunks)
// (n = reduce_numel, chunks = gridDim.y) of the tile's outputs and stores
// output o's accumulator under index o * chunks + chunk (o itself when the
// rows are one chunk).
template <class Op, class In, class Store>
__global__ void reduce_tiles(ReduceGeometry g, Op op, const In* in, Store store) {
  using Acc = decltype(op.init());
  static_assert(kTileRows * kTileCols <= kThreads, "a tile's partials fit a BlockScratch");
  __shared__ BlockScratch<Acc> scratch;
  Acc* shared = scratch.get();  // [kTileRows][kTileCols]
  const int x = threadIdx.x, y = threadIdx.y;
  const int64_t chunks = gridDim.y, chunk = blockIdx.y;
  const int64_t begin = g.reduce_numel * chunk / chunks;
  const int64_t end = g.reduce_numel * (chunk + 1) / chunks;
  const int64_t tiles = (g.outputs + kTileCols - 1) / kTileCols;
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int64_t o = tile * kTileCols + x;
    Acc acc = op.init();
    if (o < g.outputs) {
      const In* base = in + kept_offset(g, o);
      for (int64_t r = begin + y; r < end; r += kTileRows) {
        acc = op.step(acc, base[reduced_offset(g, r)], r);
      }
    }
    shared[y * kTileCols + x] = acc;
    __syncthreads();
    for (int s = kTileRows / 2; s > 0; s /= 2) {
      if (y < s) {
        shared[y * kTileCols + x] =
            op.merge(shared[y * kTileCols + x], shared[(y + s) * kTileCols + x]);
      }
      __syncthreads();
    }
    if (y == 0 && o < g.outputs) store(o * chunks + chunk, shared[x]);
    __syncthreads();  // shared is rewritten by the next tile
  }
}

template <class Op, class In, class Store>
__global__ void reduce_threads(ReduceGeometry g, Op op, const In* in, Store store) {
  for (int64_t o = first_index(); o < g.outputs; o += index_step()) {
    const In* base = in + kept_offset(g, o);
    auto acc = op.init();
    for (int64_t r = 0; r < g.reduce_numel; ++r) acc = op.step(acc, base[reduced_offset(g, r)], r);
    store(o, acc);
  }
}

// Item i = o * segments + s folds elements [n s / segments, n (s + 1) / segments)
// of output o (n = reduce_numel) and stores its accumulator under index i.
template <class Op, class In, class Store>
__global__ void reduce_segments(ReduceGeometry g, int64_t segments, Op op, const In* in,
                                Store store) {
  using Acc = decltype(op.init());
  __shared__ BlockScratch<Acc> scratch;
  const int64_t items = g.outputs * segments;
  for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
    const int64_t o = item / segments, s = item % segments;
    const int64_t begin = g.reduce_numel * s / segments;
    const int64_t end = g.reduce_numel * (s + 1) / segments;
    const In* base = in + kept_offset(g, o);
    Acc acc = op.init();
    for (int64_t r = begin + threadIdx.x; r < end; r += blockDim.x) {
      acc = op.step(acc, base[reduced_offset(g, r)], r);
    }
    acc = block_reduce(acc, scratch.get(),
                       [&](const Acc& a, const Acc& b) { return op.merge(a, b); });
    if (threadIdx.x == 0) store(item, acc);
  }
}

// Second stage: output o merges partials [o * segments, (o + 1) * segments).
template <class Op, class Acc, class Store>
__global__ void merge_segments(int64_t outputs, int64_t segments, Op op, const Acc* partials,
                               Store store) {
  __shared__ BlockScratch<Acc> scratch;
  for (int64_t o = blockIdx.x; o < outputs; o += gridDim.x) {
    Acc acc = op.init();
    for (int64_t s = threadIdx.x; s < segments; s += blockDim.x) {
      acc = op.merge(acc, partials[o * segments + s]);
    }
    acc = block_reduce(acc, scratch.get(),
                       [&](const Acc& a, const Acc& b) { return op.merge(a, b); });
    if (threadIdx.x == 0) store(o, acc);
  }
}

// ---- launch ----

// Pieces per output for the segments kernel: enough blocks to fill a GPU
// when few outputs each reduce many elements, at least 16Ki elements a piece.
int64_t segments_for(const ReduceGeometry& g) {
  constexpr int64_t kMinPiece = 1 << 14;
  constexpr int64_t kMaxSegments = 1024;
  if (g.outputs >= 1024 || g.reduce_numel < 2 * kMinPiece) return 1;
  const int64_t wanted = std::min<int64_t>(g.reduce_numel / kMinPiece, kMaxSegments);
  return std::max<int64_t>(1, std::min(wanted, 4096 / g.outputs));
}

// Row chunks for the tiles kernel: up to about 512 blocks in all when few
// tiles reduce many rows, at least 256 rows (32 per row group) a chunk.
int64_t tile_chunks_for(const ReduceGeometry& g, int64_t tiles) {
  constexpr int64_t kWantedBlocks = 512;
  constexpr int64_t kMinRows = 256;
  if (tiles >= kWantedBlocks) return 1;
  const int64_t wanted = (kWantedBlocks + tiles - 1) / tiles;
  return std::clamp<int64_t>(std::min(wanted, g.reduce_numel / kMinRows), 1, 1024);
}

// Output o merges its `pieces` partials [o * pieces, (o + 1) * pieces) in a
// fixed tree (merge_segments) into `store`.
template <class Op, class Acc, class Store>
void merge_pieces(int64_t outputs, int64_t pieces, const Op& op, const Acc* partials,
                  const Store& store) {
  launch_kernel("merge_segments", merge_segments<Op, Acc, Store>, grid_for(outputs),
                block_size_for(pieces), 0, outputs, pieces, op, partials, store);
}

// Runs `op` over the geometry, handing each output's accumulator to `store`.
template <class Op, class In, class Store>
void run_reduce(const ReduceGeometry& g, const Op& op, const In* in, const Store& store) {
  using Acc = decltype(op.init());
  if (g.outputs == 0) return;
  const bool inner_contiguous = g.reduced_ndim > 0 && g.reduced_strides[0] == 1;
  const bool kept_contiguous = g.kept_ndim > 0 && g.kept_strides[0] == 1;
  if (kept_contiguous && !inner_contiguous && g.reduce_numel > 1) {
    const int64_t tiles = (g.outputs + kTileCols - 1) / kTileCols;
    const int64_t chunks = tile_chunks_for(g, tiles);
    const dim3 grid(grid_for(tiles), static_cast<unsigned>(chunks));
    const dim3 block(kTileCols, kTileRows);
    if (chunks == 1) {
      return launch_kernel("reduce_tiles", reduce_tiles<Op, In, Store>, grid, block, 0, g, op, in,
                           store);
    }
    Scratch<Acc> partials(static_cast<size_t>(g.outputs * chunks));
    launch_kernel("reduce_tiles", reduce_tiles<Op, In, StorePartial<Acc>>, grid, block, 0, g, op,
                  in, StorePartial<Acc>{partials.get()});
    return merge_pieces(g.outputs, chunks, op, partials.get(), store);
  }
  if (g.reduce_numel <= 32) {
    return launch_kernel("reduce_threads", reduce_threads<Op, In, Store>, blocks_for(g.outputs),
                         kThreads, 0, g, op, in, store);
  }
  const int64_t segments = segments_for(g);
  if (segments == 1) {
    const int threads = block_size_for(g.reduce_numel);
    return launch_kernel("reduce_segments", reduce_segments<Op, In, Store>, grid_for(g.outputs),
                         threads, 0, g, int64_t{1}, op, in, store);
  }
  Scratch<Acc> partials(static_cast<size_t>(g.outputs * segments));
  launch_kernel("reduce_segments", reduce_segments<Op, In, StorePartial<Acc>>,
                grid_for(g.outputs * segments), kThreads, 0, g, segments, op, in,
                StorePartial<Acc>{partials.get()});
  merge_pieces(g.outputs, segments, op, partials.get(), store);
}

template <class Op, class In, class Out>
void reduce_to(const ReduceCall& c, const Op& op) {
  run_reduce(c.geometry, op, typed<In>(c.in), StoreFinished<Op, Out>{op, typed<Out>(c.out)});
}

template <class T, bool kMax>
void arg_extremum(const ReduceCall& c) {
  run_reduce(c.geometry, ArgExtremumReduce<T, kMax>{}, typed<T>(c.in),
             StoreArg<T>{typed<T>(c.out), c.indices});
}

void reduce_entry(const ReduceCall& c) {
  if (c.kind == ReduceKind::Var) {
    return for_dtype<TypeSet::Float>(c.dtype, "reduce", [&](auto zero) {
      using T = decltype(zero);
      reduce_to<VarReduce<T, T>, T, T>(c, VarReduce<T, T>{c.correction, c.take_sqrt});
    });
  }
  if (c.kind == ReduceKind::Sum) {  // every dtype: 16-bit floats are summed as they are stored
    return for_dtype<TypeSet::All>(c.dtype, "reduce", [&](auto zero) {
      using T = decltype(zero);
      using Out = sum_out_t<T>;
      reduce_to<SumReduce<T, Out>, T, Out>(c, SumReduce<T, Out>{c.scale});
    });
  }
  if (c.kind == ReduceKind::SumSquares) {
    return for_dtype<TypeSet::Float>(c.dtype, "reduce", [&](auto zero) {
      using T = decltype(zero);
      reduce_to<SumSquaresReduce<T, T>, T, T>(c, {});
    });
  }
  for_dtype<TypeSet::Compute>(c.dtype, "reduce", [&](auto zero) {
    using T = decltype(zero);
    using SumOut = sum_out_t<T>;
    switch (c.kind) {
      case ReduceKind::Prod: return reduce_to<ProdReduce<T, SumOut>, T, SumOut>(c, {});
      case ReduceKind::Max: return reduce_to<ExtremumReduce<T, true>, T, T>(c, {});
      case ReduceKind::Min: return reduce_to<ExtremumReduce<T, false>, T, T>(c, {});
      case ReduceKind::ArgMax: return arg_extremum<T, true>(c);
      case ReduceKind::ArgMin: return arg_extremum<T, false>(c);
      case ReduceKind::Sum:
      case ReduceKind::SumSquares:
      case ReduceKind::Var: break;
    }
  });
}

}  // namespace

void register_reduce(Backend& b) { b.reduce = reduce_entry; }

}  // namespace toadstool::kernels::cuda
