#pragma once
// The process-wide switch of the CUDA GEMM's float32 precision, like
// PyTorch's torch.backends.cuda.matmul.allow_tf32: when true, float32
// matmuls may round their inputs to TF32 (10 mantissa bits) on tensor cores
// (CUBLAS_COMPUTE_32F_FAST_TF32); when false (the default) they compute in
// full float32 (CUBLAS_COMPUTE_32F). Read at each GEMM call; other dtypes
// ignore it. Plain C++: the public API may wrap it.
namespace toadstool::kernels::cuda {

void set_allow_tf32(bool allow);
bool allow_tf32();

}  // namespace toadstool::kernels::cuda
