// The CUDA element-wise entries: convert, elementwise and triangle, with the
// semantics of the CPU's (kernels/cpu/elementwise.cpp, cpu/backend.cpp).
//
// elementwise instantiates every row of kernels/elementwise_list.h for the
// dtypes of its TypeSet, with the same TS_HOST_DEVICE functors of
// kernels/math.h the CPU runs, so the CPU tests cover the per-element math.
//
// One strided kernel runs any StridedPlan: thread i takes linear element i
// (the plan's dims innermost first), splits it into a multi-index and sums
// each operand's strides. Every contiguous op reaches the kernels as a 1-D
// plan with all strides 1 (the front-end merges contiguous dims), which takes
// the plain out[i] = f(in[i]...) kernel instead.
#include <cstdint>
#include <utility>

#include "toadstool/kernels/cuda/common.cuh"
#include "toadstool/kernels/cuda/registry.h"
#include "toadstool/kernels/elementwise_dispatch.h"

namespace toadstool::kernels::cuda {

namespace {

// ---- the loops -------------------------------------------------------------

template <class F, class Out, class... In>
__global__ void contiguous_kernel(int64_t n, F f, Out* out, const In*... in) {
  for (int64_t i = first_index(); i < n; i += index_step()) out[i] = f(in[i]...);
}

// The element offset of each of kOperands operands (0 the output) at linear
// element i of the plan.
template <int kOperands>
struct Offsets {
  int64_t of[kOperands];
};

template <int kOperands>
__device__ Offsets<kOperands> offsets_at(const StridedPlan& plan, int64_t i) {
  Offsets<kOperands> o{};
  for (int d = 0; d < plan.ndim; ++d) {
    const int64_t size = plan.sizes[d];
    const int64_t c = i % size;
    i /= size;
    for (int k = 0; k < kOperands; ++k) o.of[k] += c * plan.strides[k][d];
  }
  return o;
}

// out[o.of[0]] = f(in_0[o.of[1]], in_1[o.of[2]], ...).
template <class F, class Out, size_t... I, class... In>
__device__ void apply_at(const F& f, Out* out, const Offsets<1 + sizeof...(In)>& o,
                         std::index_sequence<I...>, const In*... in) {
  out[o.of[0]] = f(in[o.of[I + 1]]...);
}

// The plan travels by value (~660 bytes of kernel parameters).
template <class F, class Out, class... In>
__global__ void strided_kernel(const StridedPlan plan, F f, Out* out, const In*... in) {
  constexpr int kOperands = 1 + sizeof...(In);
  for (int64_t i = first_index(); i < plan.numel; i += index_step()) {
    apply_at(f, out, offsets_at<kOperands>(plan, i), std::index_sequence_for<In...>{}, in...);
  }
}

// out[idx] = f(in_0[idx], ...) over the plan, which has 1 + sizeof...(In)
// operands.
template <class F, class Out, class... In>
void launch(const char* kernel, const StridedPlan& plan, const F& f, Out* out, const In*... in) {
  if (plan.numel <= 0) return;
  const unsigned blocks = blocks_for(plan.numel);
  if (plan.ndim == 1 && plan.inner_contiguous()) {
    launch_kernel(kernel, contiguous_kernel<F, Out, In...>, blocks, kThreads, 0, plan.numel, f, out,
                  in...);
  } else {
    launch_kernel(kernel, strided_kernel<F, Out, In...>, blocks, kThreads, 0, plan, f, out, in...);
  }
}

// The loop kernels/elementwise_dispatch.h runs the list's functors with.
struct CudaLoop {
  template <class F, class Out, class... In>
  static void run(const char* kernel, const StridedPlan& plan, const F& f, Out* out,
                  const In*... in) {
    launch(kernel, plan, f, out, in...);
  }
};

void elementwise(const ElementwiseCall& call, const StridedPlan& plan) {
  elementwise_dispatch::elementwise<CudaLoop>(call, plan);
}

void convert(DType to, DType from, const StridedPlan& plan, void* out, const void* in) {
  elementwise_dispatch::convert<CudaLoop>(to, from, plan, out, in);
}

// ---- triangle --------------------------------------------------------------

// Zeroes element (m, r, c) of `matrices` contiguous [rows, cols] matrices
// when it lies outside the triangle: lower keeps c - r <= diagonal, upper
// keeps c - r >= diagonal. Word is an unsigned integer of the element's
// size, so the kernel only moves bytes, whatever the dtype.
template <class Word>
__global__ void triangle_kernel(Word* data, int64_t numel, int64_t rows, int64_t cols,
                                int64_t diagonal, bool lower) {
  for (int64_t i = first_index(); i < numel; i += index_step()) {
    const int64_t c = i % cols;
    const int64_t r = (i / cols) % rows;
    const bool keep = lower ? c - r <= diagonal : c - r >= diagonal;
    if (!keep) data[i] = 0;
  }
}

void triangle(void* data, size_t element_size, int64_t matrices, int64_t rows, int64_t cols,
              int64_t diagonal, bool lower) {
  const int64_t numel = matrices * rows * cols;
  if (numel <= 0) return;
  const auto run_words = [&](auto zero) {
    using Word = decltype(zero);
    launch_kernel("triangle", triangle_kernel<Word>, blocks_for(numel), kThreads, 0,
                  static_cast<Word*>(data), numel, rows, cols, diagonal, lower);
  };
  switch (element_size) {
    case 1: return run_words(uint8_t{});
    case 2: return run_words(uint16_t{});
    case 4: return run_words(uint32_t{});
    case 8: return run_words(uint64_t{});
    default:
      throw std::invalid_argument("triangle: element size " + std::to_string(element_size) +
                                  " is not built");
  }
}

}  // namespace

void register_elementwise(Backend& b) {
  b.convert = convert;
  b.elementwise = elementwise;
  b.triangle = triangle;
}

}  // namespace toadstool::kernels::cuda
