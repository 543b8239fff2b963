#include "toadstool/nn/zoo/transformer_classifier.h"

#include "toadstool/autograd/ops.h"
#include "toadstool/nn/init.h"
#include "toadstool/nn/positional.h"
#include "toadstool/nn/zoo/token_pooling.h"
#include "toadstool/tensor/factory.h"

namespace toadstool::nn {

TransformerClassifier::TransformerClassifier(const TransformerClassifierOptions& options)
    : UnaryModule("TransformerClassifier"), options(options) {
  TS_CHECK(options.pooling == "mean" || options.pooling == "cls",
           "TransformerClassifier: pooling must be 'mean' or 'cls', got '", options.pooling, "'");
  TS_CHECK(options.positional == "sinusoidal" || options.positional == "learned",
           "TransformerClassifier: positional must be 'sinusoidal' or 'learned', got '",
           options.positional, "'");
  TS_CHECK(options.token_dropout >= 0 && options.token_dropout < 1,
           "TransformerClassifier: token_dropout must be in [0, 1), got ", options.token_dropout);
  TS_CHECK(
      options.token_dropout == 0 || (options.unk_idx >= 0 && options.unk_idx < options.vocab_size &&
                                     options.unk_idx != options.padding_idx),
      "TransformerClassifier: unk_idx must be an id of the vocabulary [0, ", options.vocab_size,
      ") other than padding_idx ", options.padding_idx, ", got ", options.unk_idx);
  TS_CHECK(options.num_classes > 0, "TransformerClassifier: num_classes must be positive, got ",
           options.num_classes);
  embedding = register_module(
      "embedding",
      std::make_shared<Embedding>(options.vocab_size, options.d_model, options.padding_idx));
  TS_CHECK(options.bigram_buckets == 0 || options.bigram_buckets >= 2,
           "TransformerClassifier: bigram_buckets must be 0 (off) or at least 2, got ",
           options.bigram_buckets);
  TS_CHECK(options.bigram_buckets == 0 ||
               (options.bigram_dim >= 0 && options.bigram_dim <= options.d_model),
           "TransformerClassifier: bigram_dim must be in [0, d_model = ", options.d_model,
           "], got ", options.bigram_dim);
  if (options.bigram_buckets > 0) {
    const int64_t bigram_dim = options.bigram_dim > 0 ? options.bigram_dim : options.d_model;
    bigram_embedding = register_module(
        "bigram_embedding",
        std::make_shared<Embedding>(options.bigram_buckets, bigram_dim, /*padding_idx=*/0));
    if (bigram_dim < options.d_model) {
      bigram_projection =
          register_module("bigram_projection",
                          std::make_shared<Linear>(bigram_dim, options.d_model, /*bias=*/false));
    }
    // From zero: the model starts as the one without bigrams and learns
    // bigram features as their gradients call for them. (With PyTorch's
    // N(0, 1) init, each position got a random vector as large as its
    // token's, and the model memorised them: 85.9% validation after 3
    // epochs, the plain model's figure, with a third of its training loss.)
    init::zeros_(bigram_embedding->weight);
  }
  pos_encoding = register_module(
      "pos_encoding",
      make_positional_encoding(options.positional, options.d_model, options.max_len));
  dropout =
      register_module("dropout", std::make_shared<Dropout>(options.dropout, options.generator));
  const TransformerEncoderLayerOptions layer = transformer_layer_options(options);
  encoder = register_module("encoder", std::make_shared<TransformerEncoder>(
                                           layer, options.num_layers, options.norm_first));
  head = register_module("head", std::make_shared<Linear>(options.d_model, options.num_classes));
  if (options.pooling == "cls") {
    cls_token = register_parameter("cls_token", empty({1, 1, options.d_model}));
    init::trunc_normal_(cls_token, 0.0, 0.02, -0.04, 0.04);
  }
}

Tensor TransformerClassifier::forward(const Tensor& input_ids) {
  TS_CHECK(input_ids.dim() == 2 && input_ids.dtype() == kInt64,
           "TransformerClassifier: ids must be int64 [batch, seq], got ", input_ids.shape(), " ",
           input_ids.dtype());
  const int64_t batch = input_ids.size(0);
  Tensor padding = eq(input_ids, options.padding_idx);  // [B, L], true = padding
  Tensor ids = input_ids;
  if (is_training() && options.token_dropout > 0) {
    const Tensor dropped =
        logical_and(lt(rand(ids.shape(), TensorOptions().device(ids.device()), options.generator),
                       options.token_dropout),
                    logical_not(padding));
    ids = where(dropped, scalar_tensor(options.unk_idx, TensorOptions(kInt64).device(ids.device())),
                ids);
  }
  Tensor x = embedding->forward(ids);  // [B, L, d]
  if (bigram_embedding) {
    Tensor bigrams =
        bigram_embedding->forward(hashed_bigrams(ids, options.bigram_buckets, options.padding_idx));
    if (bigram_projection) bigrams = bigram_projection->forward(bigrams);
    x = x + bigrams;
  }
  x = dropout->forward(pos_encoding->forward(x));
  if (cls_token.defined()) {
    x = cat({cls_token.expand({batch, 1, options.d_model}), x}, 1);  // [B, 1 + L, d]
    padding = cat({zeros({batch, 1}, TensorOptions(kBool).device(x.device())), padding}, 1);
  }
  MultiheadAttentionMasks masks;
  const bool pack = options.pack_tokens && padding.device().is_cpu();
  const PackedTokens packed = pack ? PackedTokens::of_padding(padding) : PackedTokens{};
  Tensor pooled;                                                    // [B, d]
  if (pack && packed.tokens() < padding.numel()) {                  // some padding to skip
    masks.packed_tokens = &packed;                                  // which is the key padding
    const Tensor tokens = encoder->forward(packed.pack(x), masks);  // [N, d]
    pooled = cls_token.defined() ? packed.at_position(tokens, 0) : packed.mean(tokens);
  } else {
    masks.key_padding_mask = padding;
    x = encoder->forward(x, masks);
    pooled = cls_token.defined() ? x.select(1, 0) : mean_over_tokens(x, padding);
  }
  return head->forward(pooled);
}

std::string TransformerClassifier::extra_repr() const {
  return detail::concat(
      "pooling=", options.pooling, ", positional=", options.positional,
      options.bigram_buckets > 0 ? detail::concat(", bigram_buckets=", options.bigram_buckets) : "",
      options.token_dropout > 0 ? detail::concat(", token_dropout=", options.token_dropout) : "");
}

}  // namespace toadstool::nn
