#pragma once
// Options of the loss ops (toadstool::cross_entropy, nll_loss,
// binary_cross_entropy_with_logits, mse_loss), PyTorch's names and defaults.
// A loss module (nn::CrossEntropyLoss, ...) holds one of these.
#include <cstdint>

#include "toadstool/tensor/tensor.h"

namespace toadstool {

// How per-element losses become the result: kept as they are (`none`),
// summed, or averaged (`mean`; the weighted mean for weighted losses).
enum class Reduction { none, mean, sum };

const char* reduction_name(Reduction r);

struct CrossEntropyOptions {
  Tensor weight{};               // [C] per-class weights (logits' dtype), or undefined
  int64_t ignore_index = -100;   // targets equal to it add nothing (loss and gradient 0)
  double label_smoothing = 0.0;  // in [0, 1]: mixes the target with the uniform distribution
  Reduction reduction = Reduction::mean;
};

struct NLLLossOptions {
  Tensor weight{};  // [C] per-class weights (input's dtype), or undefined
  int64_t ignore_index = -100;
  Reduction reduction = Reduction::mean;
};

struct BCEWithLogitsOptions {
  Tensor weight{};      // broadcast to the input: rescales each element's loss
  Tensor pos_weight{};  // broadcast to the input (usually [C], the last dim): weight of positives
  Reduction reduction = Reduction::mean;
};

}  // namespace toadstool
