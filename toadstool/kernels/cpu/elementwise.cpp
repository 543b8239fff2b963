// The CPU's element-wise entries: every functor of kernels/elementwise_list.h
// instantiated for its dtypes over the loop of kernels/cpu/loops.h.
#include "toadstool/kernels/cpu/elementwise.h"

#include "toadstool/kernels/cpu/loops.h"
#include "toadstool/kernels/dtype_dispatch.h"
#include "toadstool/kernels/math.h"

namespace toadstool::kernels::cpu {

namespace {

// Functor<T> with its scalars, when it has any (the OpScalars<T> p idiom).
template <template <class> class Functor, class T>
Functor<T> make_functor(const ElementwiseCall& call) {
  if constexpr (requires { Functor<T>{OpScalars<T>{}}; }) {
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
// bound to call.bound.
template <class Out, class T, class F>
void run_binary(const ElementwiseCall& call, const StridedPlan& plan, const F& f) {
  auto* out = static_cast<Out*>(call.out);
  switch (call.bind) {
    case Bind::None: return elementwise(plan, f, out, input<T>(call, 0), input<T>(call, 1));
    case Bind::First:
      return elementwise(plan, BindFirst<F, T>{f, call.bound.as<T>()}, out, input<T>(call, 0));
    case Bind::Second:
      return elementwise(plan, BindSecond<F, T>{f, call.bound.as<T>()}, out, input<T>(call, 0));
  }
}

template <template <class> class Functor, Signature signature, TypeSet types>
void run(const ElementwiseCall& call, const StridedPlan& plan) {
  for_dtype<types>(call.dtype, "elementwise", [&](auto zero) {
    using T = decltype(zero);
    const Functor<T> f = make_functor<Functor, T>(call);
    auto* out = static_cast<T*>(call.out);
    if constexpr (signature == Signature::Nullary) {
      elementwise(plan, f, out);
    } else if constexpr (signature == Signature::Unary) {
      elementwise(plan, f, out, input<T>(call, 0));
    } else if constexpr (signature == Signature::UnaryToBool) {
      elementwise(plan, f, static_cast<bool*>(call.out), input<T>(call, 0));
    } else if constexpr (signature == Signature::Binary) {
      run_binary<T, T>(call, plan, f);
    } else if constexpr (signature == Signature::BinaryToBool) {
      run_binary<bool, T>(call, plan, f);
    } else if constexpr (signature == Signature::Where) {
      elementwise(plan, f, out, input<bool>(call, 0), input<T>(call, 1), input<T>(call, 2));
    } else if constexpr (signature == Signature::MaskedFill) {
      elementwise(plan, f, out, input<T>(call, 0), input<bool>(call, 1));
    }
  });
}

}  // namespace

void elementwise(const ElementwiseCall& call, const StridedPlan& plan) {
  switch (call.op) {
#define TOADSTOOL_ELEMENTWISE(name, Functor, signature, types) \
  case ElementwiseOp::name:                                    \
    return run<Functor, Signature::signature, TypeSet::types>(call, plan);
#include "toadstool/kernels/elementwise_list.h"
#undef TOADSTOOL_ELEMENTWISE
  }
}

void convert(DType to, DType from, const StridedPlan& plan, void* out, const void* in) {
  for_dtype<TypeSet::All>(to, "convert", [&](auto to_zero) {
    using To = decltype(to_zero);
    for_dtype<TypeSet::All>(from, "convert", [&](auto from_zero) {
      using From = decltype(from_zero);
      elementwise(plan, CastOp<To>{}, static_cast<To*>(out), static_cast<const From*>(in));
    });
  });
}

}  // namespace toadstool::kernels::cpu
