#pragma once
// The element-wise entries' dispatch, written once for both backends: the
// functor of call.op (kernels/elementwise_list.h) built for the compute
// dtype with its scalars, its operands laid out by its Signature (bound
// scalars included), and every (to, from) pair of convert. Each backend
// supplies only its loop:
//
//   struct Loop {
//     template <class F, class Out, class... In>
//     static void run(const char* kernel, const StridedPlan& plan, const F& f,
//                     Out* out, const In*... in);  // out[idx] = f(in[idx]...)
//   };
//
// Host code, C++17 (nvcc compiles the CUDA backend's use of it).
#include <type_traits>

#include "toadstool/kernels/dtype_dispatch.h"
#include "toadstool/kernels/kernel_args.h"
#include "toadstool/kernels/math.h"

namespace toadstool::kernels::elementwise_dispatch {

// Whether Functor<T> holds OpScalars<T> p (the parameter idiom of math.h).
template <template <class> class Functor, class T, class = void>
struct TakesScalars : std::false_type {};
template <template <class> class Functor, class T>
struct TakesScalars<Functor, T, std::void_t<decltype(Functor<T>{OpScalars<T>{}})>>
    : std::true_type {};

template <template <class> class Functor, class T>
Functor<T> make_functor(const ElementwiseCall& call) {
  if constexpr (TakesScalars<Functor, T>::value) {
    return Functor<T>{OpScalars<T>{call.a.as<T>(), call.b.as<T>()}};
  } else {
    return Functor<T>{};
  }
}

template <class T>
const T* input(const ElementwiseCall& call, int k) {
  return static_cast<const T*>(call.in[k]);
}

// A binary functor over two tensors, or over one with the other operand
// bound to call.bound (the scalar forms run as unary loops).
template <class Loop, class Out, class T, class F>
void run_binary(const ElementwiseCall& call, const StridedPlan& plan, const F& f) {
  auto* out = static_cast<Out*>(call.out);
  switch (call.bind) {
    case Bind::None:
      return Loop::run("elementwise", plan, f, out, input<T>(call, 0), input<T>(call, 1));
    case Bind::First:
      return Loop::run("elementwise", plan, BindFirst<F, T>{f, call.bound.as<T>()}, out,
                       input<T>(call, 0));
    case Bind::Second:
      return Loop::run("elementwise", plan, BindSecond<F, T>{f, call.bound.as<T>()}, out,
                       input<T>(call, 0));
  }
}

template <class Loop, template <class> class Functor, Signature kSignature, TypeSet kTypes>
void run_row(const ElementwiseCall& call, const StridedPlan& plan) {
  for_dtype<kTypes>(call.dtype, "elementwise", [&](auto zero) {
    using T = decltype(zero);
    const Functor<T> f = make_functor<Functor, T>(call);
    T* const out = static_cast<T*>(call.out);  // unused by the bool-valued signatures
    (void)out;
    if constexpr (kSignature == Signature::Nullary) {
      Loop::run("elementwise", plan, f, out);
    } else if constexpr (kSignature == Signature::Unary) {
      Loop::run("elementwise", plan, f, out, input<T>(call, 0));
    } else if constexpr (kSignature == Signature::UnaryToBool) {
      Loop::run("elementwise", plan, f, static_cast<bool*>(call.out), input<T>(call, 0));
    } else if constexpr (kSignature == Signature::Binary) {
      run_binary<Loop, T, T>(call, plan, f);
    } else if constexpr (kSignature == Signature::BinaryToBool) {
      run_binary<Loop, bool, T>(call, plan, f);
    } else if constexpr (kSignature == Signature::Where) {
      Loop::run("elementwise", plan, f, out, input<bool>(call, 0), input<T>(call, 1),
                input<T>(call, 2));
    } else if constexpr (kSignature == Signature::MaskedFill) {
      Loop::run("elementwise", plan, f, out, input<T>(call, 0), input<bool>(call, 1));
    }
  });
}

// The elementwise entry: call.op over `plan`.
template <class Loop>
void elementwise(const ElementwiseCall& call, const StridedPlan& plan) {
  switch (call.op) {
#define TOADSTOOL_ELEMENTWISE(name, Functor, signature, types) \
  case ElementwiseOp::name:                                    \
    return run_row<Loop, Functor, Signature::signature, TypeSet::types>(call, plan);
#include "toadstool/kernels/elementwise_list.h"
#undef TOADSTOOL_ELEMENTWISE
  }
}

// The convert entry: every (to, from) pair of the six dtypes, CastOp<To>.
template <class Loop>
void convert(DType to, DType from, const StridedPlan& plan, void* out, const void* in) {
  for_dtype<TypeSet::All>(to, "convert", [&](auto to_zero) {
    using To = decltype(to_zero);
    for_dtype<TypeSet::All>(from, "convert", [&](auto from_zero) {
      using From = decltype(from_zero);
      Loop::run("convert", plan, CastOp<To>{}, static_cast<To*>(out), static_cast<const From*>(in));
    });
  });
}

}  // namespace toadstool::kernels::elementwise_dispatch
