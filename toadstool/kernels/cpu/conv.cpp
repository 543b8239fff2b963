// The stride-1 convolution on grids (conv.h has the method).
#include "toadstool/kernels/cpu/conv.h"

#include <omp.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "toadstool/kernels/cpu/gemm_micro_kernel.h"
#include "toadstool/kernels/cpu/parallel.h"
#include "toadstool/kernels/cpu/scratch.h"

namespace toadstool::kernels::cpu {

namespace {

using namespace packed_gemm;

thread_local Scratch t_grid;      // an image's (or output gradient's) grid
thread_local Scratch t_product;   // a product on the grid, before the junk columns go
thread_local Scratch t_panels_b;  // the weight gradient's packed output gradient
thread_local Scratch t_panel_a;

// Multiply-adds below which a parallel loop's items stay on one thread: a
// team's start-up costs more than a few microseconds of work, and far more
// when other processes share the cores (tests under ctest -j2).
constexpr int64_t kParallelWork = int64_t{1} << 18;

// parallel_for's grain for items of `work` multiply-adds (or element
// operations) each.
int64_t grain_for(int64_t work) {
  return std::max<int64_t>(1, kParallelWork / std::max<int64_t>(work, 1));
}

// `channels` planes [rows, cols] of a grid buffer.
struct GridShape {
  int64_t rows = 0, cols = 0;
  int64_t plane() const { return rows * cols; }
};

// The width of a grid whose rows hold `data` values from column `left` (may
// be negative: cropped) in `full` columns, the output's width plus the
// kernel's reach. The zeros at a row's end may share columns with the next
// row's leading zeros: a tap reading past the end of a row reads the start
// of the next, so up to min(leading zeros, trailing zeros, reach) columns
// come off (a 3 x 3 kernel with padding 1 on 56 columns: 57, not 58).
int64_t grid_cols(int64_t full, int64_t left, int64_t data, int64_t reach) {
  const int64_t leading = std::max<int64_t>(left, 0);
  const int64_t trailing = full - std::clamp<int64_t>(left + data, leading, full);
  return full - std::min({leading, trailing, reach});
}

// The grids of one convolution and the offset of each tap (i, j) in them,
// per group: cg input and og output channels, kt = cg * taps rows of B.
struct Geometry {
  int64_t batch, groups, cg, og, taps, kt;
  int64_t in_h, in_w, out_h, out_w;
  // The forward's and the weight gradient's grid over the input, where the
  // input's (0, 0) goes, and tap t = i * kw + j's offset i * dh * Wp + j * dw.
  GridShape x_grid;
  int64_t x_top, x_left;
  std::vector<int64_t> x_offsets;
  // The input gradient's grid over the output gradient (the transposed
  // convolution's padding: the kernel's reach minus the forward's padding,
  // negative when the forward padded more than that and the grid crops).
  GridShape g_grid;
  int64_t g_top, g_left;
  std::vector<int64_t> g_offsets;
  // Floats past the last plane that the last row's junk columns read, and
  // a tile's columns past the end of the product.
  int64_t slack;

  explicit Geometry(const ConvArgs& a) {
    const ConvWindows& w = a.windows;
    batch = w.batch;
    groups = a.groups;
    cg = w.channels / a.groups;
    og = a.out_channels / a.groups;
    taps = w.kernel[0] * w.kernel[1];
    kt = cg * taps;
    in_h = w.in[0];
    in_w = w.in[1];
    out_h = w.out[0];
    out_w = w.out[1];
    const int64_t reach_h = w.dilation[0] * (w.kernel[0] - 1);
    const int64_t reach_w = w.dilation[1] * (w.kernel[1] - 1);
    x_top = w.pad_begin[0];
    x_left = w.pad_begin[1];
    x_grid = {out_h + reach_h, grid_cols(out_w + reach_w, x_left, in_w, reach_w)};
    g_top = reach_h - w.pad_begin[0];
    g_left = reach_w - w.pad_begin[1];
    g_grid = {in_h + reach_h, grid_cols(in_w + reach_w, g_left, out_w, reach_w)};
    for (int64_t i = 0; i < w.kernel[0]; ++i) {
      for (int64_t j = 0; j < w.kernel[1]; ++j) {
        x_offsets.push_back(i * w.dilation[0] * x_grid.cols + j * w.dilation[1]);
        g_offsets.push_back(i * w.dilation[0] * g_grid.cols + j * w.dilation[1]);
      }
    }
    slack = reach_w + kNR;
  }
};

// `channels` planes src [rows, cols] into a zeroed grid, src (0, 0) at grid
// (top, left) (either may be negative: the part outside is dropped), and
// `slack` zeros after the last plane.
template <class T>
void place(const T* src, int64_t channels, int64_t rows, int64_t cols, T* grid, GridShape shape,
           int64_t top, int64_t left, int64_t slack) {
  // Grid columns [first, last) of a row hold source columns [first - left, last - left).
  const int64_t first = std::clamp<int64_t>(left, 0, shape.cols);
  const int64_t last = std::clamp<int64_t>(left + cols, 0, shape.cols);
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t r = 0; r < shape.rows; ++r) {
      T* row = grid + c * shape.plane() + r * shape.cols;
      const int64_t source_row = r - top;
      if (source_row < 0 || source_row >= rows || first >= last) {
        std::fill_n(row, shape.cols, T(0));
        continue;
      }
      const T* source = src + (c * rows + source_row) * cols + (first - left);
      std::fill(row, row + first, T(0));
      std::copy(source, source + (last - first), row + first);
      std::fill(row + last, row + shape.cols, T(0));
    }
  }
  std::fill_n(grid + channels * shape.plane(), slack, T(0));
}

// out [channels, rows, cols] = the first cols columns of each grid row
// (rows of grid_cols), plus bias[c] when bias is not null.
template <class T>
void extract(const T* grid, int64_t channels, int64_t rows, int64_t cols, int64_t grid_cols,
             const T* bias, T* out) {
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t r = 0; r < rows; ++r) {
      const T* from = grid + (c * rows + r) * grid_cols;
      T* to = out + (c * rows + r) * cols;
      if (bias == nullptr) {
        std::copy(from, from + cols, to);
      } else {
        for (int64_t s = 0; s < cols; ++s) to[s] = from[s] + bias[c];
      }
    }
  }
}

// ---- C [M, N] = A [M, K] x B on a grid: K = taps * channels in the order
// (tap, channel), B's row (t, c) the N values at grid + offsets[t] + c * plane ----

template <class T>
struct GridRows {
  const T* grid;
  const int64_t* offsets;
  int64_t taps, channels, plane;
};

template <class T>
void product_reference(int64_t M, int64_t N, const T* a, const GridRows<T>& b, T* c) {
  const int64_t K = b.taps * b.channels;
  for (int64_t m = 0; m < M; ++m) {
    T* out = c + m * N;
    std::fill_n(out, N, T(0));
    for (int64_t t = 0; t < b.taps; ++t) {
      for (int64_t ch = 0; ch < b.channels; ++ch) {
        const T a_mk = a[m * K + t * b.channels + ch];
        const T* row = b.grid + b.offsets[t] + ch * b.plane;
        for (int64_t j = 0; j < N; ++j) out[j] += a_mk * row[j];
      }
    }
  }
}

// A [M, K] (row-major) as the micro-kernel's zero-padded [K, kMR] panels,
// panel ir at ir * K (and kLanes floats of slack at the end).
std::vector<float> pack_a_matrix(const float* a, int64_t M, int64_t K) {
  std::vector<float> out(round_up(M, kMR) * K + kLanes);
  for (int64_t ir = 0; ir < M; ir += kMR) {
    pack_a_panel(a + ir * K, K, 1, std::min(kMR, M - ir), K, out.data() + ir * K);
  }
  return out;
}

// C tile [kRows, cols] (row stride ldc) = A panel [K, kMR] x B's kNR
// columns from b: B is read where it is, in the grid (L2), no packed copy;
// the tile stays in registers over all K = taps * channels steps.
template <int kRows>
void grid_kernel(const float* a, const float* b, const int64_t* offsets, int64_t taps,
                 int64_t channels, int64_t plane, float* c, int64_t ldc, int64_t cols) {
  Vec acc[kRows][kVectorsPerRow] = {};
  prefetch_tile<kRows>(c, ldc);
  for (int64_t t = 0; t < taps; ++t) {
    const float* row = b + offsets[t];
#pragma GCC unroll 2
    for (int64_t ch = 0; ch < channels; ++ch, a += kMR, row += plane) {
      rank1_update<kRows>(acc, a, 1, row);
    }
  }
  store_tile<kRows>(acc, 1.0f, 0.0f, c, ldc, cols);
}

using GridKernel = void (*)(const float*, const float*, const int64_t*, int64_t, int64_t, int64_t,
                            float*, int64_t, int64_t);
template <size_t... R>
constexpr std::array<GridKernel, sizeof...(R)> grid_kernels(std::index_sequence<R...> /*rows*/) {
  return {&grid_kernel<static_cast<int>(R) + 1>...};
}
constexpr auto kGridKernels = grid_kernels(std::make_index_sequence<kMR>());

// Columns of C per block: the block's part of the grid (every plane's
// columns [jc, jc + kGridNC) plus the kernel's reach) stays in L2 while
// every row panel of A passes over it.
constexpr int64_t kGridNC = 512;

// The product through the register tiles, A packed by pack_a_matrix; the
// column blocks split over the team when not already inside one.
void product_packed(int64_t M, int64_t N, const float* packed_a, const GridRows<float>& b,
                    float* c) {
  const int64_t K = b.taps * b.channels;
  parallel_for(0, ceil_div(N, kGridNC), grain_for(M * K * kGridNC),
               [&](int64_t first_block, int64_t end_block) {
                 for (int64_t block = first_block; block < end_block; ++block) {
                   const int64_t jc = block * kGridNC, nc = std::min(kGridNC, N - jc);
                   for (int64_t ir = 0; ir < M; ir += kMR) {
                     const GridKernel kernel = kGridKernels[std::min(kMR, M - ir) - 1];
                     for (int64_t jr = 0; jr < nc; jr += kNR) {
                       kernel(packed_a + ir * K, b.grid + jc + jr, b.offsets, b.taps, b.channels,
                              b.plane, c + ir * N + jc + jr, N, std::min(kNR, nc - jr));
                     }
                   }
                 }
               });
}

// The matrices A [M, K] of every group (back to back in a), packed for the
// float kernel (empty for other types).
template <class T>
std::vector<std::vector<float>> pack_groups(const std::vector<T>& a, int64_t groups, int64_t M,
                                            int64_t K) {
  std::vector<std::vector<float>> packed(groups);
  if constexpr (std::is_same_v<T, float>) {
    for (int64_t g = 0; g < groups; ++g) packed[g] = pack_a_matrix(a.data() + g * M * K, M, K);
  }
  return packed;
}

// out [M, out_rows, out_cols] of one image and group: the M x K weights `a`
// (column t * channels + c) against the grid's rows, extracted from the
// product on the grid's width.
template <class T>
void grid_product(const GridRows<T>& b, int64_t grid_cols, int64_t M, const T* a,
                  const std::vector<float>& packed_a, int64_t out_rows, int64_t out_cols,
                  const T* bias, T* out) {
  const int64_t N = out_rows * grid_cols;
  T* result = t_product.get<T>(M * N);
  if constexpr (std::is_same_v<T, float>) {
    product_packed(M, N, packed_a.data(), b, result);
  } else {
    product_reference(M, N, a, b, result);
  }
  extract(result, M, out_rows, out_cols, grid_cols, bias, out);
}

// ---- the weight gradient of one image and group ----

// partial [kt, og] (row c * taps + t) = x's grid rows against the output
// gradient's grid dy [og, q] (junk columns zero), over q = out_h * Wp:
// with dy transposed, each row's products are runs of og contiguous
// multiply-adds (vectorisable) rather than dot products.
template <class T>
void weight_product_reference(const T* x, const Geometry& g, const T* dy, T* partial) {
  const int64_t q = g.out_h * g.x_grid.cols;
  std::vector<T> dy_t(q * g.og);
  for (int64_t o = 0; o < g.og; ++o) {
    for (int64_t p = 0; p < q; ++p) dy_t[p * g.og + o] = dy[o * q + p];
  }
  for (int64_t c = 0; c < g.cg; ++c) {
    for (int64_t t = 0; t < g.taps; ++t) {
      const T* row = x + c * g.x_grid.plane() + g.x_offsets[t];
      T* out = partial + (c * g.taps + t) * g.og;
      std::fill_n(out, g.og, T(0));
      for (int64_t p = 0; p < q; ++p) {
        const T* dy_p = dy_t.data() + p * g.og;
        for (int64_t o = 0; o < g.og; ++o) out[o] += row[p] * dy_p[o];
      }
    }
  }
}

// Positions per block of the weight gradient's product: a tile's kMR rows
// of x (28 KB) stay in L1 over the block.
constexpr int64_t kWeightKC = 512;

// The same through the register tiles: per block of kWeightKC positions,
// dy^T is packed once and serves every tap; the rows of x are read in
// place (the channels of one tap are a plane apart) unless planes alias in
// L1.
void weight_product_packed(const float* x, const Geometry& g, const float* dy, float* partial) {
  const int64_t q = g.out_h * g.x_grid.cols, plane = g.x_grid.plane();
  float* panels = t_panels_b.get<float>(kWeightKC * round_up(g.og, kNR));
  float* panel_a = t_panel_a.get<float>(kMR * kWeightKC + kLanes);
  const bool in_place = (plane * int64_t{sizeof(float)}) % 2048 != 0;
  const int64_t ldc = g.taps * g.og;  // from channel c to c + 1 within a tap
  for (int64_t pc = 0; pc < q; pc += kWeightKC) {
    const int64_t kc = std::min(kWeightKC, q - pc);
    for (int64_t jr = 0; jr < g.og; jr += kNR) {
      pack_panel(dy + jr * q + pc, q, 1, std::min(kNR, g.og - jr), kc, panels + jr * kc);
    }
    const float beta = pc == 0 ? 0.0f : 1.0f;
    for (int64_t t = 0; t < g.taps; ++t) {
      for (int64_t c0 = 0; c0 < g.cg; c0 += kMR) {
        const int64_t rows = std::min(kMR, g.cg - c0);
        const float* a = x + c0 * plane + g.x_offsets[t] + pc;
        float* c = partial + (c0 * g.taps + t) * g.og;
        const float* rows_of_a = a;
        int64_t lda = plane;
        PackedKernel kernel = kInPlaceKernels[rows - 1];
        if (!in_place) {
          pack_a_panel(a, plane, 1, rows, kc, panel_a);
          rows_of_a = panel_a;
          lda = kMR;
          kernel = kPackedKernels[rows - 1];
        }
        for (int64_t jr = 0; jr < g.og; jr += kNR) {
          kernel(kc, rows_of_a, lda, panels + jr * kc, 1.0f, beta, c + jr, ldc,
                 std::min(kNR, g.og - jr));
        }
      }
    }
  }
}

// Image n, group grp's weight gradient [kt, og] into partial.
template <class T>
void weight_product(const Geometry& g, const T* grad_out, const T* input, int64_t n, int64_t grp,
                    T* partial) {
  const int64_t x_size = g.cg * g.x_grid.plane() + g.slack;
  const GridShape dy_shape{g.out_h, g.x_grid.cols};
  T* x = t_grid.get<T>(x_size + g.og * dy_shape.plane());
  T* dy = x + x_size;
  place(input + (n * g.groups + grp) * g.cg * g.in_h * g.in_w, g.cg, g.in_h, g.in_w, x, g.x_grid,
        g.x_top, g.x_left, g.slack);
  place(grad_out + (n * g.groups + grp) * g.og * g.out_h * g.out_w, g.og, g.out_h, g.out_w, dy,
        dy_shape, 0, 0, 0);
  if constexpr (std::is_same_v<T, float>) {
    weight_product_packed(x, g, dy, partial);
  } else {
    weight_product_reference(x, g, dy, partial);
  }
}

// grad_weight [groups * og, kt] = the sum over images, in image order, of
// each image's product: a round of one image per thread at a time, then
// the round's products added.
template <class T>
void weight_gradient(const Geometry& g, const T* grad_out, const T* input, T* grad_weight) {
  const int64_t per_image = g.groups * g.kt * g.og;
  const int64_t image_work = g.groups * g.kt * g.og * g.out_h * g.x_grid.cols;
  const bool team = !omp_in_parallel() && g.batch * image_work >= kParallelWork;
  const int64_t slots =
      std::max<int64_t>(1, std::min<int64_t>(g.batch, team ? omp_get_max_threads() : 1));
  std::vector<T> partials(slots * per_image);
  std::fill_n(grad_weight, per_image, T(0));
  for (int64_t first = 0; first < g.batch; first += slots) {
    const int64_t end = std::min(g.batch, first + slots);
    parallel_for(first * g.groups, end * g.groups, grain_for(image_work / g.groups),
                 [&](int64_t begin, int64_t stop) {
                   for (int64_t item = begin; item < stop; ++item) {
                     const int64_t n = item / g.groups, grp = item % g.groups;
                     weight_product(g, grad_out, input, n, grp,
                                    partials.data() + (n - first) * per_image + grp * g.kt * g.og);
                   }
                 });
    // Row o of grad_weight is column o % og of its group's [kt, og] products.
    parallel_for(
        0, g.groups * g.og, grain_for(g.kt * (end - first)), [&](int64_t begin, int64_t stop) {
          for (int64_t o = begin; o < stop; ++o) {
            T* row = grad_weight + o * g.kt;
            for (int64_t n = first; n < end; ++n) {
              const T* product =
                  partials.data() + (n - first) * per_image + (o / g.og) * g.kt * g.og + o % g.og;
              for (int64_t k = 0; k < g.kt; ++k) row[k] += product[k * g.og];
            }
          }
        });
  }
}

// The sum of n values in 32 interleaved partial sums (a few vectors, the
// same order every run).
template <class T>
T sum_row(const T* x, int64_t n) {
  constexpr int kPartials = 32;
  T lanes[kPartials] = {};
  int64_t i = 0;
  for (; i + kPartials <= n; i += kPartials) {
    for (int l = 0; l < kPartials; ++l) lanes[l] += x[i + l];
  }
  T sum = 0;
  for (T lane : lanes) sum += lane;
  for (; i < n; ++i) sum += x[i];
  return sum;
}

}  // namespace

template <class T>
void conv_forward(const ConvArgs& args, const T* input, const T* weight, const T* bias, T* out) {
  const Geometry g(args);
  // The weights [groups * og, kt] with each row in (tap, channel) order.
  std::vector<T> a(g.groups * g.og * g.kt);
  for (int64_t o = 0; o < g.groups * g.og; ++o) {
    for (int64_t c = 0; c < g.cg; ++c) {
      for (int64_t t = 0; t < g.taps; ++t) {
        a[o * g.kt + t * g.cg + c] = weight[(o * g.cg + c) * g.taps + t];
      }
    }
  }
  const std::vector<std::vector<float>> packed = pack_groups(a, g.groups, g.og, g.kt);
  parallel_for(0, g.batch * g.groups, grain_for(g.og * g.kt * g.out_h * g.x_grid.cols),
               [&](int64_t begin, int64_t end) {
                 for (int64_t item = begin; item < end; ++item) {
                   const int64_t grp = item % g.groups;
                   T* grid = t_grid.get<T>(g.cg * g.x_grid.plane() + g.slack);
                   place(input + item * g.cg * g.in_h * g.in_w, g.cg, g.in_h, g.in_w, grid,
                         g.x_grid, g.x_top, g.x_left, g.slack);
                   const GridRows<T> rows{grid, g.x_offsets.data(), g.taps, g.cg, g.x_grid.plane()};
                   grid_product(rows, g.x_grid.cols, g.og, a.data() + grp * g.og * g.kt,
                                packed[grp], g.out_h, g.out_w,
                                bias == nullptr ? nullptr : bias + grp * g.og,
                                out + item * g.og * g.out_h * g.out_w);
                 }
               });
}

template <class T>
void conv_backward(const ConvArgs& args, const T* grad_out, const T* input, const T* weight,
                   T* grad_input, T* grad_weight, T* grad_bias) {
  const Geometry g(args);
  const int64_t out_plane = g.out_h * g.out_w, out_channels = g.groups * g.og;
  if (grad_bias != nullptr) {
    parallel_for(0, out_channels, grain_for(g.batch * out_plane), [&](int64_t begin, int64_t end) {
      for (int64_t o = begin; o < end; ++o) {
        T sum = 0;
        for (int64_t n = 0; n < g.batch; ++n) {
          sum += sum_row(grad_out + (n * out_channels + o) * out_plane, out_plane);
        }
        grad_bias[o] = sum;
      }
    });
  }
  if (grad_input != nullptr) {
    // The transposed convolution's weights [cg, taps * og] per group, each
    // row in (tap, output channel) order, the taps flipped:
    // a[c][t * og + o] = weight[o][c][taps - 1 - t].
    const int64_t k = g.taps * g.og;
    std::vector<T> a(g.groups * g.cg * k);
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      for (int64_t o = 0; o < g.og; ++o) {
        for (int64_t c = 0; c < g.cg; ++c) {
          for (int64_t t = 0; t < g.taps; ++t) {
            a[(grp * g.cg + c) * k + t * g.og + o] =
                weight[((grp * g.og + o) * g.cg + c) * g.taps + g.taps - 1 - t];
          }
        }
      }
    }
    const std::vector<std::vector<float>> packed = pack_groups(a, g.groups, g.cg, k);
    parallel_for(
        0, g.batch * g.groups, grain_for(g.cg * k * g.in_h * g.g_grid.cols),
        [&](int64_t begin, int64_t end) {
          for (int64_t item = begin; item < end; ++item) {
            const int64_t grp = item % g.groups;
            T* grid = t_grid.get<T>(g.og * g.g_grid.plane() + g.slack);
            place(grad_out + item * g.og * out_plane, g.og, g.out_h, g.out_w, grid, g.g_grid,
                  g.g_top, g.g_left, g.slack);
            const GridRows<T> rows{grid, g.g_offsets.data(), g.taps, g.og, g.g_grid.plane()};
            grid_product(rows, g.g_grid.cols, g.cg, a.data() + grp * g.cg * k, packed[grp], g.in_h,
                         g.in_w, static_cast<const T*>(nullptr),
                         grad_input + item * g.cg * g.in_h * g.in_w);
          }
        });
  }
  if (grad_weight != nullptr) weight_gradient(g, grad_out, input, grad_weight);
}

template void conv_forward<float>(const ConvArgs&, const float*, const float*, const float*,
                                  float*);
template void conv_forward<double>(const ConvArgs&, const double*, const double*, const double*,
                                   double*);
template void conv_backward<float>(const ConvArgs&, const float*, const float*, const float*,
                                   float*, float*, float*);
template void conv_backward<double>(const ConvArgs&, const double*, const double*, const double*,
                                    double*, double*, double*);

}  // namespace toadstool::kernels::cpu
