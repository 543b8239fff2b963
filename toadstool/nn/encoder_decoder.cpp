#include "toadstool/nn/encoder_decoder.h"

#include <limits>

#include "toadstool/autograd/ops.h"
#include "toadstool/nn/init.h"
#include "toadstool/tensor/factory.h"

namespace toadstool::nn {

Transformer::Transformer(const TransformerOptions& options)
    : Module("Transformer"), options(options) {
  const TransformerEncoderLayerOptions layer = transformer_layer_options(options);
  encoder = register_module(
      "encoder", std::make_shared<TransformerEncoder>(layer, options.num_encoder_layers, true));
  decoder = register_module(
      "decoder", std::make_shared<TransformerDecoder>(layer, options.num_decoder_layers, true));
  reset_parameters();
}

void Transformer::reset_parameters() {
  for (Tensor& parameter : parameters()) {
    if (parameter.dim() > 1) init::xavier_uniform_(parameter);
  }
}

Tensor Transformer::forward(const Tensor& src, const Tensor& tgt, const TransformerMasks& masks) {
  TS_CHECK(src.dim() == 3 && tgt.dim() == 3 && src.size(0) == tgt.size(0) &&
               src.size(2) == options.d_model && tgt.size(2) == options.d_model,
           "Transformer: src [B, S, d_model] and tgt [B, L, d_model] with d_model=",
           options.d_model, " and the same batch, got ", src.shape(), " and ", tgt.shape());
  const Tensor memory = encoder->forward(src, masks.src);
  return decoder->forward(tgt, memory, masks.tgt, masks.memory);
}

Tensor Transformer::generate_square_subsequent_mask(int64_t size, DType dtype) {
  TS_CHECK(size >= 0, "Transformer.generate_square_subsequent_mask: size must be >= 0, got ", size);
  return triu(full({size, size}, -std::numeric_limits<double>::infinity(), dtype), 1);
}

}  // namespace toadstool::nn
