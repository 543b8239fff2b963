#include "toadstool/nn/zoo/transformer_model.h"

#include <cmath>

#include "toadstool/autograd/ops.h"
#include "toadstool/nn/init.h"
#include "toadstool/nn/positional.h"
#include "toadstool/tensor/factory.h"

namespace toadstool::nn {

namespace {

int64_t output_vocab(const TransformerModelOptions& options) {
  if (options.num_decoder_layers == 0 || options.tgt_vocab_size == 0) return options.vocab_size;
  return options.tgt_vocab_size;
}

// ids must be int64 [B, L]; an Error naming `what` otherwise.
void check_ids(const Tensor& ids, const char* what) {
  TS_CHECK(ids.dim() == 2 && ids.dtype() == kInt64, "TransformerModel: ", what,
           " must be int64 [batch, seq], got ", ids.shape(), " ", ids.dtype());
}

}  // namespace

TransformerModel::TransformerModel(const TransformerModelOptions& options)
    : UnaryModule("TransformerModel"), options(options) {
  TS_CHECK(options.positional == "sinusoidal" || options.positional == "learned" ||
               options.positional == "none",
           "TransformerModel: positional must be 'sinusoidal', 'learned' or 'none', got '",
           options.positional, "'");
  TS_CHECK(options.num_encoder_layers > 0 && options.num_decoder_layers >= 0,
           "TransformerModel: needs at least one encoder layer and no negative decoder layers, "
           "got ",
           options.num_encoder_layers, " and ", options.num_decoder_layers);
  TS_CHECK(options.tgt_vocab_size >= 0, "TransformerModel: tgt_vocab_size must be >= 0, got ",
           options.tgt_vocab_size);
  TS_CHECK(!options.causal || options.num_decoder_layers == 0,
           "TransformerModel: causal is for an encoder alone (the decoder is always causal)");
  const bool has_decoder = options.num_decoder_layers > 0;
  embedding = register_module(
      "embedding",
      std::make_shared<Embedding>(options.vocab_size, options.d_model, options.padding_idx));
  if (has_decoder) {
    tgt_embedding = register_module(
        "tgt_embedding",
        std::make_shared<Embedding>(output_vocab(options), options.d_model, options.padding_idx));
  }
  if (options.positional != "none") {
    pos_encoding = register_module(
        "pos_encoding",
        make_positional_encoding(options.positional, options.d_model, options.max_len));
  }
  dropout =
      register_module("dropout", std::make_shared<Dropout>(options.dropout, options.generator));
  const TransformerEncoderLayerOptions layer = transformer_layer_options(options);
  encoder = register_module("encoder", std::make_shared<TransformerEncoder>(
                                           layer, options.num_encoder_layers, options.norm_first));
  if (has_decoder) {
    decoder =
        register_module("decoder", std::make_shared<TransformerDecoder>(
                                       layer, options.num_decoder_layers, options.norm_first));
  }
  if (options.tie_weights) {
    output_bias = register_parameter("output_bias", zeros({output_vocab(options)}));
  } else {
    output =
        register_module("output", std::make_shared<Linear>(options.d_model, output_vocab(options)));
  }
}

Tensor TransformerModel::embed(Embedding& table, const Tensor& ids) {
  Tensor x = table.forward(ids);  // [B, L, d]
  if (pos_encoding) x = pos_encoding->forward(x);
  return dropout->forward(x);
}

Tensor TransformerModel::project(const Tensor& x) {
  if (output) return output->forward(x);
  const Embedding& table = tgt_embedding ? *tgt_embedding : *embedding;
  return linear(x * (1.0 / std::sqrt(static_cast<double>(options.d_model))), table.weight,
                output_bias);
}

Tensor TransformerModel::forward(const Tensor& ids) {
  TS_CHECK(!decoder, "TransformerModel: an encoder-decoder model takes forward(src, tgt)");
  check_ids(ids, "ids");
  MultiheadAttentionMasks masks;
  if (options.causal) {
    masks.is_causal = true;
  } else {
    masks.key_padding_mask = eq(ids, options.padding_idx);  // [B, L]
  }
  return project(encoder->forward(embed(*embedding, ids), masks));
}

Tensor TransformerModel::forward(const Tensor& src, const Tensor& tgt) {
  TS_CHECK(decoder, "TransformerModel: an encoder-only model takes forward(ids)");
  check_ids(src, "src");
  check_ids(tgt, "tgt");
  TS_CHECK(src.size(0) == tgt.size(0), "TransformerModel: src ", src.shape(), " and tgt ",
           tgt.shape(), " must have the same batch");
  MultiheadAttentionMasks src_masks, tgt_masks, memory_masks;
  src_masks.key_padding_mask = eq(src, options.padding_idx);  // [B, S]
  memory_masks.key_padding_mask = src_masks.key_padding_mask;
  tgt_masks.is_causal = true;
  const Tensor memory = encoder->forward(embed(*embedding, src), src_masks);
  return project(decoder->forward(embed(*tgt_embedding, tgt), memory, tgt_masks, memory_masks));
}

std::string TransformerModel::extra_repr() const {
  return detail::concat(decoder ? "encoder-decoder" : (options.causal ? "causal" : "encoder"),
                        ", positional=", options.positional,
                        options.tie_weights ? ", tie_weights=true" : "");
}

}  // namespace toadstool::nn
