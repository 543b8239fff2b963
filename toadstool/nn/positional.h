#pragma once
// Positional encodings added to token embeddings x [B, L, d_model], for
// positions 0..L-1 (L <= max_len).
#include <memory>
#include <string>

#include "toadstool/nn/module.h"

namespace toadstool::nn {

// The fixed sines and cosines of "Attention Is All You Need":
//   pe[pos, 2i] = sin(pos / 10000^(2i / d)),  pe[pos, 2i + 1] = cos(same).
// A non-persistent buffer: recomputed, never saved.
class SinusoidalPositionalEncoding : public UnaryModule {
 public:
  SinusoidalPositionalEncoding(int64_t d_model, int64_t max_len = 5000);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int64_t d_model;
  int64_t max_len;
  Tensor pe;  // [max_len, d_model]
};

// A learned table `weight` [max_len, d_model], N(0, 1) at start (as an
// nn.Embedding of positions).
class LearnedPositionalEncoding : public UnaryModule {
 public:
  LearnedPositionalEncoding(int64_t max_len, int64_t d_model);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int64_t max_len;
  int64_t d_model;
  Tensor weight;  // [max_len, d_model]
};

// The encoding a model's options name: "sinusoidal" or "learned" (the
// caller checks the name; anything else is an Error here).
std::shared_ptr<UnaryModule> make_positional_encoding(const std::string& kind, int64_t d_model,
                                                      int64_t max_len);

}  // namespace toadstool::nn
