#pragma once
// What an op definition in autograd/ uses to put itself on the tape:
//
//   Tensor exp(const Tensor& x) {
//     Tensor y = native::exp(x);
//     if (needs_grad(x)) {
//       record(Op::exp, y, {x}, [y = SavedTensor(y)](const Tensor& g) -> Grads {
//         return {g * y.get()};
//       });
//     }
//     return y;
//   }
//
// Backward functions run with grad mode off, so they are written with the
// public ops. They return one gradient per input in the shape of the output's
// broadcast; the engine sums it back to each input's own shape and dtype.
#include <vector>

#include "toadstool/autograd/grad_mode.h"
#include "toadstool/autograd/node.h"
#include "toadstool/tensor/tensor.h"

namespace toadstool::autograd {

using Grads = std::vector<Tensor>;

// Which of an op's input and output its derivative reads: only those are
// saved (kept alive, and checked for in-place changes).
enum class Saves { nothing, input, output, both };
inline bool saves_input(Saves s) { return s == Saves::input || s == Saves::both; }
inline bool saves_output(Saves s) { return s == Saves::output || s == Saves::both; }

// True when grad mode is on and any (defined) input requires grad.
template <class... Ts>
bool needs_grad(const Ts&... inputs) {
  return is_grad_enabled() && (inputs.requires_grad() || ...);
}
bool needs_grad(const std::vector<Tensor>& inputs);

// Makes `out` the result of a recorded `op` over `inputs`. When the native
// op handed back one of its inputs (contiguous() of a contiguous tensor),
// `out` becomes a fresh handle on the same data first.
void record(Op op, Tensor& out, const std::vector<Tensor>& inputs, BackwardFn backward);

// A new handle on t's data, shape and strides, without autograd state.
Tensor alias(const Tensor& t);

// The node a gradient for `t` goes to: its grad_fn, its leaf accumulator
// (created on first use), or null when t does not require grad.
std::shared_ptr<Node> gradient_sink(const Tensor& t);

}  // namespace toadstool::autograd
