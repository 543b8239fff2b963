// The CPU's kernel table: each entry casts the raw pointers to the dtype's
// C++ type and calls the typed kernel of kernels/cpu/.
#include "toadstool/kernels/backend.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "toadstool/kernels/cpu/attention.h"
#include "toadstool/kernels/cpu/conv.h"
#include "toadstool/kernels/cpu/conv_windows.h"
#include "toadstool/kernels/cpu/cross_entropy.h"
#include "toadstool/kernels/cpu/dropout.h"
#include "toadstool/kernels/cpu/elementwise.h"
#include "toadstool/kernels/cpu/fma_peak.h"
#include "toadstool/kernels/cpu/gemm.h"
#include "toadstool/kernels/cpu/gemm_bf16.h"
#include "toadstool/kernels/cpu/gemm_epilogue.h"
#include "toadstool/kernels/cpu/gemm_widened.h"
#include "toadstool/kernels/cpu/indexing.h"
#include "toadstool/kernels/cpu/layer_norm.h"
#include "toadstool/kernels/cpu/lstm_cell.h"
#include "toadstool/kernels/cpu/optim.h"
#include "toadstool/kernels/cpu/parallel.h"
#include "toadstool/kernels/cpu/random.h"
#include "toadstool/kernels/cpu/reduce.h"
#include "toadstool/kernels/cpu/softmax.h"
#include "toadstool/kernels/dtype_dispatch.h"
#include "toadstool/kernels/optim_math.h"
#include "toadstool/kernels/reduce_ops.h"

namespace toadstool::kernels::cpu {

namespace {

// ---- memory ----

constexpr size_t kAlignment = 64;

void* allocate(size_t nbytes) {
  // aligned_alloc wants a multiple of the alignment, and a unique pointer
  // for zero bytes.
  return std::aligned_alloc(kAlignment, (nbytes + kAlignment - 1) / kAlignment * kAlignment +
                                            (nbytes == 0 ? kAlignment : 0));
}
void deallocate(void* ptr, size_t /*nbytes*/) { std::free(ptr); }
void copy_bytes(void* dst, const void* src, size_t nbytes) {
  if (nbytes > 0) std::memcpy(dst, src, nbytes);
}

void triangle(void* data, size_t element_size, int64_t matrices, int64_t rows, int64_t cols,
              int64_t diagonal, bool lower) {
  auto* base = static_cast<char*>(data);
  parallel_for(0, matrices * rows, 256, [&](int64_t begin, int64_t end) {
    for (int64_t m = begin; m < end; ++m) {
      const int64_t r = m % rows;
      // Columns [zero_begin, zero_end) of this row are outside the triangle.
      const int64_t zero_begin = lower ? std::clamp<int64_t>(r + diagonal + 1, 0, cols) : 0;
      const int64_t zero_end = lower ? cols : std::clamp<int64_t>(r + diagonal, 0, cols);
      if (zero_end > zero_begin) {
        std::memset(base + (m * cols + zero_begin) * element_size, 0,
                    (zero_end - zero_begin) * element_size);
      }
    }
  });
}

// ---- reductions ----

// Values and indices of the extreme element of each output.
template <class T, bool kMax>
void arg_extremum(const ReduceCall& c) {
  std::vector<ValueIndex<T>> result(c.geometry.outputs);
  reduce(c.geometry, ArgExtremumReduce<T, kMax>{}, typed<T>(c.in), result.data());
  auto* values = typed<T>(c.out);
  for (size_t k = 0; k < result.size(); ++k) {
    values[k] = result[k].value;
    c.indices[k] = std::max<int64_t>(result[k].index, 0);
  }
}

void reduce_entry(const ReduceCall& c) {
  if (c.kind == ReduceKind::Var) {
    return for_dtype<TypeSet::Float>(c.dtype, "reduce", [&](auto zero) {
      using T = decltype(zero);
      reduce(c.geometry, VarReduce<T, T>{c.correction, c.take_sqrt}, typed<T>(c.in),
             typed<T>(c.out));
    });
  }
  if (c.kind == ReduceKind::Sum) {  // every dtype: 16-bit floats are summed as they are stored
    return for_dtype<TypeSet::All>(c.dtype, "reduce", [&](auto zero) {
      using T = decltype(zero);
      reduce(c.geometry, SumReduce<T, sum_out_t<T>>{c.scale}, typed<T>(c.in),
             typed<sum_out_t<T>>(c.out));
    });
  }
  if (c.kind == ReduceKind::SumSquares) {
    return for_dtype<TypeSet::Float>(c.dtype, "reduce", [&](auto zero) {
      using T = decltype(zero);
      reduce(c.geometry, SumSquaresReduce<T, T>{}, typed<T>(c.in), typed<T>(c.out));
    });
  }
  for_dtype<TypeSet::Compute>(c.dtype, "reduce", [&](auto zero) {
    using T = decltype(zero);
    using SumOut = sum_out_t<T>;
    switch (c.kind) {
      case ReduceKind::Prod:
        return reduce(c.geometry, ProdReduce<T, SumOut>{}, typed<T>(c.in), typed<SumOut>(c.out));
      case ReduceKind::Max:
        return reduce(c.geometry, ExtremumReduce<T, true>{}, typed<T>(c.in), typed<T>(c.out));
      case ReduceKind::Min:
        return reduce(c.geometry, ExtremumReduce<T, false>{}, typed<T>(c.in), typed<T>(c.out));
      case ReduceKind::ArgMax: return arg_extremum<T, true>(c);
      case ReduceKind::ArgMin: return arg_extremum<T, false>(c);
      case ReduceKind::Sum:
      case ReduceKind::SumSquares:
      case ReduceKind::Var: break;
    }
  });
}

// ---- GEMM ----

// float and double fuse the epilogue (the packed kernel per tile); the
// 16-bit GEMMs are followed by it as a pass over C (but for a bias and ReLU
// on the bfloat16 AVX512-BF16 / AMX paths, which fuse them into their store).
void gemm_entry(DType dtype, const GemmCall& c) {
  if (dtype == DType::Float16) {
    gemm_widened(c, static_cast<const Half*>(nullptr));
    return apply_epilogue<Half>(c);
  }
  if (dtype == DType::BFloat16) {
    if (!gemm_bf16(c)) apply_epilogue<BFloat16>(c);
    return;
  }
  for_dtype<TypeSet::Float>(dtype, "gemm", [&](auto zero) {
    using T = decltype(zero);
    gemm(c, static_cast<const T*>(nullptr));
  });
}

// ---- row kernels ----

void softmax_forward_entry(DType dtype, const void* x, void* y, int64_t outer, int64_t dim,
                           int64_t inner, bool log) {
  for_dtype<TypeSet::Float>(dtype, "softmax_forward", [&](auto zero) {
    using T = decltype(zero);
    softmax_forward(typed<T>(x), typed<T>(y), outer, dim, inner, log);
  });
}

void softmax_backward_entry(DType dtype, const void* grad_y, const void* y, void* grad_x,
                            int64_t outer, int64_t dim, int64_t inner, bool log) {
  for_dtype<TypeSet::Float>(dtype, "softmax_backward", [&](auto zero) {
    using T = decltype(zero);
    softmax_backward(typed<T>(grad_y), typed<T>(y), typed<T>(grad_x), outer, dim, inner, log);
  });
}

void layer_norm_forward_entry(DType dtype, const void* x, const void* gamma, const void* beta,
                              void* y, void* mean, void* rstd, int64_t rows, int64_t cols,
                              double eps) {
  for_dtype<TypeSet::Float>(dtype, "layer_norm_forward", [&](auto zero) {
    using T = decltype(zero);
    layer_norm_forward(typed<T>(x), typed<T>(gamma), typed<T>(beta), typed<T>(y), typed<T>(mean),
                       typed<T>(rstd), rows, cols, eps);
  });
}

void layer_norm_backward_entry(DType dtype, const void* grad_y, const void* x, const void* mean,
                               const void* rstd, const void* gamma, void* grad_x, void* grad_gamma,
                               void* grad_beta, int64_t rows, int64_t cols) {
  for_dtype<TypeSet::Float>(dtype, "layer_norm_backward", [&](auto zero) {
    using T = decltype(zero);
    layer_norm_backward(typed<T>(grad_y), typed<T>(x), typed<T>(mean), typed<T>(rstd),
                        typed<T>(gamma), typed<T>(grad_x), typed<T>(grad_gamma),
                        typed<T>(grad_beta), rows, cols);
  });
}

// The block's dtype: the norm's, or a 16-bit one with float32.
void check_block_dtype(DType dtype, DType block_dtype) {
  const bool widened =
      dtype == DType::Float32 && (block_dtype == DType::BFloat16 || block_dtype == DType::Float16);
  if (block_dtype != dtype && !widened) {
    throw std::invalid_argument(std::string("a ") + dtype_name(block_dtype) + " block with " +
                                dtype_name(dtype) + " sums");
  }
}

void dropout_add_layer_norm_forward_entry(DType dtype, DType block_dtype, const void* block,
                                          const void* residual, const DropoutMask& mask, void* x,
                                          const void* gamma, const void* beta, void* y, void* mean,
                                          void* rstd, int64_t rows, int64_t cols, double eps) {
  check_block_dtype(dtype, block_dtype);
  for_dtype<TypeSet::Float>(dtype, "dropout_add_layer_norm_forward", [&](auto zero) {
    using T = decltype(zero);
    dropout_add_layer_norm_forward(block_dtype, block, typed<T>(residual), mask, typed<T>(x),
                                   typed<T>(gamma), typed<T>(beta), typed<T>(y), typed<T>(mean),
                                   typed<T>(rstd), rows, cols, eps);
  });
}

void dropout_add_layer_norm_backward_entry(DType dtype, DType block_dtype, const void* grad_y,
                                           const void* x, const void* mean, const void* rstd,
                                           const void* gamma, const DropoutMask& mask, void* grad_x,
                                           void* grad_block, void* grad_gamma, void* grad_beta,
                                           int64_t rows, int64_t cols) {
  check_block_dtype(dtype, block_dtype);
  for_dtype<TypeSet::Float>(dtype, "dropout_add_layer_norm_backward", [&](auto zero) {
    using T = decltype(zero);
    dropout_add_layer_norm_backward(typed<T>(grad_y), typed<T>(x), typed<T>(mean), typed<T>(rstd),
                                    typed<T>(gamma), mask, typed<T>(grad_x), block_dtype,
                                    grad_block, typed<T>(grad_gamma), typed<T>(grad_beta), rows,
                                    cols);
  });
}

void cross_entropy_forward_entry(DType dtype, const void* x, const int64_t* target,
                                 const void* weight, int64_t outer, int64_t classes, int64_t inner,
                                 int64_t ignore_index, void* lse, void* nll, void* smooth) {
  for_dtype<TypeSet::Float>(dtype, "cross_entropy_forward", [&](auto zero) {
    using T = decltype(zero);
    cross_entropy_forward(typed<T>(x), target, typed<T>(weight), outer, classes, inner,
                          ignore_index, typed<T>(lse), typed<T>(nll), typed<T>(smooth));
  });
}

void cross_entropy_backward_entry(DType dtype, const void* x, const int64_t* target,
                                  const void* weight, const void* lse, const void* grad,
                                  int64_t grad_stride, double a, double b, int64_t outer,
                                  int64_t classes, int64_t inner, int64_t ignore_index,
                                  void* grad_x) {
  for_dtype<TypeSet::Float>(dtype, "cross_entropy_backward", [&](auto zero) {
    using T = decltype(zero);
    cross_entropy_backward(typed<T>(x), target, typed<T>(weight), typed<T>(lse), typed<T>(grad),
                           grad_stride, T(a), T(b), outer, classes, inner, ignore_index,
                           typed<T>(grad_x));
  });
}

// lse is float64 for float64 calls, else float32 (16-bit calls too).
template <class T>
using AttentionLse = std::conditional_t<std::is_same_v<T, double>, double, float>;

void attention_forward_entry(DType dtype, const AttentionCall& call, void* out, void* lse) {
  for_dtype<TypeSet::Floating>(dtype, "attention_forward", [&](auto zero) {
    using T = decltype(zero);
    attention_forward(std::bit_cast<AttentionArgs<T>>(call), typed<T>(out),
                      static_cast<AttentionLse<T>*>(lse));
  });
}

void attention_backward_entry(DType dtype, const AttentionCall& call, const void* out,
                              const void* lse, const void* grad_out, void* grad_q, void* grad_k,
                              void* grad_v) {
  for_dtype<TypeSet::Floating>(dtype, "attention_backward", [&](auto zero) {
    using T = decltype(zero);
    attention_backward(std::bit_cast<AttentionArgs<T>>(call), typed<T>(out),
                       static_cast<const AttentionLse<T>*>(lse), typed<T>(grad_out),
                       typed<T>(grad_q), typed<T>(grad_k), typed<T>(grad_v));
  });
}

// ---- indexing ----

void index_select_entry(DType dtype, const void* in, const int64_t* index, void* out, int64_t outer,
                        int64_t in_dim, int64_t n, int64_t inner) {
  for_dtype<TypeSet::All>(dtype, "index_select", [&](auto zero) {
    using T = decltype(zero);
    index_select(typed<T>(in), index, typed<T>(out), outer, in_dim, n, inner);
  });
}

void im2col_entry(DType dtype, const ConvWindows& windows, const void* input, void* columns) {
  for_dtype<TypeSet::Float>(dtype, "im2col", [&](auto zero) {
    using T = decltype(zero);
    im2col(windows, typed<T>(input), typed<T>(columns));
  });
}

void col2im_entry(DType dtype, const ConvWindows& windows, const void* columns, void* input) {
  for_dtype<TypeSet::Float>(dtype, "col2im", [&](auto zero) {
    using T = decltype(zero);
    col2im(windows, typed<T>(columns), typed<T>(input));
  });
}

void conv_forward_entry(DType dtype, const ConvArgs& args, const void* input, const void* weight,
                        const void* bias, void* out) {
  for_dtype<TypeSet::Float>(dtype, "conv_forward", [&](auto zero) {
    using T = decltype(zero);
    conv_forward(args, typed<T>(input), typed<T>(weight), typed<T>(bias), typed<T>(out));
  });
}

void conv_backward_entry(DType dtype, const ConvArgs& args, const void* grad_out, const void* input,
                         const void* weight, void* grad_input, void* grad_weight, void* grad_bias) {
  for_dtype<TypeSet::Float>(dtype, "conv_backward", [&](auto zero) {
    using T = decltype(zero);
    conv_backward(args, typed<T>(grad_out), typed<T>(input), typed<T>(weight), typed<T>(grad_input),
                  typed<T>(grad_weight), typed<T>(grad_bias));
  });
}

void lstm_cell_forward_entry(DType dtype, const LstmCellForward& args) {
  for_dtype<TypeSet::Float>(dtype, "lstm_cell_forward",
                            [&](auto zero) { lstm_cell_forward<decltype(zero)>(args); });
}

void lstm_cell_backward_entry(DType dtype, const LstmCellBackward& args) {
  for_dtype<TypeSet::Float>(dtype, "lstm_cell_backward",
                            [&](auto zero) { lstm_cell_backward<decltype(zero)>(args); });
}

void index_add_entry(DType dtype, void* out, const int64_t* index, const void* src,
                     KernelScalar alpha, int64_t outer, int64_t out_dim, int64_t n, int64_t inner) {
  for_dtype<TypeSet::Compute>(dtype, "index_add", [&](auto zero) {
    using T = decltype(zero);
    index_add(typed<T>(out), index, typed<T>(src), alpha.as<T>(), outer, out_dim, n, inner);
  });
}

void gather_entry(DType dtype, const IndexGeometry& g, const void* self, const int64_t* index,
                  void* out, int64_t numel) {
  for_dtype<TypeSet::All>(dtype, "gather", [&](auto zero) {
    using T = decltype(zero);
    gather(g, typed<T>(self), index, typed<T>(out), numel);
  });
}

void scatter_add_entry(DType dtype, const IndexGeometry& g, void* self, const int64_t* index,
                       const void* src, int64_t numel) {
  for_dtype<TypeSet::Compute>(dtype, "scatter_add", [&](auto zero) {
    using T = decltype(zero);
    scatter_add(g, typed<T>(self), index, typed<T>(src), numel);
  });
}

// ---- random numbers ----

void fill_uniform_entry(DType dtype, void* out, int64_t n, uint64_t seed, uint64_t offset,
                        double low, double high) {
  for_dtype<TypeSet::Float>(dtype, "fill_uniform", [&](auto zero) {
    using T = decltype(zero);
    fill_uniform(typed<T>(out), n, seed, offset, T(low), T(high));
  });
}

void fill_normal_entry(DType dtype, void* out, int64_t n, uint64_t seed, uint64_t offset,
                       double mean, double std) {
  for_dtype<TypeSet::Float>(dtype, "fill_normal", [&](auto zero) {
    using T = decltype(zero);
    fill_normal(typed<T>(out), n, seed, offset, T(mean), T(std));
  });
}

void fill_bernoulli_entry(DType dtype, void* out, int64_t n, uint64_t seed, uint64_t offset,
                          double p) {
  for_dtype<TypeSet::All>(dtype, "fill_bernoulli", [&](auto zero) {
    using T = decltype(zero);
    fill_bernoulli(typed<T>(out), n, seed, offset, p);
  });
}

void fill_bernoulli_tensor_entry(DType dtype, void* out, const void* probs, int64_t n,
                                 uint64_t seed, uint64_t offset) {
  for_dtype<TypeSet::Floating>(dtype, "fill_bernoulli_tensor", [&](auto zero) {
    using T = decltype(zero);
    fill_bernoulli(typed<T>(out), typed<T>(probs), n, seed, offset);
  });
}

void dropout_entry(DType dtype, void* out, const void* in, const void* residual, int64_t n,
                   const DropoutMask& mask) {
  for_dtype<TypeSet::Floating>(dtype, "dropout", [&](auto zero) {
    using T = decltype(zero);
    dropout(typed<T>(out), typed<T>(in), typed<T>(residual), n, mask);
  });
}

// ---- fused optimizer steps ----

void sgd_step_entry(DType dtype, const SgdStepCall* steps, int64_t count) {
  for_dtype<TypeSet::Float>(dtype, "sgd_step", [&](auto zero) {
    using T = decltype(zero);
    for (const SgdStepCall& step : std::span(steps, static_cast<size_t>(count))) {
      if (gate_skips(step.hp.gate, /*counter=*/true)) continue;
      SgdStep hp = step.hp;
      if (hp.gate.skip != nullptr) hp.first_step = hp.gate.taken_step() == 1;
      sgd_step(typed<T>(step.param), typed<T>(step.grad), typed<T>(step.momentum_buffer), step.n,
               hp);
    }
  });
}

void adam_step_entry(DType dtype, const AdamStepCall* steps, int64_t count) {
  for_dtype<TypeSet::Float>(dtype, "adam_step", [&](auto zero) {
    using T = decltype(zero);
    for (const AdamStepCall& step : std::span(steps, static_cast<size_t>(count))) {
      if (gate_skips(step.hp.gate, /*counter=*/true)) continue;
      AdamStep hp = step.hp;
      if (hp.gate.skip != nullptr) hp.step = hp.gate.taken_step();
      adam_step(typed<T>(step.param), typed<T>(step.grad), typed<T>(step.exp_avg),
                typed<T>(step.exp_avg_sq), typed<T>(step.max_exp_avg_sq), step.n, hp);
    }
  });
}

Backend make_cpu_backend(const char* isa) {
  Backend b;
  b.device = "cpu";
  b.isa = isa;
  b.bf16_gemm_path = bf16_gemm_path;
  b.set_bf16_gemm_path = set_bf16_gemm_path;
  b.fma_peak_gflops = fma_peak_gflops;
  b.allocate = allocate;
  b.deallocate = deallocate;
  b.copy_to_host = copy_bytes;
  b.copy_from_host = copy_bytes;
  b.convert = convert;
  b.elementwise = elementwise;
  b.triangle = triangle;
  b.reduce = reduce_entry;
  b.gemm = gemm_entry;
  b.softmax_forward = softmax_forward_entry;
  b.softmax_backward = softmax_backward_entry;
  b.layer_norm_forward = layer_norm_forward_entry;
  b.layer_norm_backward = layer_norm_backward_entry;
  b.dropout_add_layer_norm_forward = dropout_add_layer_norm_forward_entry;
  b.dropout_add_layer_norm_backward = dropout_add_layer_norm_backward_entry;
  b.cross_entropy_forward = cross_entropy_forward_entry;
  b.cross_entropy_backward = cross_entropy_backward_entry;
  b.attention_forward = attention_forward_entry;
  b.attention_backward = attention_backward_entry;
  b.index_select = index_select_entry;
  b.index_add = index_add_entry;
  b.gather = gather_entry;
  b.scatter_add = scatter_add_entry;
  b.hashed_bigrams = hashed_bigrams;
  b.im2col = im2col_entry;
  b.col2im = col2im_entry;
  b.conv_forward = conv_forward_entry;
  b.conv_backward = conv_backward_entry;
  b.lstm_cell_forward = lstm_cell_forward_entry;
  b.lstm_cell_backward = lstm_cell_backward_entry;
  b.fill_uniform = fill_uniform_entry;
  b.fill_normal = fill_normal_entry;
  b.fill_randint = fill_randint;
  b.fill_bernoulli = fill_bernoulli_entry;
  b.fill_bernoulli_tensor = fill_bernoulli_tensor_entry;
  b.dropout = dropout_entry;
  b.fill_randperm = fill_randperm;
  b.sgd_step = sgd_step_entry;
  b.adam_step = adam_step_entry;
  return b;
}

}  // namespace

}  // namespace toadstool::kernels::cpu

// This compile's table, named after its instruction set: baseline (the
// library's own compile), or a variant of cmake/toadstool_cpu_isas.cmake,
// which keeps this extern "C" function as the variant's one global symbol.
// kernels/backend.cpp chooses among them.
#ifndef TOADSTOOL_CPU_ISA
#define TOADSTOOL_CPU_ISA baseline
#endif
#define TOADSTOOL_CPU_NAME(isa) #isa
#define TOADSTOOL_CPU_BACKEND(isa) toadstool_cpu_backend_##isa
#define TOADSTOOL_CPU_EXPAND(macro, isa) macro(isa)

extern "C" const toadstool::kernels::Backend* TOADSTOOL_CPU_EXPAND(TOADSTOOL_CPU_BACKEND,
                                                                   TOADSTOOL_CPU_ISA)() {
  static const toadstool::kernels::Backend backend = toadstool::kernels::cpu::make_cpu_backend(
      TOADSTOOL_CPU_EXPAND(TOADSTOOL_CPU_NAME, TOADSTOOL_CPU_ISA));
  return &backend;
}
