#pragma once
// The element-wise loop that every per-element CPU kernel runs through.
//
// The front-end (tensor/elementwise.h) broadcasts the operands, drops
// size-1 dims and merges dims that are contiguous in every operand, then
// hands over a StridedPlan: sizes[d] and, for each operand, strides[k][d] in
// elements, innermost dim first. Operand 0 is the output.
//
// The loop splits the flat index range over the OpenMP team. Inside a chunk
// the innermost dim runs as a plain loop; when every operand has stride 1
// there, it is the `out[i] = f(in[i]...)` loop the compiler vectorizes.
#include <array>
#include <cstdint>
#include <tuple>
#include <utility>

#include "toadstool/kernels/cpu/parallel.h"
#include "toadstool/kernels/kernel_args.h"

namespace toadstool::kernels::cpu {

namespace detail {

// Runs `count` steps of the innermost dim from the given base pointers.
template <class F, class Out, class... In, size_t... I>
inline void inner_loop(const F& f, int64_t count, Out* out, int64_t out_stride,
                       const std::tuple<const In*...>& in,
                       const std::array<int64_t, sizeof...(In)>& in_strides, bool contiguous,
                       std::index_sequence<I...>) {
  if (contiguous) {
    for (int64_t i = 0; i < count; ++i) out[i] = f(std::get<I>(in)[i]...);
  } else {
    for (int64_t i = 0; i < count; ++i)
      out[i * out_stride] = f(std::get<I>(in)[i * in_strides[I]]...);
  }
}

// The input pointers advanced by their offsets (offset[0] is the output's).
template <class... In, size_t N, size_t... I>
inline std::tuple<const In*...> offset_inputs(const std::tuple<const In*...>& inputs,
                                              const std::array<int64_t, N>& offset,
                                              std::index_sequence<I...>) {
  return {(std::get<I>(inputs) + offset[I + 1])...};
}

}  // namespace detail

// out[idx] = f(in_0[idx], ..., in_n[idx]) over the plan, in parallel.
// The plan has 1 + sizeof...(In) operands.
template <class F, class Out, class... In>
void elementwise(const StridedPlan& plan, const F& f, Out* out, const In*... in) {
  constexpr int kArgs = 1 + sizeof...(In);
  const bool contiguous = plan.inner_contiguous();
  const int64_t inner = plan.sizes[0];
  const std::tuple<const In*...> inputs{in...};
  parallel_for(0, plan.numel, kDefaultGrain, [&](int64_t begin, int64_t end) {
    // Multi-index of `begin` and the matching element offset of each operand.
    std::array<int64_t, kMaxLoopDims> index{};
    std::array<int64_t, kArgs> offset{};
    int64_t rest = begin;
    for (int d = 0; d < plan.ndim; ++d) {
      index[d] = rest % plan.sizes[d];
      rest /= plan.sizes[d];
      for (int k = 0; k < kArgs; ++k) offset[k] += index[d] * plan.strides[k][d];
    }
    std::array<int64_t, sizeof...(In)> in_strides{};
    for (size_t k = 0; k < sizeof...(In); ++k) in_strides[k] = plan.strides[k + 1][0];

    int64_t pos = begin;
    while (pos < end) {
      const int64_t count = std::min(inner - index[0], end - pos);
      const auto bases = detail::offset_inputs(inputs, offset, std::index_sequence_for<In...>{});
      detail::inner_loop(f, count, out + offset[0], plan.strides[0][0], bases, in_strides,
                         contiguous, std::index_sequence_for<In...>{});
      pos += count;
      // Advance the multi-index by `count` (carry into outer dims).
      for (int k = 0; k < kArgs; ++k) offset[k] += count * plan.strides[k][0];
      index[0] += count;
      for (int d = 0; d + 1 < plan.ndim && index[d] == plan.sizes[d]; ++d) {
        for (int k = 0; k < kArgs; ++k) {
          offset[k] += plan.strides[k][d + 1] - plan.sizes[d] * plan.strides[k][d];
        }
        index[d] = 0;
        ++index[d + 1];
      }
    }
  });
}

}  // namespace toadstool::kernels::cpu
