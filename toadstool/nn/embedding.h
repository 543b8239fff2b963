#pragma once
// nn::Embedding: a lookup table. int64 ids of any shape [...] -> vectors
// [..., embedding_dim]. weight [num_embeddings, embedding_dim] starts as
// N(0, 1) with the padding row zero, as PyTorch; the padding row gets no
// gradient.
#include <optional>

#include "toadstool/nn/module.h"

namespace toadstool::nn {

class Embedding : public UnaryModule {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim,
            std::optional<int64_t> padding_idx = std::nullopt);
  Tensor forward(const Tensor& ids) override;
  std::string extra_repr() const override;

  int64_t num_embeddings;
  int64_t embedding_dim;
  std::optional<int64_t> padding_idx;  // normalised to [0, num_embeddings)
  Tensor weight;                       // [num_embeddings, embedding_dim]
};

}  // namespace toadstool::nn
