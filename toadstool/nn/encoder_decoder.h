#pragma once
// torch.nn.Transformer (batch_first=True): an encoder over src and a
// decoder over tgt that attends to the encoder's output, each with a final
// LayerNorm (PyTorch always adds them), the same parameter names
// (encoder.layers.0.self_attn.in_proj_weight, ..., decoder.norm.bias) and
// PyTorch's initialisation: xavier_uniform_ on every parameter of two or
// more dimensions.
//
//   src [B, S, d_model], tgt [B, L, d_model] -> [B, L, d_model]
#include <memory>

#include "toadstool/nn/transformer_decoder.h"

namespace toadstool::nn {

struct TransformerOptions {
  int64_t d_model = 512;
  int64_t nhead = 8;
  int64_t num_encoder_layers = 6;
  int64_t num_decoder_layers = 6;
  int64_t dim_feedforward = 2048;
  double dropout = 0.1;
  std::string activation = "relu";  // or "gelu"
  double layer_norm_eps = 1e-5;
  bool norm_first = false;
  bool bias = true;
  Generator* generator = nullptr;  // for every dropout (default: the global one)
};

// PyTorch's six masks and two causal flags, by the attention they apply to.
struct TransformerMasks {
  MultiheadAttentionMasks src;     // encoder self-attention: src_mask, src_key_padding_mask
  MultiheadAttentionMasks tgt;     // decoder self-attention: tgt_mask, tgt_key_padding_mask
  MultiheadAttentionMasks memory;  // decoder to encoder output: memory_mask, ..._key_padding_mask
};

class Transformer : public Module {
 public:
  explicit Transformer(const TransformerOptions& options = {});
  Tensor forward(const Tensor& src, const Tensor& tgt, const TransformerMasks& masks = {});
  // xavier_uniform_ on every parameter with two or more dimensions.
  void reset_parameters();
  // The [size, size] float mask PyTorch's Transformer.generate_square_
  // subsequent_mask gives: 0 on and below the diagonal, -inf above (a query
  // may not attend later positions).
  static Tensor generate_square_subsequent_mask(int64_t size, DType dtype = kFloat32);

  TransformerOptions options;
  std::shared_ptr<TransformerEncoder> encoder;
  std::shared_ptr<TransformerDecoder> decoder;
};

}  // namespace toadstool::nn
