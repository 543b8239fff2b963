#pragma once
// The pieces the Transformer encoder and decoder layers share (internal to
// nn/transformer*.cpp): the options check, the activation, the feed-forward
// block and the residual adds. x is [B, L, d_model] throughout.
#include <memory>
#include <string>

#include "toadstool/nn/activation.h"
#include "toadstool/nn/layer_norm.h"
#include "toadstool/nn/linear.h"

namespace toadstool::nn {
struct TransformerEncoderLayerOptions;
}

namespace toadstool::nn::transformer_blocks {

// An Error naming `layer` for an activation other than relu / gelu or a
// dim_feedforward that is not positive.
void check_layer_options(const TransformerEncoderLayerOptions& options, const char* layer);

// The activation module (kept for PyTorch's layout and summary(); the feed
// forward block applies it inside linear1's GEMM).
std::shared_ptr<UnaryModule> make_activation(const std::string& activation);

// linear2(dropout(activation(linear1(x)))), linear1 and the activation in
// one GEMM (its epilogue adds the bias and applies the activation):
// [B, L, d_model] -> [B, L, dim_feedforward] -> [B, L, d_model].
Tensor feed_forward(const Tensor& x, const Linear& linear1, Dropout& dropout, Linear& linear2,
                    const std::string& activation);

// residual + drop(block_out) in one pass over memory (dropout_add), the same
// values and generator draws as the two modules.
Tensor add_dropped(const Tensor& residual, const Tensor& block_out, const Dropout& drop);

// norm(residual + drop(block_out)) in one pass (dropout_add_layer_norm), the
// values and generator draws of the three modules.
Tensor add_dropped_norm(const Tensor& residual, const Tensor& block_out, const Dropout& drop,
                        const LayerNorm& norm);

}  // namespace toadstool::nn::transformer_blocks
