#include "toadstool/nn/zoo/lstm_attention_classifier.h"

#include <limits>

#include "toadstool/autograd/ops.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool::nn {

LstmAttentionClassifier::LstmAttentionClassifier(const LstmAttentionClassifierOptions& options)
    : UnaryModule("LstmAttentionClassifier"), options(options) {
  TS_CHECK(options.vocab_size >= 1 && options.embedding_dim >= 1 && options.hidden_size >= 1 &&
               options.attention_dim >= 1 && options.num_classes >= 1,
           "LstmAttentionClassifier: vocab_size, embedding_dim, hidden_size, attention_dim and "
           "num_classes must be >= 1, got ",
           options.vocab_size, ", ", options.embedding_dim, ", ", options.hidden_size, ", ",
           options.attention_dim, " and ", options.num_classes);
  embedding = register_module(
      "embedding",
      std::make_shared<Embedding>(options.vocab_size, options.embedding_dim, options.padding_idx));
  lstm = register_module(
      "lstm",
      std::make_shared<LSTM>(options.embedding_dim, options.hidden_size,
                             RNNOptions{.num_layers = options.num_layers,
                                        .batch_first = true,
                                        .dropout = options.num_layers > 1 ? options.dropout : 0.0,
                                        .bidirectional = true,
                                        .generator = options.generator}));
  attention = register_module(
      "attention", std::make_shared<Linear>(2 * options.hidden_size, options.attention_dim));
  score = register_module("score", std::make_shared<Linear>(options.attention_dim, 1, false));
  dropout =
      register_module("dropout", std::make_shared<Dropout>(options.dropout, options.generator));
  head = register_module("head",
                         std::make_shared<Linear>(2 * options.hidden_size, options.num_classes));
}

Tensor LstmAttentionClassifier::forward(const Tensor& ids) {
  TS_CHECK(ids.defined() && ids.dim() == 2 && ids.dtype() == kInt64 && ids.size(1) >= 1,
           "LstmAttentionClassifier: ids must be int64 [batch, length >= 1], got ",
           detail::describe(ids));
  const int64_t len = ids.size(1);
  // Each sequence runs up to its last non-padding token (position + 1),
  // at least one step: [B] int64.
  const Tensor real = ne(ids, options.padding_idx);  // [B, L] bool
  const Tensor positions = arange(1, len + 1, 1, TensorOptions(kInt64).device(ids.device()));
  const Tensor lengths = where(real, positions.unsqueeze(0), 0).amax({1}).clamp(1, std::nullopt);
  const Tensor hidden =
      lstm->forward(embedding->forward(ids), std::nullopt, lengths.to(kCPU)).first;  // [B, L, 2H]
  // Additive attention over the steps of each sequence: [B, L].
  const Tensor scores = score->forward(tanh(attention->forward(hidden))).squeeze(2);
  const Tensor padding = ge(positions.unsqueeze(0), lengths.unsqueeze(1) + 1);  // [B, L]
  const Tensor weights =
      softmax(masked_fill(scores, padding, -std::numeric_limits<double>::infinity()), 1);
  last_attention_ = weights.detach();
  const Tensor pooled = matmul(weights.unsqueeze(1), hidden).squeeze(1);  // [B, 2H]
  return head->forward(dropout->forward(pooled));
}

std::string LstmAttentionClassifier::extra_repr() const {
  return detail::concat(
      "vocab_size=", options.vocab_size, ", embedding_dim=", options.embedding_dim,
      ", hidden_size=", options.hidden_size, ", num_layers=", options.num_layers,
      ", attention_dim=", options.attention_dim, ", num_classes=", options.num_classes);
}

}  // namespace toadstool::nn
