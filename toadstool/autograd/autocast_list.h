// The ops autocast changes, written once (PyTorch's CUDA and CPU autocast
// lists, cut to the ops Toadstool has): TOADSTOOL_AUTOCAST(name, policy),
//
//   LowerPrecision  floating inputs other than float64 are cast to the
//                   autocast dtype (float16 or bfloat16): the GEMM-heavy
//                   ops, which run on tensor cores / bf16 units with float32
//                   accumulation
//   Float32         16-bit inputs are cast to float32: ops whose range or
//                   accuracy a 16-bit result would hurt (exp, softmax,
//                   norms, losses, sums)
//
// Ops not listed run in their inputs' dtypes (the element-wise ones promote
// mixed inputs to the wider type, so a bfloat16 matmul output added to a
// float32 residual is float32). No include guard: every expansion defines
// TOADSTOOL_AUTOCAST, includes this file and undefines it.
#ifndef TOADSTOOL_AUTOCAST
#error "define TOADSTOOL_AUTOCAST(name, policy) before including autograd/autocast_list.h"
#endif

TOADSTOOL_AUTOCAST(matmul, LowerPrecision)
TOADSTOOL_AUTOCAST(linear, LowerPrecision)
TOADSTOOL_AUTOCAST(scaled_dot_product_attention, LowerPrecision)
TOADSTOOL_AUTOCAST(scaled_dot_product_attention_packed, LowerPrecision)

TOADSTOOL_AUTOCAST(exp, Float32)
TOADSTOOL_AUTOCAST(log, Float32)
TOADSTOOL_AUTOCAST(log1p, Float32)
TOADSTOOL_AUTOCAST(rsqrt, Float32)
TOADSTOOL_AUTOCAST(pow, Float32)
TOADSTOOL_AUTOCAST(softplus, Float32)
TOADSTOOL_AUTOCAST(sum, Float32)
TOADSTOOL_AUTOCAST(logsumexp, Float32)
TOADSTOOL_AUTOCAST(softmax, Float32)
TOADSTOOL_AUTOCAST(log_softmax, Float32)
TOADSTOOL_AUTOCAST(layer_norm, Float32)
TOADSTOOL_AUTOCAST(dropout_add_layer_norm, Float32)
TOADSTOOL_AUTOCAST(cross_entropy, Float32)
TOADSTOOL_AUTOCAST(nll_loss, Float32)
TOADSTOOL_AUTOCAST(mse_loss, Float32)
TOADSTOOL_AUTOCAST(binary_cross_entropy_with_logits, Float32)
