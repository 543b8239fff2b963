#include "toadstool/nn/zoo/token_pooling.h"

#include "toadstool/autograd/ops.h"

namespace toadstool::nn {

Tensor mean_over_tokens(const Tensor& t, const Tensor& padding) {
  const Tensor keep = logical_not(padding).to(t.dtype()).unsqueeze(2);  // [B, L, 1]
  const Tensor count = keep.sum({1}).clamp(1.0, std::nullopt);          // [B, 1]
  return (t * keep).sum({1}) / count;
}

}  // namespace toadstool::nn
