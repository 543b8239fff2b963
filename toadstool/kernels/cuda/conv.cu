// The stride-1 convolution entries on CUDA (kernels/backend.h has the
// contract): im2col's columns for a chunk of images and cuBLAS products
// through this table's own im2col, col2im and gemm entries, plus two small
// kernels for the bias. The weight gradient adds the images' products one
// after another on the stream (beta = 1), and the bias gradient folds each
// channel in a fixed tree: the same bits every run.
#include <algorithm>

#include "toadstool/kernels/cuda/block_reduce.cuh"
#include "toadstool/kernels/cuda/common.cuh"
#include "toadstool/kernels/cuda/registry.h"
#include "toadstool/kernels/cuda/scratch.cuh"
#include "toadstool/kernels/dtype_dispatch.h"

namespace toadstool::kernels::cuda {

namespace {

// Column elements per chunk of images (256 MB of float32). The emulation
// tests compile this file with a budget of a few images' columns, so that
// their small convolutions run in several chunks.
#ifndef TOADSTOOL_CONV_COLUMN_BUDGET
#define TOADSTOOL_CONV_COLUMN_BUDGET (int64_t{64} << 20)
#endif
constexpr int64_t kColumnBudget = TOADSTOOL_CONV_COLUMN_BUDGET;

// The shapes of one convolution: per image, per group.
struct Shapes {
  int64_t channels, out_channels, groups, cg, og, kt, in_plane, positions, images_per_chunk;

  explicit Shapes(const ConvArgs& a) {
    const ConvWindows& w = a.windows;
    channels = w.channels;
    out_channels = a.out_channels;
    groups = a.groups;
    cg = channels / groups;
    og = out_channels / groups;
    kt = cg * w.kernel[0] * w.kernel[1];
    in_plane = w.in[0] * w.in[1];
    positions = w.out[0] * w.out[1];
    const int64_t per_image = std::max<int64_t>(1, groups * kt * positions);
    images_per_chunk =
        std::clamp<int64_t>(kColumnBudget / per_image, 1, std::max<int64_t>(w.batch, 1));
  }
};

// out [N, O, P] += bias[o].
template <class T>
__global__ void add_bias_kernel(T* out, const T* bias, int64_t channels, int64_t positions,
                                int64_t total) {
  for (int64_t e = first_index(); e < total; e += index_step()) {
    out[e] += bias[(e / positions) % channels];
  }
}

// grad_bias[o] = the sum of grad_out [N, O, P] over n and p: one block per
// channel, each thread a strided share, then a fixed tree.
template <class T>
__global__ void bias_grad_kernel(const T* grad_out, T* grad_bias, int64_t batch, int64_t channels,
                                 int64_t positions) {
  __shared__ BlockScratch<T> scratch;
  for (int64_t o = blockIdx.x; o < channels; o += gridDim.x) {
    T sum = 0;
    for (int64_t e = threadIdx.x; e < batch * positions; e += blockDim.x) {
      sum += grad_out[((e / positions) * channels + o) * positions + e % positions];
    }
    sum = block_reduce(sum, scratch.get(), [](T a, T b) { return a + b; });
    if (threadIdx.x == 0) grad_bias[o] = sum;
  }
}

template <class T>
void conv_forward_typed(DType dtype, const ConvArgs& args, const T* input, const T* weight,
                        const T* bias, T* out) {
  const Backend& table = cuda_backend();
  const Shapes s(args);
  const int64_t batch = args.windows.batch;
  Scratch<T> columns(s.images_per_chunk * s.groups * s.kt * s.positions);
  for (int64_t n0 = 0; n0 < batch; n0 += s.images_per_chunk) {
    ConvWindows chunk = args.windows;
    chunk.batch = std::min(s.images_per_chunk, batch - n0);
    table.im2col(dtype, chunk, input + n0 * s.channels * s.in_plane, columns.get());
    for (int64_t g = 0; g < s.groups; ++g) {
      // out[n, g] [og, P] = weight[g] [og, kt] x columns[n, g] [kt, P].
      table.gemm(dtype, {.batch = chunk.batch,
                         .M = s.og,
                         .N = s.positions,
                         .K = s.kt,
                         .A = weight + g * s.og * s.kt,
                         .lda = s.kt,
                         .B = columns.get() + g * s.kt * s.positions,
                         .ldb = s.positions,
                         .stride_b = s.groups * s.kt * s.positions,
                         .C = out + (n0 * s.out_channels + g * s.og) * s.positions,
                         .ldc = s.positions,
                         .stride_c = s.out_channels * s.positions,
                         .epilogue = {}});
    }
  }
  const int64_t total = batch * s.out_channels * s.positions;
  if (bias != nullptr && total > 0) {
    launch_kernel("conv_forward (bias)", add_bias_kernel<T>, blocks_for(total), kThreads, 0, out,
                  bias, s.out_channels, s.positions, total);
  }
}

template <class T>
void conv_backward_typed(DType dtype, const ConvArgs& args, const T* grad_out, const T* input,
                         const T* weight, T* grad_input, T* grad_weight, T* grad_bias) {
  const Backend& table = cuda_backend();
  const Shapes s(args);
  const int64_t batch = args.windows.batch;
  if (grad_bias != nullptr && s.out_channels > 0) {
    const int threads = block_size_for(batch * s.positions);
    launch_kernel("conv_backward (bias)", bias_grad_kernel<T>, grid_for(s.out_channels), threads, 0,
                  grad_out, grad_bias, batch, s.out_channels, s.positions);
  }
  if (grad_weight != nullptr && batch == 0) {
    check(cudaMemsetAsync(grad_weight, 0, s.out_channels * s.kt * sizeof(T), current_stream()),
          "cudaMemsetAsync");
  }
  if (grad_input == nullptr && grad_weight == nullptr) return;
  const int64_t chunk_columns = s.images_per_chunk * s.groups * s.kt * s.positions;
  Scratch<T> columns(grad_weight != nullptr ? chunk_columns : 0);
  Scratch<T> column_grads(grad_input != nullptr ? chunk_columns : 0);
  for (int64_t n0 = 0; n0 < batch; n0 += s.images_per_chunk) {
    ConvWindows chunk = args.windows;
    chunk.batch = std::min(s.images_per_chunk, batch - n0);
    const T* dy = grad_out + n0 * s.out_channels * s.positions;
    if (grad_input != nullptr) {
      for (int64_t g = 0; g < s.groups; ++g) {
        // column_grads[n, g] [kt, P] = weight[g]^T [kt, og] x grad_out[n, g] [og, P].
        table.gemm(dtype, {.trans_a = true,
                           .batch = chunk.batch,
                           .M = s.kt,
                           .N = s.positions,
                           .K = s.og,
                           .A = weight + g * s.og * s.kt,
                           .lda = s.kt,
                           .B = dy + g * s.og * s.positions,
                           .ldb = s.positions,
                           .stride_b = s.out_channels * s.positions,
                           .C = column_grads.get() + g * s.kt * s.positions,
                           .ldc = s.positions,
                           .stride_c = s.groups * s.kt * s.positions,
                           .epilogue = {}});
      }
      table.col2im(dtype, chunk, column_grads.get(), grad_input + n0 * s.channels * s.in_plane);
    }
    if (grad_weight != nullptr) {
      table.im2col(dtype, chunk, input + n0 * s.channels * s.in_plane, columns.get());
      for (int64_t n = 0; n < chunk.batch; ++n) {
        for (int64_t g = 0; g < s.groups; ++g) {
          // grad_weight[g] [og, kt] (+)= grad_out[n, g] [og, P] x columns[n, g]^T [P, kt].
          table.gemm(dtype, {.trans_b = true,
                             .M = s.og,
                             .N = s.kt,
                             .K = s.positions,
                             .beta = n0 + n == 0 ? 0.0 : 1.0,
                             .A = dy + (n * s.out_channels + g * s.og) * s.positions,
                             .lda = s.positions,
                             .B = columns.get() + (n * s.groups + g) * s.kt * s.positions,
                             .ldb = s.positions,
                             .C = grad_weight + g * s.og * s.kt,
                             .ldc = s.kt,
                             .epilogue = {}});
        }
      }
    }
  }
}

void conv_forward(DType dtype, const ConvArgs& args, const void* input, const void* weight,
                  const void* bias, void* out) {
  for_dtype<TypeSet::Float>(dtype, "conv_forward", [&](auto zero) {
    using T = decltype(zero);
    conv_forward_typed(dtype, args, typed<T>(input), typed<T>(weight), typed<T>(bias),
                       typed<T>(out));
  });
}

void conv_backward(DType dtype, const ConvArgs& args, const void* grad_out, const void* input,
                   const void* weight, void* grad_input, void* grad_weight, void* grad_bias) {
  for_dtype<TypeSet::Float>(dtype, "conv_backward", [&](auto zero) {
    using T = decltype(zero);
    conv_backward_typed(dtype, args, typed<T>(grad_out), typed<T>(input), typed<T>(weight),
                        typed<T>(grad_input), typed<T>(grad_weight), typed<T>(grad_bias));
  });
}

}  // namespace

void register_conv(Backend& b) {
  b.conv_forward = conv_forward;
  b.conv_backward = conv_backward;
}

}  // namespace toadstool::kernels::cuda
