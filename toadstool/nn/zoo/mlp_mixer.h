#pragma once
// MlpMixer: image classification by MLPs alone (Tolstikhin et al. 2021,
// "MLP-Mixer: An all-MLP Architecture for Vision").
//
//   images [B, C, H, W] float (H = W = image_size)
//   -> stem: Conv2d(C, dim, kernel = stride = patch_size), one linear
//      projection per non-overlapping patch: [B, dim, H/p, W/p]
//   -> tokens [B, S, dim], S = (H/p)(W/p) patches in row-major order
//   -> depth MixerBlocks [B, S, dim]
//   -> norm (LayerNorm over dim) -> mean over the S tokens [B, dim]
//   -> head Linear: logits [B, num_classes]
//
// Parameters: stem.weight / .bias, blocks.<i>.norm1, .mlp_tokens.layers.0 /
// .layers.2 (the zoo MLP's names), .norm2, .mlp_channels..., norm, head.
#include <memory>
#include <string>

#include "toadstool/nn/container.h"
#include "toadstool/nn/conv.h"
#include "toadstool/nn/layer_norm.h"
#include "toadstool/nn/linear.h"
#include "toadstool/nn/zoo/mlp.h"

namespace toadstool::nn {

// One mixer layer, x [B, S, dim] -> [B, S, dim]:
//   x = x + mlp_tokens(norm1(x)^T)^T   token mixing: one MLP over the S
//                                      tokens, shared by every channel
//   x = x + mlp_channels(norm2(x))     channel mixing: one MLP over dim,
//                                      shared by every token
// Each MLP is Linear, GELU, dropout, Linear (nn::MLP).
class MixerBlock : public UnaryModule {
 public:
  // Errors: a size that is not positive, dropout outside [0, 1).
  MixerBlock(int64_t num_tokens, int64_t dim, int64_t token_mlp_dim, int64_t channel_mlp_dim,
             double dropout = 0.0, Generator* generator = nullptr);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  int64_t num_tokens;
  int64_t dim;
  std::shared_ptr<LayerNorm> norm1;
  std::shared_ptr<MLP> mlp_tokens;  // S -> token_mlp_dim -> S
  std::shared_ptr<LayerNorm> norm2;
  std::shared_ptr<MLP> mlp_channels;  // dim -> channel_mlp_dim -> dim
};

struct MlpMixerOptions {
  int64_t image_size = 32;  // H = W
  int64_t channels = 3;     // C
  int64_t patch_size = 4;   // must divide image_size
  int64_t dim = 128;        // the width of a token
  int64_t depth = 4;        // MixerBlocks (0: the stem, norm and head alone)
  int64_t token_mlp_dim = 64;
  int64_t channel_mlp_dim = 512;
  int64_t num_classes = 10;
  double dropout = 0.0;            // inside both MLPs of every block
  Generator* generator = nullptr;  // for dropout (default: the global one)
};

class MlpMixer : public UnaryModule {
 public:
  // Errors: a size that is not positive (depth: negative), image_size not
  // divisible by patch_size, dropout outside [0, 1).
  explicit MlpMixer(const MlpMixerOptions& options = {});
  // images [B, C, H, W] float -> logits [B, num_classes]. Errors: another
  // rank, channel count or image size than the options'.
  Tensor forward(const Tensor& images) override;
  std::string extra_repr() const override;
  // S, the tokens (patches) per image: (image_size / patch_size)^2.
  int64_t num_tokens() const;

  MlpMixerOptions options;
  std::shared_ptr<Conv2d> stem;
  std::shared_ptr<Sequential> blocks;  // of MixerBlock
  std::shared_ptr<LayerNorm> norm;
  std::shared_ptr<Linear> head;
};

}  // namespace toadstool::nn
