#pragma once
// The cuBLAS calls of kernels/cuda/gemm.cu for the warp emulator, as cuBLAS
// documents them: cublasGemmStridedBatchedEx_64 computes, for each batch b,
// the column-major C = alpha op(A) op(B) + beta C (C not read when beta is
// 0), op(X) = X or X^T, element (i, j) of an m x n matrix X at X[i + j ldx],
// matrix b at X + b strideX. A model of the contract, summed in double and
// rounded once to C's type, queued on the handle's stream (the scalars are
// read at the call, as cuBLAS reads host scalars). A handle's first product
// allocates its workspace (kWorkspaceBytes of device memory), and fails
// with CUBLAS_STATUS_ALLOC_FAILED when the device has not that much left.
#include <cstdint>

#include "../element_bytes.h"
#include "cuda_runtime.h"

// A handle keeps the stream its products are queued on, and its workspace.
struct cublasContext {
  static constexpr size_t kWorkspaceBytes = size_t{256} << 10;
  cudaStream_t stream = nullptr;
  void* workspace = nullptr;
};
using cublasHandle_t = cublasContext*;
enum cublasStatus_t {
  CUBLAS_STATUS_SUCCESS = 0,
  CUBLAS_STATUS_ALLOC_FAILED = 3,
  CUBLAS_STATUS_INVALID_VALUE = 7
};
enum cublasOperation_t { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 };
enum cublasMath_t {
  CUBLAS_DEFAULT_MATH = 0,
  CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION = 16
};
enum cublasComputeType_t {
  CUBLAS_COMPUTE_32F = 68,
  CUBLAS_COMPUTE_32F_FAST_TF32 = 77,
  CUBLAS_COMPUTE_64F = 70
};
enum cublasGemmAlgo_t { CUBLAS_GEMM_DEFAULT = -1 };
enum cudaDataType { CUDA_R_32F = 0, CUDA_R_64F = 1, CUDA_R_16F = 2, CUDA_R_16BF = 14 };

inline const char* cublasGetStatusString(cublasStatus_t /*status*/) { return "emulated"; }
inline cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  *handle = new cublasContext;
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  if (handle->workspace != nullptr) (void)cudaFree(handle->workspace);
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasSetMathMode(cublasHandle_t /*handle*/, cublasMath_t /*mode*/) {
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
  handle->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}

namespace emu {

// The element type of a cudaDataType (../element_bytes.h reads and writes it).
inline toadstool::DType dtype_of(cudaDataType type) {
  switch (type) {
    case CUDA_R_64F: return toadstool::DType::Float64;
    case CUDA_R_32F: return toadstool::DType::Float32;
    case CUDA_R_16F: return toadstool::DType::Float16;
    case CUDA_R_16BF: return toadstool::DType::BFloat16;
  }
  fail("cuBLAS model: an unknown data type");
}

// Element i of a buffer of `type` as a double, and stored back, rounded.
inline double load_element(const void* base, cudaDataType type, int64_t i) {
  const toadstool::DType dtype = dtype_of(type);
  return toadstool::kernels::cuda::load_element(
      dtype, static_cast<const unsigned char*>(base) + i * toadstool::element_size(dtype));
}
inline void store_element(void* base, cudaDataType type, int64_t i, double value) {
  const toadstool::DType dtype = dtype_of(type);
  toadstool::kernels::cuda::store_element(
      dtype, static_cast<unsigned char*>(base) + i * toadstool::element_size(dtype), value);
}

}  // namespace emu

inline cublasStatus_t cublasGemmStridedBatchedEx_64(
    cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int64_t m, int64_t n,
    int64_t k, const void* alpha, const void* A, cudaDataType Atype, int64_t lda, int64_t strideA,
    const void* B, cudaDataType Btype, int64_t ldb, int64_t strideB, const void* beta, void* C,
    cudaDataType Ctype, int64_t ldc, int64_t strideC, int64_t batchCount,
    cublasComputeType_t computeType, cublasGemmAlgo_t /*algo*/) {
  // Scalars in the compute type: double for COMPUTE_64F, else float.
  const auto scalar = [&](const void* p) {
    if (computeType == CUBLAS_COMPUTE_64F) return *static_cast<const double*>(p);
    return static_cast<double>(*static_cast<const float*>(p));
  };
  const double a = scalar(alpha), b = scalar(beta);
  // cuBLAS's own checks of the leading dims (the rows of each stored matrix).
  if (lda < (transa == CUBLAS_OP_N ? m : k) || ldb < (transb == CUBLAS_OP_N ? k : n) || ldc < m)
    return CUBLAS_STATUS_INVALID_VALUE;
  if (handle->workspace == nullptr &&
      cudaMalloc(&handle->workspace, cublasContext::kWorkspaceBytes) != cudaSuccess) {
    return CUBLAS_STATUS_ALLOC_FAILED;
  }
  emu::Device::get().submit(
      handle->stream, emu::work([=] {
        for (int64_t batch = 0; batch < batchCount; ++batch) {
          for (int64_t j = 0; j < n; ++j) {
            for (int64_t i = 0; i < m; ++i) {
              double sum = 0;
              for (int64_t l = 0; l < k; ++l) {
                const int64_t at_a = transa == CUBLAS_OP_N ? i + l * lda : l + i * lda;
                const int64_t at_b = transb == CUBLAS_OP_N ? l + j * ldb : j + l * ldb;
                sum += emu::load_element(A, Atype, batch * strideA + at_a) *
                       emu::load_element(B, Btype, batch * strideB + at_b);
              }
              const int64_t at_c = batch * strideC + i + j * ldc;
              const double c = b == 0 ? 0.0 : b * emu::load_element(C, Ctype, at_c);
              emu::store_element(C, Ctype, at_c, a * sum + c);
            }
          }
        }
      }));
  return CUBLAS_STATUS_SUCCESS;
}
