#pragma once
// TransformerModel: the original Toadstool's sequence model over token ids,
// an encoder alone or an encoder-decoder, giving per-position logits.
//
//   encoder only (num_decoder_layers = 0): forward(ids [B, L]) ->
//     embedding [B, L, d] + positions, dropout -> TransformerEncoder (causal
//     when options.causal: a language model; otherwise with a key-padding
//     mask from padding_idx) -> logits [B, L, vocab_size]
//   encoder-decoder: forward(src [B, S], tgt [B, L]) -> the encoder over src
//     (key padding from padding_idx), a causal TransformerDecoder over tgt
//     attending to it (memory key padding from src) -> logits
//     [B, L, tgt_vocab_size]
//
// Causal self-attention uses the causal mask alone, without a key-padding
// mask: with padding at the end of each sequence (as SequenceDataset pads),
// a real position never sees a padded one, and the padded positions'
// outputs are for the loss to ignore (ignore_index). That keeps the fused
// attention's causal tile skipping.
//
// Names match TransformerClassifier's (embedding.weight,
// pos_encoding.weight, encoder.layers.<i>...), so a language model's
// embedding and encoder load into a classifier (load_state_dict, strict =
// false). The output: output.weight / output.bias, or with tie_weights the
// (target) embedding's weight and an output_bias: logits = x E^T / sqrt(d) + b.
// (The 1 / sqrt(d) keeps the initial logits near unit size: E is N(0, 1) as
// PyTorch's Embedding starts and x is layer-normed.)
#include <memory>
#include <string>

#include "toadstool/nn/embedding.h"
#include "toadstool/nn/encoder_decoder.h"

namespace toadstool::nn {

struct TransformerModelOptions {
  int64_t vocab_size = 20000;  // source ids (and the output, encoder only)
  int64_t tgt_vocab_size = 0;  // encoder-decoder: target ids and output (0: vocab_size)
  int64_t d_model = 128;
  int64_t nhead = 4;
  int64_t num_encoder_layers = 2;
  int64_t num_decoder_layers = 0;  // 0: encoder only
  int64_t dim_feedforward = 512;
  double dropout = 0.1;
  int64_t max_len = 512;
  int64_t padding_idx = 0;
  std::string positional = "sinusoidal";  // "learned" or "none"
  std::string activation = "relu";        // or "gelu"
  bool norm_first = false;                // pre-norm stacks get final norms
  bool causal = false;                    // encoder only: each position sees only earlier ones
  bool tie_weights = false;               // the output shares the (target) embedding
  Generator* generator = nullptr;         // for dropout (default: the global one)
};

class TransformerModel : public UnaryModule {
 public:
  explicit TransformerModel(const TransformerModelOptions& options = {});
  // Encoder only: ids [B, L] int64 -> logits [B, L, vocab_size].
  Tensor forward(const Tensor& ids) override;
  // Encoder-decoder: src [B, S], tgt [B, L] int64 -> [B, L, tgt_vocab_size].
  Tensor forward(const Tensor& src, const Tensor& tgt);
  std::string extra_repr() const override;

  TransformerModelOptions options;
  std::shared_ptr<Embedding> embedding;
  std::shared_ptr<Embedding> tgt_embedding;   // encoder-decoder only
  std::shared_ptr<UnaryModule> pos_encoding;  // null with positional "none"
  std::shared_ptr<Dropout> dropout;
  std::shared_ptr<TransformerEncoder> encoder;
  std::shared_ptr<TransformerDecoder> decoder;  // encoder-decoder only
  std::shared_ptr<Linear> output;               // without tie_weights
  Tensor output_bias;                           // [output vocab], with tie_weights

 private:
  // ids [B, L] -> dropout(embedding + positions) [B, L, d].
  Tensor embed(Embedding& table, const Tensor& ids);
  // x [B, L, d] -> logits [B, L, output vocab].
  Tensor project(const Tensor& x);
};

}  // namespace toadstool::nn
