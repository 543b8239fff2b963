#pragma once
// Index kernels: index_select / embedding, index_add, gather, scatter_add.
// The front-end validates every index first (kernels never throw), and
// passes contiguous buffers viewed as [outer, dim, inner].
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "toadstool/kernels/bigram_hash.h"
#include "toadstool/kernels/cpu/parallel.h"
#include "toadstool/kernels/gather_scatter.h"
#include "toadstool/kernels/kernel_args.h"

namespace toadstool::kernels::cpu {

// out[o, j, :] = in[o, index[j], :], or zeros where index[j] == in_dim.
// in: [outer, in_dim, inner], index: [n], out: [outer, n, inner].
template <class T>
void index_select(const T* in, const int64_t* index, T* out, int64_t outer, int64_t in_dim,
                  int64_t n, int64_t inner) {
  const int64_t grain = std::max<int64_t>(1, kDefaultGrain / std::max<int64_t>(inner, 1));
  parallel_for(0, outer * n, grain, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t o = row / n, j = row % n;
      if (index[j] == in_dim) {
        std::fill_n(out + row * inner, inner, T(0));
      } else {
        std::memcpy(out + row * inner, in + (o * in_dim + index[j]) * inner, inner * sizeof(T));
      }
    }
  });
}

// out[o, index[j], :] += alpha * src[o, j, :], duplicates accumulating in
// order j = 0, 1, ... (deterministic). Threads split the (o, inner) plane,
// so no two threads ever write the same element.
// out: [outer, out_dim, inner], index: [n], src: [outer, n, inner].
template <class T>
void index_add(T* out, const int64_t* index, const T* src, T alpha, int64_t outer, int64_t out_dim,
               int64_t n, int64_t inner) {
  constexpr int64_t kBlock = 512;
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
  const int64_t grain = std::max<int64_t>(1, kDefaultGrain / std::max<int64_t>(n * kBlock, 1));
  parallel_for(0, outer * blocks, grain, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t o = b / blocks;
      const int64_t k0 = (b % blocks) * kBlock;
      const int64_t width = std::min(kBlock, inner - k0);
      for (int64_t j = 0; j < n; ++j) {
        T* dst = out + (o * out_dim + index[j]) * inner + k0;
        const T* s = src + (o * n + j) * inner + k0;
        for (int64_t k = 0; k < width; ++k) dst[k] += alpha * s[k];
      }
    }
  });
}

// out[i] = self[i with coordinate dim replaced by index[i]]. Each output is
// independent, so this splits over all elements.
template <class T>
void gather(const IndexGeometry& g, const T* self, const int64_t* index, T* out, int64_t numel) {
  parallel_for(0, numel, kDefaultGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) gather_element(g, self, index, out, i);
  });
}

// self[i with coordinate dim replaced by index[i]] += src[i]. Threads split
// the lines along `dim` (every coordinate but dim fixed): writes from one
// line stay in that line, so lines never race, and each line adds in order.
template <class T>
void scatter_add(const IndexGeometry& g, T* self, const int64_t* index, const T* src,
                 int64_t numel) {
  const int64_t line = g.sizes[g.dim];
  if (line == 0) return;
  const int64_t lines = numel / line;
  parallel_for(0, lines, std::max<int64_t>(1, kDefaultGrain / line),
               [&](int64_t begin, int64_t end) {
                 for (int64_t l = begin; l < end; ++l) scatter_add_line(g, self, index, src, l);
               });
}

// out[r, j] = the bucket of the bigram (ids[r, j-1], ids[r, j]), the row's
// first token pairing with `padding_idx`; 0 where ids[r, j] is padding.
// ids, out: [rows, cols]; buckets >= 2.
inline void hashed_bigrams(const int64_t* ids, int64_t* out, int64_t rows, int64_t cols,
                           int64_t buckets, int64_t padding_idx) {
  parallel_for(0, rows, std::max<int64_t>(1, kDefaultGrain / std::max<int64_t>(cols, 1)),
               [&](int64_t begin, int64_t end) {
                 for (int64_t r = begin; r < end; ++r) {
                   const int64_t* row = ids + r * cols;
                   for (int64_t j = 0; j < cols; ++j) {
                     const int64_t prev = j == 0 ? padding_idx : row[j - 1];
                     out[r * cols + j] =
                         row[j] == padding_idx ? 0 : bigram_bucket(prev, row[j], buckets);
                   }
                 }
               });
}

}  // namespace toadstool::kernels::cpu
