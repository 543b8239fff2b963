#pragma once
// TransformerClassifier: sequence classification from token ids.
//
//   ids [B, L] int64 (padding_idx marks padding; in training, token_dropout
//      replaces real tokens by unk_idx)
//   -> embedding [B, L, d] (+ hashed bigram embedding [B, L, d] with
//      bigram_buckets: fastText's n-gram features; [B, L, bigram_dim]
//      projected to d when narrower) + positional encoding, dropout
//   -> (pooling "cls": a learned class token prepended: [B, 1 + L, d])
//   -> TransformerEncoder (key-padding mask from the ids; on the CPU over
//      the real tokens only, packed [N, d]: see pack_tokens)
//   -> pooling: "mean" over non-padding tokens, or the class token: [B, d]
//   -> head Linear: logits [B, num_classes]
//
// The IMDB reference configuration is the default.
#include <memory>
#include <string>

#include "toadstool/nn/embedding.h"
#include "toadstool/nn/transformer.h"

namespace toadstool::nn {

struct TransformerClassifierOptions {
  int64_t vocab_size = 20000;
  int64_t d_model = 128;
  int64_t nhead = 4;
  int64_t num_layers = 2;
  int64_t dim_feedforward = 512;
  double dropout = 0.1;
  int64_t max_len = 512;
  int64_t padding_idx = 0;
  int64_t num_classes = 2;
  std::string pooling = "mean";           // or "cls"
  std::string positional = "sinusoidal";  // or "learned"
  std::string activation = "relu";        // or "gelu"
  bool norm_first = false;                // pre-norm layers get a final norm
  // > 0: each token's embedding also gets the embedding of the bigram it
  // ends, hashed into this many buckets (hashed_bigrams; 0 is padding).
  int64_t bigram_buckets = 0;
  // Width of the bigram vectors; narrower than d_model, they are projected
  // to d_model by a Linear without bias (0: d_model, no projection). Many
  // narrow buckets cost the optimizer less than few wide ones.
  int64_t bigram_dim = 0;
  // Word dropout: in training, each real token is replaced by unk_idx with
  // this probability (before the bigrams are formed), so the model cannot
  // lean on any single word.
  double token_dropout = 0.0;
  int64_t unk_idx = 1;
  // On the CPU, the encoder runs on the batch's real tokens packed [N, d]
  // (nn/packed_tokens.h) when it has padding: projections, feed-forward,
  // norms and dropout skip the padded positions, whose outputs the pooling
  // never reads. The same values as the padded [B, L, d] run; only dropout
  // draws its masks over [N, d] instead. On a GPU the padded run stays
  // (counting N would wait for the device every step).
  bool pack_tokens = true;
  Generator* generator = nullptr;  // for dropout (default: the global one)
};

class TransformerClassifier : public UnaryModule {
 public:
  explicit TransformerClassifier(const TransformerClassifierOptions& options = {});
  Tensor forward(const Tensor& ids) override;
  std::string extra_repr() const override;

  TransformerClassifierOptions options;
  std::shared_ptr<Embedding> embedding;
  std::shared_ptr<Embedding> bigram_embedding;  // bigram_buckets > 0 only
  std::shared_ptr<Linear> bigram_projection;    // bigram_dim < d_model only
  std::shared_ptr<UnaryModule> pos_encoding;
  std::shared_ptr<Dropout> dropout;
  std::shared_ptr<TransformerEncoder> encoder;
  std::shared_ptr<Linear> head;
  Tensor cls_token;  // [1, 1, d_model], pooling "cls" only
};

}  // namespace toadstool::nn
