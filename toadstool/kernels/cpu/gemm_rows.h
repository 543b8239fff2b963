#pragma once
// How the packed GEMMs (float32: gemm_packed.cpp, bfloat16:
// gemm_bf16_packed.cpp) share the rows of C among a team.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <utility>

namespace toadstool::kernels::cpu {

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
