// The packed GEMM (gemm_packed.h). Loop nest, outermost first, with the
// cache each block is sized for:
//
//   jc: columns of C in blocks of kNC
//     pc: the K dimension in blocks of kKC
//       pack op(B)[pc:+kc, jc:+nc] into kNR-wide panels     L2, shared by the team
//       ic: blocks of up to kMC rows of C, taken by whichever thread is free
//         pack op(A)[ic:+mc, pc:+kc] into kMR-high panels   L2 (unless read in place)
//         ir: kMR rows of C                                  A panel in L1
//           jr: one kNR-wide B panel -> micro_kernel, a kMR x kNR tile of C
//
// B is always packed: each panel is read once per kMR rows of C, in the
// order the micro-kernel reads it, whatever op(B)'s layout. A stored [M, K]
// is read where it is (kMR values a step, one per row of the tile,
// broadcast) unless its rows alias in L1; otherwise, and when stored [K, M],
// it is packed a block at a time.
#include "toadstool/kernels/cpu/gemm_packed.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include "toadstool/kernels/cpu/gemm_epilogue.h"
#include "toadstool/kernels/cpu/gemm_micro_kernel.h"
#include "toadstool/kernels/cpu/gemm_rows.h"
#include "toadstool/kernels/cpu/parallel.h"
#include "toadstool/kernels/cpu/scratch.h"

namespace toadstool::kernels::cpu {

namespace {

using namespace packed_gemm;

// Rows of C are taken, and A packed (when it is), up to kMC rows at a
// time: 8 panels, 112 KB of packed A, in L2.
constexpr int64_t kMC = 8 * kMR;

thread_local Scratch t_packed_a;
thread_local Scratch t_packed_b;
thread_local Scratch t_partial_c;

// Panels first_panel, first_panel + panel_step, ... of op(B)'s [kc, size]
// block, panel p at out + p * kNR * kc.
void pack_panels(const float* src, int64_t stride_j, int64_t stride_k, int64_t size, int64_t kc,
                 float* out, int64_t first_panel, int64_t panel_step) {
  for (int64_t p = first_panel; p * kNR < size; p += panel_step) {
    pack_panel(src + p * kNR * stride_j, stride_j, stride_k, std::min(kNR, size - p * kNR), kc,
               out + p * kNR * kc);
  }
}

// Rows [0, mc) of op(A) over kc steps as ceil(mc / kMR) panels, panel p at
// out + p * kMR * kc (the last one zero-padded). For A stored [K, M] each
// step reads the block's mc values of one row of A^T at once rather than
// kMR values per panel from rows a whole row of A apart (a page each for a
// 4096-wide A). `out` has kLanes floats of slack at the end.
void pack_a_block(const float* a, int64_t a_row, int64_t a_k, int64_t mc, int64_t kc, float* out) {
  int64_t first_partial = 0;  // panels before this one are done
  if (a_row == 1) {
    first_partial = mc / kMR;
    for (int64_t k = 0; k < kc; ++k) {
      for (int64_t p = 0; p < first_partial; ++p) {
        std::memcpy(out + (p * kc + k) * kMR, a + k * a_k + p * kMR, kMR * sizeof(float));
      }
    }
  }
  for (int64_t p = first_partial; p * kMR < mc; ++p) {
    pack_a_panel(a + p * kMR * a_row, a_row, a_k, std::min(kMR, mc - p * kMR), kc,
                 out + p * kMR * kc);
  }
}

// Thread `thread`'s part of g when the team splits rows: the team packs
// each B panel together (panel p by thread p % threads) into `packed_b`,
// then each thread multiplies the rows it takes (take_rows) by all of it.
// `next_row` is the team's shared row counter, null when threads == 1.
void gemm_rows_share(const GemmArgs<float>& g, float* packed_b, int thread, int threads,
                     std::atomic<int64_t>* next_row) {
  const int64_t a_row = g.a_row_stride(), a_k = g.a_k_stride();
  float* packed_a = t_packed_a.get<float>(kMC * kKC + kLanes);
  // The micro-kernel reads rows of A [M, K] where they are, unless they are
  // a multiple of 2 KB apart: then its kMR rows would share a few L1 cache
  // sets and evict each other, so they are packed like A [K, M]'s.
  const bool read_a_in_place = !g.trans_a && (g.lda * int64_t{sizeof(float)}) % 2048 != 0;
  for (int64_t jc = 0; jc < g.N; jc += kNC) {
    const int64_t nc = std::min(kNC, g.N - jc);
    for (int64_t pc = 0; pc < g.K; pc += kKC) {
      const int64_t kc = std::min(kKC, g.K - pc);
      const float beta = pc == 0 ? g.beta : 1.0f;  // later k blocks add to C
      // The epilogue goes with the last k block, on each tile as it is stored.
      const bool epilogue = pc + kc == g.K && g.epilogue.any();
      pack_panels(g.B + pc * g.b_k_stride() + jc * g.b_col_stride(), g.b_col_stride(),
                  g.b_k_stride(), nc, kc, packed_b, thread, threads);
      team_barrier(threads);
      int64_t own_next = 0;
      while (true) {
        // (Not a structured binding: finish_tile below captures ic.)
        const std::pair<int64_t, int64_t> taken =
            take_rows(next_row, own_next, g.M, kMR, kMC, threads);
        const int64_t ic = taken.first, ic_end = taken.second;
        if (ic >= ic_end) break;
        const int64_t mc = ic_end - ic;
        const float* a_block = g.A + ic * a_row + pc * a_k;
        if (!read_a_in_place) pack_a_block(a_block, a_row, a_k, mc, kc, packed_a);
        for (int64_t ir = 0; ir < mc; ir += kMR) {
          const int64_t rows = std::min(kMR, mc - ir);
          float* c = g.C + (ic + ir) * g.ldc + jc;
          const auto finish_tile = [&](int64_t jr) {
            if (epilogue) {
              apply_epilogue(g.epilogue.at(ic + ir, jc + jr), c + jr, g.ldc, rows,
                             std::min(kNR, nc - jr));
            }
          };
          if (read_a_in_place && rows == kMR) {
            for (int64_t jr = 0; jr < nc; jr += kNR) {
              micro_kernel<true, kMR>(kc, a_block + ir * a_row, a_row, packed_b + jr * kc, g.alpha,
                                      beta, c + jr, g.ldc, std::min(kNR, nc - jr));
              finish_tile(jr);
            }
            continue;
          }
          const float* panel = packed_a + ir * kc;
          if (read_a_in_place) {  // the last few rows, zero-padded
            pack_a_panel(a_block + ir * a_row, a_row, a_k, rows, kc, packed_a);
            panel = packed_a;
          }
          const PackedKernel kernel = kPackedKernels[rows - 1];
          for (int64_t jr = 0; jr < nc; jr += kNR) {
            kernel(kc, panel, kMR, packed_b + jr * kc, g.alpha, beta, c + jr, g.ldc,
                   std::min(kNR, nc - jr));
            finish_tile(jr);
          }
        }
      }
      team_barrier(threads);  // all rows done: the next pc may overwrite packed_b
      // Only thread 0 resets the counter, and nobody takes rows again before
      // the next block's first barrier.
      if (next_row != nullptr && thread == 0) next_row->store(0, std::memory_order_relaxed);
    }
  }
}

float* packed_b_buffer(const GemmArgs<float>& g) {
  return t_packed_b.get<float>(std::min(kKC, g.K) * round_up(std::min(kNC, g.N), kNR));
}

// Rows of C per thread below which the team splits columns instead: each
// thread then reads all of A's (few) rows and packs its own B panels.
constexpr int64_t kMinRowsPerThread = 4 * kMR;

// Long K, few rows (weight gradients, [in, out] = X^T dY over a batch of
// thousands of rows): splitting rows would leave each thread a thin slice
// per shared B block and a barrier every 256 steps of k, so the team splits
// K instead. Thread 0 multiplies its range of K into C (applying beta),
// thread t > 0 into its own [M, N] scratch; then the team adds the partial
// products into C, each thread a share of the rows.
// The partial products cost M * N floats per extra thread: kept to 4 MB
// (a [1024, 1024] weight's gradient).
constexpr int64_t kSplitKMaxOutput = 1024 * 1024;

bool split_k_suits(const GemmArgs<float>& g, int threads) {
  return g.K >= 4 * g.M && g.K >= threads * kKC && g.M * g.N <= kSplitKMaxOutput;
}

void gemm_split_k(const GemmArgs<float>& g, int threads) {
  float* partial = t_partial_c.get<float>(g.M * g.N * (threads - 1));
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num();
    const int64_t nt = omp_get_num_threads();
    const auto [k_begin, k_end] = even_share(g.K, kKC, t, nt);  // never empty: K >= threads * kKC
    GemmArgs<float> part = g.k_range(k_begin, k_end);
    part.epilogue = {};  // after the partial products are added up
    if (t > 0) {
      part.C = partial + (t - 1) * g.M * g.N;
      part.ldc = g.N;
      part.beta = 0.0f;
    }
    gemm_rows_share(part, packed_b_buffer(part), 0, 1, nullptr);
#pragma omp barrier
    const auto [row_begin, row_end] = even_share(g.M, 1, t, nt);
    for (int64_t s = 1; s < nt; ++s) {
      const float* from = partial + (s - 1) * g.M * g.N;
      for (int64_t i = row_begin; i < row_end; ++i) {
        float* c = g.C + i * g.ldc;
        const float* p = from + i * g.N;
        for (int64_t j = 0; j < g.N; ++j) c[j] += p[j];
      }
    }
    apply_epilogue(g.epilogue.at(row_begin, 0), g.C + row_begin * g.ldc, g.ldc, row_end - row_begin,
                   g.N);
  }
}

}  // namespace

void gemm_packed(const GemmArgs<float>& g, int threads) {
  if (threads == 1) {
    gemm_rows_share(g, packed_b_buffer(g), 0, 1, nullptr);
    return;
  }
  if (split_k_suits(g, threads)) {
    gemm_split_k(g, threads);
    return;
  }
  if (g.M >= threads * kMinRowsPerThread) {
    float* packed_b = packed_b_buffer(g);
    std::atomic<int64_t> next_row{0};
#pragma omp parallel num_threads(threads)
    gemm_rows_share(g, packed_b, omp_get_thread_num(), omp_get_num_threads(), &next_row);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num();
    const int64_t nt = omp_get_num_threads();
    const auto [begin, end] = even_share(g.N, kNR, t, nt);
    if (begin < end) {
      const GemmArgs<float> part = g.cols(begin, end);
      gemm_rows_share(part, packed_b_buffer(part), 0, 1, nullptr);
    }
  }
}

}  // namespace toadstool::kernels::cpu
