#pragma once
// Internal to tensor/: the matrix FLOPs of one kernel-table call, for the
// kernel profile (tensor/kernel_profile.h says what is counted and why).
// KernelFlops<&kernels::Backend::entry>::count takes the entry's arguments;
// entries without a specialisation count 0.
#include <algorithm>
#include <cstdint>

#include "toadstool/kernels/backend.h"

namespace toadstool::detail {

template <auto Entry>
struct KernelFlops {
  template <class... Args>
  static double count(const Args&... /*args*/) {
    return 0;
  }
};

template <>
struct KernelFlops<&kernels::Backend::gemm> {
  static double count(DType /*dtype*/, const kernels::GemmCall& c) {
    return 2.0 * static_cast<double>(c.batch) * static_cast<double>(c.M) *
           static_cast<double>(c.N) * static_cast<double>(c.K);
  }
};

// The query-key pairs attention computes per head: L x S, or with a causal
// mask (key j <= query i) the pairs below the diagonal.
inline double attention_pairs(const kernels::AttentionCall& c) {
  const auto L = static_cast<double>(c.L), S = static_cast<double>(c.S);
  if (!c.causal) return L * S;
  const double full_rows = static_cast<double>(std::max<int64_t>(c.L - c.S, 0));
  const double ramp = std::min(L, S);  // rows 0..ramp-1 keep 1..ramp keys
  return ramp * (ramp + 1) / 2 + full_rows * S;
}

// Forward: scores q k^T (2E per pair) and p v (2Ev per pair).
template <>
struct KernelFlops<&kernels::Backend::attention_forward> {
  static double count(DType /*dtype*/, const kernels::AttentionCall& c, void* /*out*/,
                      void* /*lse*/) {
    return static_cast<double>(c.heads) * attention_pairs(c) * 2.0 *
           static_cast<double>(c.E + c.Ev);
  }
};

// Backward: grad_v = p^T grad_out and grad_p = grad_out v^T (2Ev per pair
// each), grad_q = grad_s k and grad_k = grad_s^T q (2E per pair each).
template <>
struct KernelFlops<&kernels::Backend::attention_backward> {
  template <class... Rest>
  static double count(DType /*dtype*/, const kernels::AttentionCall& c, const Rest&... /*rest*/) {
    return static_cast<double>(c.heads) * attention_pairs(c) * 4.0 *
           static_cast<double>(c.E + c.Ev);
  }
};

// A convolution: 2 flops per weight element, output position and image;
// the backward counts that once per gradient it writes (input, weight).
inline double conv_flops(const kernels::ConvArgs& a) {
  const kernels::ConvWindows& w = a.windows;
  const int64_t weights_per_output = w.channels / a.groups * w.kernel[0] * w.kernel[1];
  return 2.0 * static_cast<double>(w.batch) * static_cast<double>(a.out_channels) *
         static_cast<double>(w.out[0] * w.out[1]) * static_cast<double>(weights_per_output);
}

template <>
struct KernelFlops<&kernels::Backend::conv_forward> {
  template <class... Rest>
  static double count(DType /*dtype*/, const kernels::ConvArgs& a, const Rest&... /*rest*/) {
    return conv_flops(a);
  }
};

template <>
struct KernelFlops<&kernels::Backend::conv_backward> {
  static double count(DType /*dtype*/, const kernels::ConvArgs& a, const void* /*grad_out*/,
                      const void* /*input*/, const void* /*weight*/, const void* grad_input,
                      const void* grad_weight, const void* /*grad_bias*/) {
    return conv_flops(a) * ((grad_input != nullptr ? 1 : 0) + (grad_weight != nullptr ? 1 : 0));
  }
};

}  // namespace toadstool::detail
