#pragma once
// The GEMM epilogue of kernels/kernel_args.h (GemmEpilogue) for one element,
// written once for both backends: pre = c + bias rounded to T, then the
// activation of kernels/math.h's functors in the compute type (float for
// the 16-bit types), so a fused Linear gives the values of the separate
// add and activation ops.
#include <type_traits>

#include "toadstool/kernels/host_device.h"
#include "toadstool/kernels/kernel_args.h"
#include "toadstool/kernels/math.h"

namespace toadstool::kernels {

template <class T>
using EpilogueCompute = std::conditional_t<std::is_same_v<T, double>, double, float>;

template <GemmActivation kActivation, class C>
TS_HOST_DEVICE C activate(C x) {
  if constexpr (kActivation == GemmActivation::Relu) return ReluOp<C>()(x);
  if constexpr (kActivation == GemmActivation::GeluErf) return GeluErfOp<C>()(x);
  if constexpr (kActivation == GemmActivation::GeluTanh) return GeluTanhOp<C>()(x);
  if constexpr (kActivation == GemmActivation::None) return x;
}

// c + bias, rounded to T.
template <class T>
TS_HOST_DEVICE T add_bias(T c, T bias) {
  using C = EpilogueCompute<T>;
  return static_cast<T>(static_cast<C>(c) + static_cast<C>(bias));
}

template <GemmActivation kActivation, class T>
TS_HOST_DEVICE T activate_value(T pre) {
  using C = EpilogueCompute<T>;
  return static_cast<T>(activate<kActivation>(static_cast<C>(pre)));
}

// fn(ActivationConstant<kActivation>{}) for the call's activation (host
// code): each backend's loop is built once per activation, with no switch
// inside it. A constant argument rather than a template lambda: the CUDA
// sources are C++17, which has no explicit lambda template parameters.
template <GemmActivation kActivation>
using ActivationConstant = std::integral_constant<GemmActivation, kActivation>;

template <class Fn>
void with_activation(GemmActivation activation, Fn&& fn) {
  switch (activation) {
    case GemmActivation::None: return fn(ActivationConstant<GemmActivation::None>{});
    case GemmActivation::Relu: return fn(ActivationConstant<GemmActivation::Relu>{});
    case GemmActivation::GeluErf: return fn(ActivationConstant<GemmActivation::GeluErf>{});
    case GemmActivation::GeluTanh: return fn(ActivationConstant<GemmActivation::GeluTanh>{});
  }
}

}  // namespace toadstool::kernels
