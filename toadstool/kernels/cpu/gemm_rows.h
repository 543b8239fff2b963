#pragma once
// How the GEMMs share their work among a team: the team's size for a call
// and the split of a batch (gemm.cpp, gemm_bf16_packed.cpp), and the rows
// of C the packed GEMMs' threads take (float32: gemm_packed.cpp, bfloat16:
// gemm_bf16_packed.cpp).
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <utility>

namespace toadstool::kernels::cpu {

// Below this many multiply-adds (64^3) a GEMM, or a whole batch, stays on the
// calling thread: the team's start-up would cost more than it saves.
inline constexpr int64_t kParallelWork = 64 * 64 * 64;

// Threads for `work` multiply-adds: the whole team, or 1 when the work is
// small or we are already inside a parallel region (no nested teams).
inline int gemm_team_size(int64_t work) {
  if (omp_in_parallel() || work < kParallelWork) return 1;
  return omp_get_max_threads();
}

// Whether `batch` products on `threads` threads are split by whole products,
// each on one thread (attention's heads x batch): when they divide evenly,
// or when there are at least 8 a thread, so that the last thread's extra
// product costs at most 1/8 of its time. Else (one thread, or few products,
// e.g. 3 on 2 threads) they go one after another, each on the whole team.
inline bool split_by_products(int64_t batch, int threads) {
  constexpr int64_t kWholeProductsPerThread = 8;
  return threads > 1 && (batch % threads == 0 || batch >= kWholeProductsPerThread * threads);
}

// The team's barrier; a no-op for a team of one (which may not be inside a
// parallel region at all).
inline void team_barrier(int threads) {
  if (threads > 1) {
#pragma omp barrier
  }
}

// The next rows [begin, end) of C for this thread to multiply, empty when
// none are left. Alone (next_row null) a thread takes `block` rows at a
// time in order, counting in `own_next`. In a team, threads take rows from
// the shared counter `next_row`, guided-style: an even share of what is
// left in whole tiles of `tile` rows, between one tile and `block` rows, so
// a thread slowed by a neighbour on a shared machine simply ends up with
// fewer rows.
inline std::pair<int64_t, int64_t> take_rows(std::atomic<int64_t>* next_row, int64_t& own_next,
                                             int64_t M, int64_t tile, int64_t block, int threads) {
  if (next_row == nullptr) {
    const int64_t begin = own_next;
    own_next = std::min(M, begin + block);
    return {begin, own_next};
  }
  int64_t begin = next_row->load(std::memory_order_relaxed);
  while (begin < M) {
    const int64_t share = (M - begin + 2 * int64_t{threads} - 1) / (2 * int64_t{threads});
    const int64_t rows = std::clamp((share + tile - 1) / tile * tile, tile, block);
    if (next_row->compare_exchange_weak(begin, begin + rows, std::memory_order_relaxed)) {
      return {begin, std::min(M, begin + rows)};
    }
  }
  return {M, M};
}

}  // namespace toadstool::kernels::cpu
