// The CUDA index kernels: index_select, index_add, gather, scatter_add,
// hashed_bigrams and the convolution windows (im2col, col2im), with the semantics and dtypes of the
// CPU's (kernels/cpu/indexing.h, cpu/backend.cpp). Every index has been checked by the front-end.
//
// Determinism: no atomics. The accumulating kernels (index_add, scatter_add)
// give each output element to exactly one thread, which adds its sources in
// index order j, the CPU's order, so a run gives the same bits every time:
//   * scatter_add: one thread per line along `dim` (every other coordinate
//     fixed), which walks its line in order j, as the CPU does.
//   * index_add, many columns: one thread per column (o, k) of the
//     [outer, *, inner] plane, walking j = 0..n-1.
//   * index_add, few columns and many rows (an embedding's backward: outer 1,
//     inner = the embedding dim, n = the token count): the column form would
//     leave the GPU nearly idle with n sequential steps per thread, so the
//     indices are sorted first with CUB's radix sort, which is stable: equal
//     destination rows form one segment listing its j in increasing order.
//     One thread per (o, segment start, k) then adds its segment in that
//     order, the same sum in the same order as the column form.
#include <climits>
#include <cstdint>
#include <cub/device/device_radix_sort.cuh>

#include "toadstool/kernels/bigram_hash.h"
#include "toadstool/kernels/conv_windows.h"
#include "toadstool/kernels/cuda/common.cuh"
#include "toadstool/kernels/cuda/registry.h"
#include "toadstool/kernels/gather_scatter.h"

namespace toadstool::kernels::cuda {

namespace {

// ---- index_select ------------------------------------------------------------

// out[o, j, k] = in[o, index[j], k], or 0 where index[j] == in_dim; one
// thread per output element.
// in [outer, in_dim, inner], index [n], out [outer, n, inner].
template <class T>
__global__ void index_select_kernel(const T* in, const int64_t* index, T* out, int64_t outer,
                                    int64_t in_dim, int64_t n, int64_t inner) {
  const int64_t total = outer * n * inner;
  for (int64_t i = first_index(); i < total; i += index_step()) {
    const int64_t k = i % inner;
    const int64_t row = i / inner;
    const int64_t j = row % n, o = row / n;
    out[i] = index[j] == in_dim ? T(0) : in[(o * in_dim + index[j]) * inner + k];
  }
}

void index_select(DType dtype, const void* in, const int64_t* index, void* out, int64_t outer,
                  int64_t in_dim, int64_t n, int64_t inner) {
  const int64_t total = outer * n * inner;
  if (total <= 0) return;
  for_dtype<TypeSet::All>(dtype, "index_select", [&](auto zero) {
    using T = decltype(zero);
    launch_kernel("index_select", index_select_kernel<T>, blocks_for(total), kThreads, 0,
                  typed<T>(in), index, typed<T>(out), outer, in_dim, n, inner);
  });
}

// ---- index_add ---------------------------------------------------------------

// out[o, index[j], k] += alpha * src[o, j, k] for j = 0..n-1 in order; one
// thread per column (o, k). out [outer, out_dim, inner], src [outer, n, inner].
template <class T>
__global__ void index_add_columns_kernel(T* out, const int64_t* index, const T* src, T alpha,
                                         int64_t outer, int64_t out_dim, int64_t n, int64_t inner) {
  const int64_t columns = outer * inner;
  for (int64_t c = first_index(); c < columns; c += index_step()) {
    const int64_t o = c / inner, k = c % inner;
    for (int64_t j = 0; j < n; ++j) {
      out[(o * out_dim + index[j]) * inner + k] += alpha * src[(o * n + j) * inner + k];
    }
  }
}

// 0, 1, ..., n - 1: the source positions that the sort permutes.
__global__ void iota_kernel(uint64_t* out, int64_t n) {
  for (int64_t i = first_index(); i < n; i += index_step()) out[i] = static_cast<uint64_t>(i);
}

// The sorted form: rows [n] are the destination rows in increasing order and
// order [n] the source position of each, increasing within equal rows. The
// thread of (o, p, k) where p starts a segment of equal rows adds that
// segment in order; the other threads have nothing to do.
template <class T>
__global__ void index_add_segments_kernel(T* out, const uint64_t* rows, const uint64_t* order,
                                          const T* src, T alpha, int64_t outer, int64_t out_dim,
                                          int64_t n, int64_t inner) {
  const int64_t total = outer * n * inner;
  for (int64_t i = first_index(); i < total; i += index_step()) {
    const int64_t k = i % inner;
    const int64_t p = (i / inner) % n;
    const int64_t o = i / (inner * n);
    const uint64_t row = rows[p];
    if (p > 0 && rows[p - 1] == row) continue;  // inside a segment, not its start
    T* dst = out + (o * out_dim + static_cast<int64_t>(row)) * inner + k;
    T acc = *dst;
    for (int64_t q = p; q < n && rows[q] == row; ++q) {
      acc += alpha * src[(o * n + static_cast<int64_t>(order[q])) * inner + k];
    }
    *dst = acc;
  }
}

// The column form fills the GPU when there are this many columns; with fewer
// and at least kSortMinRows source rows, sorting pays for itself.
constexpr int64_t kColumnsToFillGpu = int64_t{1} << 16;
constexpr int64_t kSortMinRows = 256;

size_t round_up_256(size_t bytes) { return (bytes + 255) / 256 * 256; }

// The sorted index_add (the header comment). Scratch: the sorted rows, the
// positions before and after the sort, and CUB's temporary storage, in one
// stream-ordered allocation freed after the kernels on the same stream.
template <class T>
void index_add_sorted(T* out, const int64_t* index, const T* src, T alpha, int64_t outer,
                      int64_t out_dim, int64_t n, int64_t inner) {
  cudaStream_t stream = current_stream();
  const int items = static_cast<int>(n);
  // Indices are in [0, out_dim), so their low end_bit bits order them, and
  // as unsigned words they sort as the signed values would.
  int end_bit = 1;
  while (end_bit < 63 && (int64_t{1} << end_bit) < out_dim) ++end_bit;
  const auto* keys = reinterpret_cast<const uint64_t*>(index);

  size_t cub_bytes = 0;
  check(cub::DeviceRadixSort::SortPairs(nullptr, cub_bytes, keys, static_cast<uint64_t*>(nullptr),
                                        static_cast<const uint64_t*>(nullptr),
                                        static_cast<uint64_t*>(nullptr), items, 0, end_bit, stream),
        "cub::DeviceRadixSort::SortPairs");
  const size_t array_bytes = round_up_256(static_cast<size_t>(n) * sizeof(uint64_t));
  void* scratch = nullptr;
  check(cudaMallocAsync(&scratch, 3 * array_bytes + cub_bytes, stream), "cudaMallocAsync");
  char* base = static_cast<char*>(scratch);
  auto* rows = reinterpret_cast<uint64_t*>(base);
  auto* positions = reinterpret_cast<uint64_t*>(base + array_bytes);
  auto* order = reinterpret_cast<uint64_t*>(base + 2 * array_bytes);
  void* cub_scratch = base + 3 * array_bytes;

  launch_kernel("index_add", iota_kernel, blocks_for(n), kThreads, 0, positions, n);
  check(cub::DeviceRadixSort::SortPairs(cub_scratch, cub_bytes, keys, rows,
                                        static_cast<const uint64_t*>(positions), order, items, 0,
                                        end_bit, stream),
        "cub::DeviceRadixSort::SortPairs");
  const int64_t total = outer * n * inner;
  launch_kernel("index_add", index_add_segments_kernel<T>, blocks_for(total), kThreads, 0, out,
                static_cast<const uint64_t*>(rows), static_cast<const uint64_t*>(order), src, alpha,
                outer, out_dim, n, inner);
  check(cudaFreeAsync(scratch, stream), "cudaFreeAsync");
}

void index_add(DType dtype, void* out, const int64_t* index, const void* src, KernelScalar alpha,
               int64_t outer, int64_t out_dim, int64_t n, int64_t inner) {
  const int64_t columns = outer * inner;
  if (columns <= 0 || n <= 0) return;
  for_dtype<TypeSet::Compute>(dtype, "index_add", [&](auto zero) {
    using T = decltype(zero);
    const bool sorted = columns < kColumnsToFillGpu && n >= kSortMinRows && n <= INT_MAX;
    if (sorted) {
      return index_add_sorted(typed<T>(out), index, typed<T>(src), alpha.as<T>(), outer, out_dim, n,
                              inner);
    }
    launch_kernel("index_add", index_add_columns_kernel<T>, blocks_for(columns), kThreads, 0,
                  typed<T>(out), index, typed<T>(src), alpha.as<T>(), outer, out_dim, n, inner);
  });
}

// ---- gather ------------------------------------------------------------------

// out[i] = self[i with coordinate dim replaced by index[i]]; one thread per
// element of index's shape. The geometry travels by value (~520 bytes).
template <class T>
__global__ void gather_kernel(const IndexGeometry g, const T* self, const int64_t* index, T* out,
                              int64_t numel) {
  for (int64_t i = first_index(); i < numel; i += index_step()) {
    gather_element(g, self, index, out, i);
  }
}

void gather(DType dtype, const IndexGeometry& g, const void* self, const int64_t* index, void* out,
            int64_t numel) {
  if (numel <= 0) return;
  for_dtype<TypeSet::All>(dtype, "gather", [&](auto zero) {
    using T = decltype(zero);
    launch_kernel("gather", gather_kernel<T>, blocks_for(numel), kThreads, 0, g, typed<T>(self),
                  index, typed<T>(out), numel);
  });
}

// ---- scatter_add -------------------------------------------------------------

// One thread per line along dim (kernels/gather_scatter.h), as the CPU's
// threads: duplicates add in index order.
template <class T>
__global__ void scatter_add_kernel(const IndexGeometry g, T* self, const int64_t* index,
                                   const T* src, int64_t lines) {
  for (int64_t l = first_index(); l < lines; l += index_step()) {
    scatter_add_line(g, self, index, src, l);
  }
}

void scatter_add(DType dtype, const IndexGeometry& g, void* self, const int64_t* index,
                 const void* src, int64_t numel) {
  const int64_t line = g.sizes[g.dim];
  if (numel <= 0 || line <= 0) return;
  const int64_t lines = numel / line;
  for_dtype<TypeSet::Compute>(dtype, "scatter_add", [&](auto zero) {
    using T = decltype(zero);
    launch_kernel("scatter_add", scatter_add_kernel<T>, blocks_for(lines), kThreads, 0, g,
                  typed<T>(self), index, typed<T>(src), lines);
  });
}

// ---- hashed_bigrams ----------------------------------------------------------

// out[r, j] = bigram_bucket(ids[r, j-1], ids[r, j]) (the row's first token
// pairs with padding_idx), 0 where ids[r, j] is padding; ids, out [rows, cols].
__global__ void hashed_bigrams_kernel(const int64_t* ids, int64_t* out, int64_t numel, int64_t cols,
                                      int64_t buckets, int64_t padding_idx) {
  for (int64_t i = first_index(); i < numel; i += index_step()) {
    const int64_t prev = i % cols == 0 ? padding_idx : ids[i - 1];
    out[i] = ids[i] == padding_idx ? 0 : bigram_bucket(prev, ids[i], buckets);
  }
}

void hashed_bigrams(const int64_t* ids, int64_t* out, int64_t rows, int64_t cols, int64_t buckets,
                    int64_t padding_idx) {
  const int64_t numel = rows * cols;
  if (numel <= 0) return;
  launch_kernel("hashed_bigrams", hashed_bigrams_kernel, blocks_for(numel), kThreads, 0, ids, out,
                numel, cols, buckets, padding_idx);
}

// ---- im2col, col2im ----------------------------------------------------------

// One thread per column element: columns [N, C, kh, kw, oh, ow].
template <class T>
__global__ void im2col_kernel(ConvWindows w, const T* input, T* columns, int64_t total) {
  const int64_t plane = w.out[0] * w.out[1];
  const int64_t block = w.kernel[0] * w.kernel[1] * plane;
  for (int64_t e = first_index(); e < total; e += index_step()) {
    const int64_t nc = e / block, r = e % block;
    const int64_t tap = r / plane, o = r % plane;
    const int64_t source =
        window_source(w, tap / w.kernel[1], tap % w.kernel[1], o / w.out[1], o % w.out[1]);
    columns[e] = source < 0 ? T(0) : input[nc * w.in[0] * w.in[1] + source];
  }
}

// One thread per input element, summing its taps in the CPU's order (no
// atomics: the same bits every run).
template <class T>
__global__ void col2im_kernel(ConvWindows w, const T* columns, T* input, int64_t total) {
  const int64_t in_plane = w.in[0] * w.in[1];
  const int64_t block = w.kernel[0] * w.kernel[1] * w.out[0] * w.out[1];
  for (int64_t e = first_index(); e < total; e += index_step()) {
    const int64_t nc = e / in_plane, r = e % in_plane;
    input[e] = window_sum<T, T>(w, columns + nc * block, r / w.in[1], r % w.in[1]);
  }
}

void im2col(DType dtype, const ConvWindows& w, const void* input, void* columns) {
  const int64_t total = w.batch * w.channels * w.kernel[0] * w.kernel[1] * w.out[0] * w.out[1];
  if (total <= 0) return;
  for_dtype<TypeSet::Float>(dtype, "im2col", [&](auto zero) {
    using T = decltype(zero);
    launch_kernel("im2col", im2col_kernel<T>, blocks_for(total), kThreads, 0, w, typed<T>(input),
                  typed<T>(columns), total);
  });
}

void col2im(DType dtype, const ConvWindows& w, const void* columns, void* input) {
  const int64_t total = w.batch * w.channels * w.in[0] * w.in[1];
  if (total <= 0) return;
  for_dtype<TypeSet::Float>(dtype, "col2im", [&](auto zero) {
    using T = decltype(zero);
    launch_kernel("col2im", col2im_kernel<T>, blocks_for(total), kThreads, 0, w, typed<T>(columns),
                  typed<T>(input), total);
  });
}

}  // namespace

void register_indexing(Backend& b) {
  b.index_select = index_select;
  b.index_add = index_add;
  b.gather = gather;
  b.scatter_add = scatter_add;
  b.hashed_bigrams = hashed_bigrams;
  b.im2col = im2col;
  b.col2im = col2im;
}

}  // namespace toadstool::kernels::cuda
