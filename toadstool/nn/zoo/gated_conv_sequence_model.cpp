#include "toadstool/nn/zoo/gated_conv_sequence_model.h"

#include <cmath>

#include "toadstool/autograd/ops.h"
#include "toadstool/nn/zoo/check_dropout.h"
#include "toadstool/nn/zoo/token_pooling.h"
#include "toadstool/tensor/factory.h"

namespace toadstool::nn {

GatedConvBlock::GatedConvBlock(int64_t channels, int64_t kernel_size, double dropout,
                               Generator* generator)
    : UnaryModule("GatedConvBlock"), channels(channels), kernel_size(kernel_size) {
  TS_CHECK(channels > 0 && kernel_size > 0,
           "GatedConvBlock: channels and kernel_size must be positive, got ", channels, " and ",
           kernel_size);
  check_dropout("GatedConvBlock", dropout);
  this->dropout = register_module("dropout", std::make_shared<Dropout>(dropout, generator));
  // No padding of its own: forward puts all k - 1 zeros on the left.
  conv = register_module("conv", std::make_shared<Conv1d>(channels, 2 * channels, kernel_size));
  glu = register_module("glu", std::make_shared<GLU>(1));
}

Tensor GatedConvBlock::forward(const Tensor& x) {
  TS_CHECK(x.dim() == 3 && x.size(1) == channels, "GatedConvBlock: input must be [batch, ",
           channels, " channels, length], got ", x.shape());
  Tensor in = dropout->forward(x);  // [B, C, L]
  if (kernel_size > 1) {
    // Causal: output t sees inputs t - k + 1 .. t, the zeros standing in for
    // the positions before the start.
    const Tensor start = zeros({x.size(0), channels, kernel_size - 1},
                               TensorOptions(x.dtype()).device(x.device()));  // [B, C, k - 1]
    in = cat({start, in}, 2);                                                 // [B, C, k - 1 + L]
  }
  const Tensor gated = glu->forward(conv->forward(in));  // [B, 2C, L] -> [B, C, L]
  return (x + gated) * std::sqrt(0.5);
}

std::string GatedConvBlock::extra_repr() const {
  return detail::concat("channels=", channels, ", kernel_size=", kernel_size, ", causal");
}

GatedConvSequenceModel::GatedConvSequenceModel(const GatedConvSequenceModelOptions& options)
    : UnaryModule("GatedConvSequenceModel"), options(options) {
  const GatedConvSequenceModelOptions& o = options;
  TS_CHECK(o.vocab_size > 0 && o.dim > 0 && o.num_layers > 0 && o.kernel_size > 0,
           "GatedConvSequenceModel: vocab_size, dim, num_layers and kernel_size must be positive, "
           "got ",
           o.vocab_size, ", ", o.dim, ", ", o.num_layers, " and ", o.kernel_size);
  TS_CHECK(o.padding_idx >= 0 && o.padding_idx < o.vocab_size,
           "GatedConvSequenceModel: padding_idx must be an id of the vocabulary [0, ", o.vocab_size,
           "), got ", o.padding_idx);
  TS_CHECK(o.num_classes >= 0,
           "GatedConvSequenceModel: num_classes must be 0 (a language model) or positive, got ",
           o.num_classes);
  check_dropout("GatedConvSequenceModel", o.dropout);
  embedding =
      register_module("embedding", std::make_shared<Embedding>(o.vocab_size, o.dim, o.padding_idx));
  blocks = register_module("blocks", std::make_shared<Sequential>());
  for (int64_t i = 0; i < o.num_layers; ++i) {
    blocks->push_back(
        std::make_shared<GatedConvBlock>(o.dim, o.kernel_size, o.dropout, o.generator));
  }
  const int64_t outputs = o.num_classes > 0 ? o.num_classes : o.vocab_size;
  head = register_module("head", std::make_shared<Linear>(o.dim, outputs));
}

Tensor GatedConvSequenceModel::forward(const Tensor& ids) {
  TS_CHECK(ids.dim() == 2 && ids.dtype() == kInt64,
           "GatedConvSequenceModel: ids must be int64 [batch, seq], got ", ids.shape(), " ",
           ids.dtype());
  const Tensor padding = eq(ids, options.padding_idx);  // [B, L], true = padding
  Tensor x = embedding->forward(ids).transpose(1, 2);   // [B, dim, L]
  // 1 at real tokens, 0 at padding: [B, 1, L], broadcast over the channels.
  const Tensor keep = logical_not(padding).to(x.dtype()).unsqueeze(1);
  for (size_t i = 0; i < blocks->size(); ++i) {
    // Padding back to zero (the embedding's padding row is zero, but a
    // block's bias and gate are not): the next block sees it as the zeros
    // before the start.
    x = (*blocks)[i]->forward(x) * keep;  // [B, dim, L]
  }
  x = x.transpose(1, 2);                                  // [B, L, dim]
  if (options.num_classes == 0) return head->forward(x);  // [B, L, vocab_size]
  return head->forward(mean_over_tokens(x, padding));     // [B, num_classes]
}

std::string GatedConvSequenceModel::extra_repr() const {
  return options.num_classes == 0 ? std::string("language model")
                                  : detail::concat("classifier, num_classes=", options.num_classes);
}

}  // namespace toadstool::nn
