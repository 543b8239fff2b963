#include "toadstool/nn/zoo/mlp_mixer.h"

#include "toadstool/autograd/ops.h"
#include "toadstool/nn/zoo/check_dropout.h"

namespace toadstool::nn {

MixerBlock::MixerBlock(int64_t num_tokens, int64_t dim, int64_t token_mlp_dim,
                       int64_t channel_mlp_dim, double dropout, Generator* generator)
    : UnaryModule("MixerBlock"), num_tokens(num_tokens), dim(dim) {
  TS_CHECK(num_tokens > 0 && dim > 0 && token_mlp_dim > 0 && channel_mlp_dim > 0,
           "MixerBlock: num_tokens, dim, token_mlp_dim and channel_mlp_dim must be positive, got ",
           num_tokens, ", ", dim, ", ", token_mlp_dim, " and ", channel_mlp_dim);
  check_dropout("MixerBlock", dropout);
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(Shape{dim}));
  mlp_tokens = register_module(
      "mlp_tokens",
      std::make_shared<MLP>(std::vector<int64_t>{num_tokens, token_mlp_dim, num_tokens}, "gelu",
                            dropout, generator));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(Shape{dim}));
  mlp_channels = register_module(
      "mlp_channels", std::make_shared<MLP>(std::vector<int64_t>{dim, channel_mlp_dim, dim}, "gelu",
                                            dropout, generator));
}

Tensor MixerBlock::forward(const Tensor& x) {
  TS_CHECK(x.dim() == 3 && x.size(1) == num_tokens && x.size(2) == dim,
           "MixerBlock: input must be [batch, ", num_tokens, " tokens, ", dim, "], got ",
           x.shape());
  // Token mixing: the MLP runs along S, so the tokens go last: [B, dim, S].
  const Tensor mixed = mlp_tokens->forward(norm1->forward(x).transpose(1, 2)).transpose(1, 2);
  const Tensor y = x + mixed;                           // [B, S, dim]
  return y + mlp_channels->forward(norm2->forward(y));  // [B, S, dim]
}

std::string MixerBlock::extra_repr() const {
  return detail::concat("num_tokens=", num_tokens, ", dim=", dim);
}

MlpMixer::MlpMixer(const MlpMixerOptions& options) : UnaryModule("MlpMixer"), options(options) {
  const MlpMixerOptions& o = options;
  TS_CHECK(o.image_size > 0 && o.channels > 0 && o.patch_size > 0 && o.dim > 0 &&
               o.token_mlp_dim > 0 && o.channel_mlp_dim > 0 && o.num_classes > 0,
           "MlpMixer: image_size, channels, patch_size, dim, token_mlp_dim, channel_mlp_dim and "
           "num_classes must be positive, got ",
           o.image_size, ", ", o.channels, ", ", o.patch_size, ", ", o.dim, ", ", o.token_mlp_dim,
           ", ", o.channel_mlp_dim, " and ", o.num_classes);
  TS_CHECK(o.image_size % o.patch_size == 0, "MlpMixer: image_size ", o.image_size,
           " must be divisible by patch_size ", o.patch_size);
  TS_CHECK(o.depth >= 0, "MlpMixer: depth must be non-negative, got ", o.depth);
  check_dropout("MlpMixer", o.dropout);
  ConvOptions patches;
  patches.stride = {o.patch_size};  // non-overlapping windows: one per patch
  stem = register_module("stem",
                         std::make_shared<Conv2d>(o.channels, o.dim, Shape{o.patch_size}, patches));
  blocks = register_module("blocks", std::make_shared<Sequential>());
  for (int64_t i = 0; i < o.depth; ++i) {
    blocks->push_back(std::make_shared<MixerBlock>(num_tokens(), o.dim, o.token_mlp_dim,
                                                   o.channel_mlp_dim, o.dropout, o.generator));
  }
  norm = register_module("norm", std::make_shared<LayerNorm>(Shape{o.dim}));
  head = register_module("head", std::make_shared<Linear>(o.dim, o.num_classes));
}

int64_t MlpMixer::num_tokens() const {
  const int64_t side = options.image_size / options.patch_size;
  return side * side;
}

Tensor MlpMixer::forward(const Tensor& images) {
  const MlpMixerOptions& o = options;
  TS_CHECK(images.dim() == 4 && images.size(1) == o.channels && images.size(2) == o.image_size &&
               images.size(3) == o.image_size,
           "MlpMixer: images must be [batch, ", o.channels, ", ", o.image_size, ", ", o.image_size,
           "], got ", images.shape(), " ", images.dtype());
  const Tensor patches = stem->forward(images);                 // [B, dim, H/p, W/p]
  const Tensor tokens = patches.flatten(2).transpose(1, 2);     // [B, S, dim]
  const Tensor mixed = norm->forward(blocks->forward(tokens));  // [B, S, dim]
  return head->forward(mixed.mean({1}));                        // [B, num_classes]
}

std::string MlpMixer::extra_repr() const {
  return detail::concat("image_size=", options.image_size, ", patch_size=", options.patch_size,
                        ", num_tokens=", num_tokens());
}

}  // namespace toadstool::nn
