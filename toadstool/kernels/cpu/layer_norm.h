#pragma once
// Fused layer normalisation over the last `cols` elements of a contiguous
// [rows, cols] buffer, float and double. Row statistics are taken in double
// (two passes over the row, which stays in L1), and the mean enters the
// output without cancellation, so a float row with mean 1e4 and spread 1e-2
// still normalizes to within a few float ulps.
#include <cstdint>

#include "toadstool/kernels/kernel_args.h"

namespace toadstool::kernels::cpu {

// y = (x - mean) * rstd * gamma + beta, rstd = 1 / sqrt(var + eps) with the
// biased variance (as PyTorch). gamma, beta, mean [rows] and rstd [rows] may
// be null; mean and rstd are saved for the backward when given.
void layer_norm_forward(const float* x, const float* gamma, const float* beta, float* y,
                        float* mean, float* rstd, int64_t rows, int64_t cols, double eps);
void layer_norm_forward(const double* x, const double* gamma, const double* beta, double* y,
                        double* mean, double* rstd, int64_t rows, int64_t cols, double eps);

// From the saved mean / rstd (as the forward wrote them): grad_x [rows, cols],
// and grad_gamma / grad_beta [cols] (overwritten, not accumulated). Any output
// may be null. The column sums run per chunk of rows, chunks fixed by the
// shape alone, then add up in chunk order, so every thread count gives the
// same bits.
void layer_norm_backward(const float* grad_y, const float* x, const float* mean, const float* rstd,
                         const float* gamma, float* grad_x, float* grad_gamma, float* grad_beta,
                         int64_t rows, int64_t cols);
void layer_norm_backward(const double* grad_y, const double* x, const double* mean,
                         const double* rstd, const double* gamma, double* grad_x,
                         double* grad_gamma, double* grad_beta, int64_t rows, int64_t cols);

// Dropout, residual add and layer norm in one pass over the rows
// (kernels/backend.h, DropoutAddLayerNormForwardFn): x = residual +
// dropout(block) is written row by row and normalised while in L1. The
// backward is layer_norm_backward's, and also writes grad_block =
// dropout(grad_x) with the forward's mask (its keep bits, or drawn again;
// grad_x is the residual's). block and grad_block are in block_dtype: the
// sums' own, or bfloat16 / float16 with float sums (dropout_span's widening).
void dropout_add_layer_norm_forward(DType block_dtype, const void* block, const float* residual,
                                    const DropoutMask& mask, float* x, const float* gamma,
                                    const float* beta, float* y, float* mean, float* rstd,
                                    int64_t rows, int64_t cols, double eps);
void dropout_add_layer_norm_forward(DType block_dtype, const void* block, const double* residual,
                                    const DropoutMask& mask, double* x, const double* gamma,
                                    const double* beta, double* y, double* mean, double* rstd,
                                    int64_t rows, int64_t cols, double eps);
void dropout_add_layer_norm_backward(const float* grad_y, const float* x, const float* mean,
                                     const float* rstd, const float* gamma, const DropoutMask& mask,
                                     float* grad_x, DType block_dtype, void* grad_block,
                                     float* grad_gamma, float* grad_beta, int64_t rows,
                                     int64_t cols);
void dropout_add_layer_norm_backward(const double* grad_y, const double* x, const double* mean,
                                     const double* rstd, const double* gamma,
                                     const DropoutMask& mask, double* grad_x, DType block_dtype,
                                     void* grad_block, double* grad_gamma, double* grad_beta,
                                     int64_t rows, int64_t cols);

}  // namespace toadstool::kernels::cpu
