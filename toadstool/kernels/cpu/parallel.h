#pragma once
// One OpenMP team for the whole library. Every parallel loop goes through
// parallel_for, which runs serially when the range is small or when it is
// already inside a parallel region (no nested teams, no oversubscription).
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace toadstool::kernels::cpu {

// Below this many elements of simple work a loop is not worth a team.
inline constexpr int64_t kDefaultGrain = 32768;

// Calls fn(begin, end) on disjoint chunks that cover [begin, end). Each chunk
// holds at least `grain` items, so small loops stay on the calling thread.
template <class Fn>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const Fn& fn) {
  const int64_t n = end - begin;
  if (n <= 0) return;
  const int max_threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const int64_t chunks =
      std::min<int64_t>(max_threads, (n + grain - 1) / std::max<int64_t>(grain, 1));
  if (chunks <= 1) {
    fn(begin, end);
    return;
  }
#pragma omp parallel num_threads(static_cast <int>(chunks))
  {
    const int64_t t = omp_get_thread_num();
    const int64_t nt = omp_get_num_threads();
    const int64_t per = (n + nt - 1) / nt;
    const int64_t b = begin + t * per;
    const int64_t e = std::min(end, b + per);
    if (b < e) fn(b, e);
  }
}

// Calls fn(begin, end) on chunks that cover [0, n), one a thread, cut where
// the running sum of cost(i) (a loop's items of unequal work: attention
// heads whose keys differ) is shared evenly. Each chunk holds at least
// min_chunk_cost, so cheap loops stay on the calling thread.
template <class Cost, class Fn>
void parallel_for_balanced(int64_t n, int64_t min_chunk_cost, const Cost& cost, const Fn& fn) {
  if (n <= 0) return;
  std::vector<int64_t> before(n + 1, 0);  // before[i]: the cost of items [0, i)
  for (int64_t i = 0; i < n; ++i) before[i + 1] = before[i] + cost(i);
  const int64_t total = before[n];
  const int max_threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const int64_t chunks =
      std::min<int64_t>({max_threads, n, total / std::max<int64_t>(min_chunk_cost, 1)});
  if (chunks <= 1) {
    fn(0, n);
    return;
  }
  // Chunk t starts at the first item with at least t / chunks of the cost before it.
  auto start = [&](int64_t t, int64_t nt) {
    if (t == nt) return n;
    return static_cast<int64_t>(std::lower_bound(before.begin(), before.end(), total * t / nt) -
                                before.begin());
  };
#pragma omp parallel num_threads(static_cast <int>(chunks))
  {
    const int64_t t = omp_get_thread_num();
    const int64_t nt = omp_get_num_threads();
    const int64_t b = start(t, nt), e = start(t + 1, nt);
    if (b < e) fn(b, e);
  }
}

// Part `index` of `parts` of [0, size) dealt out in whole units of `unit`
// (the last unit may be short), as evenly as the units allow: {begin, end},
// empty for some parts when there are fewer units than parts.
inline std::pair<int64_t, int64_t> even_share(int64_t size, int64_t unit, int64_t index,
                                              int64_t parts) {
  const int64_t units = (size + unit - 1) / unit;
  return {std::min(size, units * index / parts * unit),
          std::min(size, units * (index + 1) / parts * unit)};
}

}  // namespace toadstool::kernels::cpu
