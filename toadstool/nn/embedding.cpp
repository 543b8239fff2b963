#include "toadstool/nn/embedding.h"

#include "toadstool/autograd/grad_mode.h"
#include "toadstool/autograd/ops.h"
#include "toadstool/nn/init.h"
#include "toadstool/tensor/factory.h"

namespace toadstool::nn {

Embedding::Embedding(int64_t num_embeddings, int64_t embedding_dim,
                     std::optional<int64_t> padding_idx)
    : UnaryModule("Embedding"), num_embeddings(num_embeddings), embedding_dim(embedding_dim) {
  TS_CHECK(num_embeddings > 0 && embedding_dim > 0,
           "Embedding: num_embeddings and embedding_dim must be positive, got ", num_embeddings,
           " and ", embedding_dim);
  if (padding_idx) {
    TS_CHECK(*padding_idx >= -num_embeddings && *padding_idx < num_embeddings,
             "Embedding: padding_idx ", *padding_idx, " is out of range for ", num_embeddings,
             " embeddings");
    this->padding_idx = *padding_idx < 0 ? *padding_idx + num_embeddings : *padding_idx;
  }
  weight = register_parameter("weight", empty({num_embeddings, embedding_dim}));
  init::normal_(weight);
  if (this->padding_idx) {
    NoGradGuard no_grad;
    weight.select(0, *this->padding_idx).fill_(0.0);
  }
}

Tensor Embedding::forward(const Tensor& ids) { return embedding(weight, ids, padding_idx); }

std::string Embedding::extra_repr() const {
  std::string text = detail::concat(num_embeddings, ", ", embedding_dim);
  if (padding_idx) text += detail::concat(", padding_idx=", *padding_idx);
  return text;
}

}  // namespace toadstool::nn
