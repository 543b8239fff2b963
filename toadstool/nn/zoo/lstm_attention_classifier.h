#pragma once
// LstmAttentionClassifier: sequence classification from token ids with a
// bidirectional LSTM and additive attention pooling.
//
//   ids [B, L] int64, right-padded with padding_idx
//   -> embedding [B, L, E] (the padding row zero, no gradient)
//   -> bidirectional LSTM, batch first, lengths from the padding (each
//      sequence up to its last non-padding token; at least 1): [B, L, 2H]
//   -> additive attention (Bahdanau): score_t = v^T tanh(W h_t + b), masked
//      to -inf at padding, softmax over time: weights [B, L];
//      pooled = sum_t weights_t h_t [B, 2H]
//   -> dropout -> head Linear: logits [B, num_classes]
//
// Parameter names: embedding.weight, lstm.weight_ih_l0 ... (PyTorch's LSTM
// names), attention.weight / attention.bias [A, 2H] / [A], score.weight
// [1, A], head.weight / head.bias.
#include <memory>
#include <string>

#include "toadstool/nn/activation.h"
#include "toadstool/nn/embedding.h"
#include "toadstool/nn/linear.h"
#include "toadstool/nn/rnn.h"

namespace toadstool::nn {

struct LstmAttentionClassifierOptions {
  int64_t vocab_size = 20000;
  int64_t embedding_dim = 128;
  int64_t hidden_size = 128;  // per direction
  int64_t num_layers = 1;
  int64_t attention_dim = 128;
  int64_t num_classes = 2;
  int64_t padding_idx = 0;
  double dropout = 0.1;            // before the head, and between LSTM layers
  Generator* generator = nullptr;  // for dropout (default: the global one)
};

class LstmAttentionClassifier : public UnaryModule {
 public:
  explicit LstmAttentionClassifier(const LstmAttentionClassifierOptions& options = {});
  Tensor forward(const Tensor& ids) override;
  // The attention weights [B, L] of the last forward (0 at padding): what
  // the model looked at.
  const Tensor& last_attention() const { return last_attention_; }
  std::string extra_repr() const override;

  LstmAttentionClassifierOptions options;
  std::shared_ptr<Embedding> embedding;
  std::shared_ptr<LSTM> lstm;
  std::shared_ptr<Linear> attention;  // W, b: [2H] -> [A]
  std::shared_ptr<Linear> score;      // v: [A] -> [1], no bias
  std::shared_ptr<Dropout> dropout;
  std::shared_ptr<Linear> head;

 private:
  Tensor last_attention_;
};

}  // namespace toadstool::nn
