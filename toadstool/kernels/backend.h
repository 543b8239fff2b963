#pragma once
// The kernel table: every device fills one Backend with its implementation
// of each entry (kernels/kernel_list.h); front-ends in tensor/ check their
// arguments, allocate on the inputs' device and call that device's entry
// (tensor/dispatch.h). A null entry is a kernel the backend does not have:
// calling it through the dispatcher is an Error naming kernel and device.
//
// Entries take raw pointers of the dtype they are given, sizes and strides.
// Kernels do not check user input: the front-end has validated shapes,
// dtypes, indices and probabilities before the call. Float kernels take
// float32 and float64 (the 16-bit floats compute in float32).
#include <cstddef>
#include <cstdint>

#include "toadstool/kernels/kernel_args.h"

namespace toadstool::kernels {

// ---- memory ----
// nbytes of device memory, 64-byte aligned (nullptr when out of memory; a
// zero-byte request still returns a unique pointer).
using AllocateFn = void*(size_t nbytes);
using DeallocateFn = void(void* ptr, size_t nbytes);
// nbytes between this device and host memory (the CPU: a memcpy).
using CopyBytesFn = void(void* dst, const void* src, size_t nbytes);

// ---- element-wise ----
// out = in converted from dtype `from` to `to` over a two-operand plan
// (kernels/math.h's CastOp: saturating float-to-int, non-zero to true).
using ConvertFn = void(DType to, DType from, const StridedPlan& plan, void* out, const void* in);
// Runs functor call.op of kernels/elementwise_list.h over `plan`.
using ElementwiseFn = void(const ElementwiseCall& call, const StridedPlan& plan);
// Zeroes the elements outside a triangle of each of `matrices` contiguous
// [rows, cols] matrices of element_size-byte elements: lower keeps
// col - row <= diagonal, upper keeps col - row >= diagonal.
using TriangleFn = void(void* data, size_t element_size, int64_t matrices, int64_t rows,
                        int64_t cols, int64_t diagonal, bool lower);

// ---- reductions, GEMM ----
using ReduceFn = void(const ReduceCall& call);
// dtype float32 or float64, or float16 / bfloat16 operands and result with
// float32 accumulation (autocast's matmuls).
using GemmFn = void(DType dtype, const GemmCall& call);

// ---- row kernels over contiguous buffers ----
// softmax (log_softmax when `log`) over the middle dim of x viewed as
// [outer, dim, inner]; y may be x. The backward takes the forward's output y.
using SoftmaxForwardFn = void(DType dtype, const void* x, void* y, int64_t outer, int64_t dim,
                              int64_t inner, bool log);
using SoftmaxBackwardFn = void(DType dtype, const void* grad_y, const void* y, void* grad_x,
                               int64_t outer, int64_t dim, int64_t inner, bool log);
// Layer norm over the last `cols` of [rows, cols]: y = (x - mean) * rstd *
// gamma + beta; gamma, beta, mean, rstd may be null. The backward writes
// grad_x [rows, cols], grad_gamma and grad_beta [cols] (any may be null).
using LayerNormForwardFn = void(DType dtype, const void* x, const void* gamma, const void* beta,
                                void* y, void* mean, void* rstd, int64_t rows, int64_t cols,
                                double eps);
using LayerNormBackwardFn = void(DType dtype, const void* grad_y, const void* x, const void* mean,
                                 const void* rstd, const void* gamma, void* grad_x,
                                 void* grad_gamma, void* grad_beta, int64_t rows, int64_t cols);
// The same with dropout and a residual add in front (post-norm Transformer
// layers: layer_norm(residual + dropout(block))): the forward writes x =
// residual + dropout(block) (the backward's input) and normalises it in the
// same pass over each row; the backward is layer_norm_backward's (grad_x is
// the residual's gradient, not null) and also writes grad_block =
// dropout(grad_x). block, residual, x, grad_x, grad_block are [rows, cols].
// block and grad_block are in block_dtype: dtype, or on the CPU bfloat16 /
// float16 with a float32 dtype (autocast's add & norm: the block read as if
// cast to float32, its gradient rounded as it is written; other backends
// throw std::invalid_argument for it).
using DropoutAddLayerNormForwardFn = void(DType dtype, DType block_dtype, const void* block,
                                          const void* residual, const DropoutMask& mask, void* x,
                                          const void* gamma, const void* beta, void* y, void* mean,
                                          void* rstd, int64_t rows, int64_t cols, double eps);
using DropoutAddLayerNormBackwardFn = void(DType dtype, DType block_dtype, const void* grad_y,
                                           const void* x, const void* mean, const void* rstd,
                                           const void* gamma, const DropoutMask& mask, void* grad_x,
                                           void* grad_block, void* grad_gamma, void* grad_beta,
                                           int64_t rows, int64_t cols);
// Cross-entropy over logits x [outer, classes, inner] (kernels/cpu/
// cross_entropy.h has the formulas): per line lse, nll and, when not null,
// the label-smoothing term; the backward's grad_x of a * nll + b * smooth.
using CrossEntropyForwardFn = void(DType dtype, const void* x, const int64_t* target,
                                   const void* weight, int64_t outer, int64_t classes,
                                   int64_t inner, int64_t ignore_index, void* lse, void* nll,
                                   void* smooth);
using CrossEntropyBackwardFn = void(DType dtype, const void* x, const int64_t* target,
                                    const void* weight, const void* lse, const void* grad,
                                    int64_t grad_stride, double a, double b, int64_t outer,
                                    int64_t classes, int64_t inner, int64_t ignore_index,
                                    void* grad_x);
// out [heads, L, Ev] (in the call's out layout) and lse [heads, L]; the
// backward writes grad_q [heads, L, E], grad_k [heads, S, E], grad_v [heads,
// S, Ev] in the call's gradient layouts. dtype float32 or float64; a backend may also take float16
// / bfloat16 (the CPU does): q, k, v, out, grad_out and the gradients in that dtype, the mask and
// lse in float32, float32 compute.
using AttentionForwardFn = void(DType dtype, const AttentionCall& call, void* out, void* lse);
using AttentionBackwardFn = void(DType dtype, const AttentionCall& call, const void* out,
                                 const void* lse, const void* grad_out, void* grad_q, void* grad_k,
                                 void* grad_v);

// ---- indexing (every index already checked) ----
// out[o, j, :] = in[o, index[j], :]; in [outer, in_dim, inner], out [outer, n, inner].
// An index equal to in_dim gives zeros (native::index_select_or_zeros).
using IndexSelectFn = void(DType dtype, const void* in, const int64_t* index, void* out,
                           int64_t outer, int64_t in_dim, int64_t n, int64_t inner);
// out[o, index[j], :] += alpha * src[o, j, :], duplicates in order j.
using IndexAddFn = void(DType dtype, void* out, const int64_t* index, const void* src,
                        KernelScalar alpha, int64_t outer, int64_t out_dim, int64_t n,
                        int64_t inner);
using GatherFn = void(DType dtype, const IndexGeometry& geometry, const void* self,
                      const int64_t* index, void* out, int64_t numel);
using ScatterAddFn = void(DType dtype, const IndexGeometry& geometry, void* self,
                          const int64_t* index, const void* src, int64_t numel);
// out[r, j] = the bucket in [1, buckets) of the bigram (ids[r, j-1], ids[r, j]),
// 0 where ids[r, j] is padding; ids, out [rows, cols].
using HashedBigramsFn = void(const int64_t* ids, int64_t* out, int64_t rows, int64_t cols,
                             int64_t buckets, int64_t padding_idx);

// ---- convolution windows (kernel_args.h's ConvWindows), float dtypes ----
// im2col copies each window of input into columns (zeros for padding);
// col2im is its adjoint: input[n, c, i, j] = the sum, in a fixed order, of
// every column element that im2col copied from (n, c, i, j).
using Im2colFn = void(DType dtype, const ConvWindows& windows, const void* input, void* columns);
using Col2imFn = void(DType dtype, const ConvWindows& windows, const void* columns, void* input);
// A convolution at stride 1 (ConvArgs), float32 or float64: conv_forward
// writes out from input, weight and bias (null: none); conv_backward writes
// the gradients of input, weight and bias from grad_out, each null when not
// wanted. The weight gradient is summed over the batch in a fixed order.
using ConvForwardFn = void(DType dtype, const ConvArgs& args, const void* input, const void* weight,
                           const void* bias, void* out);
using ConvBackwardFn = void(DType dtype, const ConvArgs& args, const void* grad_out,
                            const void* input, const void* weight, void* grad_input,
                            void* grad_weight, void* grad_bias);

// ---- LSTM cell (kernel_args.h's LstmCellForward / LstmCellBackward), float dtypes ----
using LstmCellForwardFn = void(DType dtype, const LstmCellForward& args);
using LstmCellBackwardFn = void(DType dtype, const LstmCellBackward& args);

// ---- random numbers: element i of a fill depends on (seed, offset, i) only ----
using FillUniformFn = void(DType dtype, void* out, int64_t n, uint64_t seed, uint64_t offset,
                           double low, double high);
using FillNormalFn = void(DType dtype, void* out, int64_t n, uint64_t seed, uint64_t offset,
                          double mean, double std);
using FillRandintFn = void(int64_t* out, int64_t n, uint64_t seed, uint64_t offset, int64_t low,
                           int64_t high);
// 1 with probability p (every dtype); the tensor form takes probs [n] of a
// float dtype (out may be probs).
using FillBernoulliFn = void(DType dtype, void* out, int64_t n, uint64_t seed, uint64_t offset,
                             double p);
using FillBernoulliTensorFn = void(DType dtype, void* out, const void* probs, int64_t n,
                                   uint64_t seed, uint64_t offset);
using FillRandpermFn = void(int64_t* out, int64_t n, uint64_t seed, uint64_t offset);
// out[i] = in[i] * mask_i (+ residual[i] when residual is not null), the
// mask of DropoutMask; contiguous buffers of n elements of a float dtype.
using DropoutFn = void(DType dtype, void* out, const void* in, const void* residual, int64_t n,
                       const DropoutMask& mask);

// ---- fused optimizer steps: `count` parameters of one float dtype ----
using SgdStepFn = void(DType dtype, const SgdStepCall* steps, int64_t count);
using AdamStepFn = void(DType dtype, const AdamStepCall* steps, int64_t count);

struct Backend {
  const char* device = "";  // "cpu", "cuda"
  const char* isa = "";     // the CPU kernels' build: "baseline", "avx2", "avx512"
  // The CPU's bfloat16 GEMM path and its override (kernels/cpu/gemm_bf16.h);
  // null in the CUDA table.
  const char* (*bf16_gemm_path)() = nullptr;
  void (*set_bf16_gemm_path)(const char* path) = nullptr;
  // The CPU's float32 FMA throughput with this build's vectors
  // (kernels/cpu/fma_peak.h); null in the CUDA table.
  double (*fma_peak_gflops)(int threads, int repetitions, int64_t iterations) = nullptr;
#define TOADSTOOL_KERNEL(name, Fn) Fn* name = nullptr;
#include "toadstool/kernels/kernel_list.h"
#undef TOADSTOOL_KERNEL
};

// The tables this build carries: the CPU's always, the build of its kernels
// chosen when first asked for (the best instruction set the CPU has among
// those built, or TOADSTOOL_CPU_ISA=baseline|avx2|avx512 from the
// environment; std::invalid_argument when that one is not built or the CPU
// lacks it); the CUDA one is empty (every entry null) unless the CUDA
// backend is built.
const Backend& cpu_backend();
const Backend& cuda_backend();
// The GPUs the CUDA runtime sees (0 without the CUDA backend, a driver or a
// GPU), counted once.
int cuda_device_count();
// The process-wide switch of float32 GEMM precision on the GPU (PyTorch's
// torch.backends.cuda.matmul.allow_tf32): when true, float32 matmuls may
// round their inputs to TF32 (10 mantissa bits) on tensor cores; false by
// default. Read at every GEMM call; the CPU ignores it.
void set_allow_tf32(bool allow);
bool allow_tf32();
// Waits until the current GPU has finished all work queued so far (no-op
// without the backend).
void cuda_synchronize();
// Makes GPU `index` the calling thread's current device, on which the CUDA
// table's entries run (cheap when it already is; no-op without the backend).
void cuda_use_device(int index);
// The device memory that the tensor layer's block cache holds unused, given
// back: tensor/allocator.cpp registers the function that empties GPU
// `device`'s cache when it makes that cache, and the CUDA kernels call
// cuda_release_cache when memory of their own (scratch) runs out, then
// retry once, as the cache does for tensors (no-op while none is
// registered).
// set_cuda_cache_releaser returns the one it replaces.
using CudaCacheReleaser = void (*)(int device);
CudaCacheReleaser set_cuda_cache_releaser(CudaCacheReleaser releaser);
void cuda_release_cache(int device);

}  // namespace toadstool::kernels
