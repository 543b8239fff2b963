#pragma once
// GatedConvSequenceModel: a gated convolutional network over token ids
// (Dauphin et al. 2017, "Language Modeling with Gated Convolutional
// Networks"), as a language model or a sequence classifier.
//
//   ids [B, L] int64 (padding_idx marks padding)
//   -> embedding [B, L, dim] -> channels first [B, dim, L]
//   -> num_layers GatedConvBlocks [B, dim, L]; after each, padding
//      positions are set back to zero, so a real token sees padding exactly
//      as it sees the zeros before the sequence's start: padding, left or
//      right, does not change a real position's output
//   -> [B, L, dim]
//   -> num_classes == 0 (language model): head Linear, next-token logits
//      [B, L, vocab_size]; position t depends on ids [0, t] only
//      num_classes > 0 (classifier): mean over the non-padding positions
//      [B, dim] -> head Linear, logits [B, num_classes]
//
// Parameters: embedding.weight, blocks.<i>.conv.weight / .bias, head.weight
// / .bias. Not in the paper's model: weight normalisation and the adaptive
// softmax (a plain Linear head here), and its embedding-to-channels
// projection (the embedding is dim wide).
#include <memory>
#include <string>

#include "toadstool/nn/activation.h"
#include "toadstool/nn/container.h"
#include "toadstool/nn/conv.h"
#include "toadstool/nn/embedding.h"
#include "toadstool/nn/linear.h"

namespace toadstool::nn {

// One gated block, x [B, C, L] -> [B, C, L]:
//   h = conv(zeros [B, C, k - 1] ++ dropout(x))  causal Conv1d, C -> 2C:
//                                                [B, 2C, L], output t from
//                                                inputs t - k + 1 .. t
//   y = (x + glu(h, dim 1)) * sqrt(0.5)          GLU: [B, C, L]
// The sqrt(0.5) keeps the sum's variance that of its terms (Gehring et al.
// 2017, "Convolutional Sequence to Sequence Learning", section 3.4), so a
// deep stack neither grows nor needs a norm.
class GatedConvBlock : public UnaryModule {
 public:
  // Errors: a size that is not positive, dropout outside [0, 1).
  GatedConvBlock(int64_t channels, int64_t kernel_size, double dropout = 0.0,
                 Generator* generator = nullptr);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  int64_t channels;
  int64_t kernel_size;
  std::shared_ptr<Dropout> dropout;
  std::shared_ptr<Conv1d> conv;  // weight [2C, C, k], bias [2C]
  std::shared_ptr<GLU> glu;      // over the channel dim
};

struct GatedConvSequenceModelOptions {
  int64_t vocab_size = 10000;
  int64_t dim = 128;  // embedding and channel width
  int64_t num_layers = 4;
  int64_t kernel_size = 4;  // each block sees k - 1 positions back
  double dropout = 0.1;
  int64_t padding_idx = 0;
  // 0: a language model (next-token logits per position); > 0: a classifier.
  int64_t num_classes = 0;
  Generator* generator = nullptr;  // for dropout (default: the global one)
};

class GatedConvSequenceModel : public UnaryModule {
 public:
  // Errors: a size that is not positive (num_classes: negative),
  // padding_idx outside [0, vocab_size), dropout outside [0, 1).
  explicit GatedConvSequenceModel(const GatedConvSequenceModelOptions& options = {});
  // ids [B, L] int64 -> [B, L, vocab_size] or [B, num_classes].
  Tensor forward(const Tensor& ids) override;
  std::string extra_repr() const override;

  GatedConvSequenceModelOptions options;
  std::shared_ptr<Embedding> embedding;
  std::shared_ptr<Sequential> blocks;  // of GatedConvBlock
  std::shared_ptr<Linear> head;        // dim -> vocab_size or num_classes
};

}  // namespace toadstool::nn
