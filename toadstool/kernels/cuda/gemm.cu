// The `gemm` entry on CUDA, through cuBLAS.
//
// cuBLAS is column-major; GemmCall is row-major. A row-major [R, C] matrix
// with leading dim ld is, read column-major, its transpose [C, R] with the
// same ld. So row-major C[M, N] = op(A) op(B) is column-major
// C^T[N, M] = op(B)^T op(A)^T: cuBLAS gets m = N, n = M, k = K, B first (with
// B's trans flag: B stored row-major [K, N] reads as B^T, which is what the
// product needs, so "no transpose"; stored [N, K] it reads as B, so
// "transpose"), A second likewise, and C with ldc. Batches go through
// cublasGemmStridedBatchedEx_64 (a batch stride of 0 reuses one matrix).
//
// dtypes: float32 (CUBLAS_COMPUTE_32F, or _FAST_TF32 when allow_tf32()),
// float64 (CUBLAS_COMPUTE_64F), and float16 / bfloat16 inputs and output
// with float32 accumulation (CUBLAS_COMPUTE_32F; the handle disallows
// reduced-precision split-K reductions). alpha and beta are passed in the
// compute type. cuBLAS does not read C when beta == 0.
#include <cublas_v2.h>

#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>

#include "toadstool/kernels/cuda/common.cuh"
#include "toadstool/kernels/cuda/registry.h"
#include "toadstool/kernels/cuda/scratch.cuh"
#include "toadstool/kernels/gemm_epilogue.h"

namespace toadstool::kernels::cuda {

namespace {

void check_cublas(cublasStatus_t status, const char* call) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw std::runtime_error(std::string(call) + ": " + cublasGetStatusString(status));
  }
}

// cuBLAS allocates its workspace itself (cudaMalloc, for a handle's first
// products). When that fails (CUBLAS_STATUS_ALLOC_FAILED, nothing
// computed), the tensor layer's block cache is emptied (cuda_release_cache)
// and the call retried once, as for tensors and kernel scratch.
template <class Call>
void call_cublas(const char* name, const Call& call) {
  cublasStatus_t status = call();
  if (status == CUBLAS_STATUS_ALLOC_FAILED) {
    release_cache_for_retry();
    status = call();
    if (status == CUBLAS_STATUS_ALLOC_FAILED) {
      (void)cudaGetLastError();
      throw std::runtime_error(std::string(name) +
                               ": out of memory for cuBLAS's workspace (the cache emptied and "
                               "the call retried)");
    }
  }
  check_cublas(status, name);
}

// One cuBLAS handle per (thread, device), created on first use: a handle is
// not safe to share between threads that set different streams, and it is
// tied to the device current when it was created. Destroyed at thread exit.
class Handles {
 public:
  Handles() = default;
  Handles(const Handles&) = delete;
  Handles& operator=(const Handles&) = delete;
  ~Handles() {
    for (auto& [device, handle] : handles_) (void)cublasDestroy(handle);
  }

  cublasHandle_t for_current_device() {
    int device = 0;
    check(cudaGetDevice(&device), "cudaGetDevice");
    auto it = handles_.find(device);
    if (it == handles_.end()) {
      cublasHandle_t handle = nullptr;
      call_cublas("cublasCreate", [&] { return cublasCreate(&handle); });
      // Keep float32 accumulation for 16-bit inputs all the way (split-K
      // reductions included), as the autocast contract promises.
      const cublasStatus_t mode = cublasSetMathMode(
          handle, static_cast<cublasMath_t>(CUBLAS_DEFAULT_MATH |
                                            CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION));
      if (mode != CUBLAS_STATUS_SUCCESS) {
        (void)cublasDestroy(handle);
        check_cublas(mode, "cublasSetMathMode");
      }
      it = handles_.emplace(device, handle).first;
    }
    return it->second;
  }

 private:
  std::unordered_map<int, cublasHandle_t> handles_;
};

cublasHandle_t handle_on_current_stream() {
  thread_local Handles handles;
  cublasHandle_t handle = handles.for_current_device();
  check_cublas(cublasSetStream(handle, current_stream()), "cublasSetStream");
  return handle;
}

// C = beta * C (0 when beta == 0, C not read) for a product with K = 0,
// which has no terms: done here rather than relying on cuBLAS for k = 0.
// One thread per element of the batch x [M, N] outputs.
template <class T>
__global__ void scale_output(T* C, int64_t batch, int64_t M, int64_t N, int64_t ldc,
                             int64_t stride_c, float beta32, double beta64) {
  const int64_t total = batch * M * N;
  for (int64_t i = first_index(); i < total; i += index_step()) {
    const int64_t b = i / (M * N), m = (i / N) % M, n = i % N;
    T& c = C[b * stride_c + m * ldc + n];
    if constexpr (std::is_same_v<T, double>) {
      c = beta64 == 0 ? 0.0 : beta64 * c;
    } else {
      c = T(beta32 == 0 ? 0.0f : beta32 * static_cast<float>(c));
    }
  }
}

// The call's epilogue (kernels/gemm_epilogue.h) after cuBLAS: one thread
// per element of the batch x [M, N] outputs.
template <GemmActivation kActivation, class T>
__global__ void epilogue_kernel(T* C, const T* bias, T* pre_out, int64_t batch, int64_t M,
                                int64_t N, int64_t ldc, int64_t stride_c) {
  const int64_t total = batch * M * N;
  for (int64_t i = first_index(); i < total; i += index_step()) {
    const int64_t b = i / (M * N), m = (i / N) % M, n = i % N;
    const int64_t at = b * stride_c + m * ldc + n;
    const T pre = bias != nullptr ? add_bias(C[at], bias[n]) : C[at];
    if (pre_out != nullptr) pre_out[at] = pre;
    C[at] = activate_value<kActivation>(pre);
  }
}

template <class T>
void launch_epilogue(const GemmCall& c) {
  const int64_t total = c.batch * c.M * c.N;
  with_activation(c.epilogue.activation, [&](auto activation) {
    constexpr GemmActivation kActivation = decltype(activation)::value;
    launch_kernel("gemm epilogue", epilogue_kernel<kActivation, T>, blocks_for(total), kThreads, 0,
                  typed<T>(c.C), typed<T>(c.epilogue.bias), typed<T>(c.epilogue.pre_activation),
                  c.batch, c.M, c.N, c.ldc, c.stride_c);
  });
}

// The cuBLAS description of one dtype's GEMM.
struct GemmTypes {
  cudaDataType data;
  cublasComputeType_t compute;
  bool double_scalars;  // alpha / beta as double (COMPUTE_64F) or float
};

GemmTypes gemm_types(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return {CUDA_R_32F, allow_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F, false};
    case DType::Float64: return {CUDA_R_64F, CUBLAS_COMPUTE_64F, true};
    case DType::Float16: return {CUDA_R_16F, CUBLAS_COMPUTE_32F, false};
    case DType::BFloat16: return {CUDA_R_16BF, CUBLAS_COMPUTE_32F, false};
    default: unsupported_dtype("gemm", dtype);
  }
}

template <class T>
void launch_scale_output(const GemmCall& c) {
  const int64_t total = c.batch * c.M * c.N;
  launch_kernel("scale_output", scale_output<T>, blocks_for(total), kThreads, 0, typed<T>(c.C),
                c.batch, c.M, c.N, c.ldc, c.stride_c, static_cast<float>(c.beta), c.beta);
}

// The product alone: cuBLAS, or a scaling of C for K = 0.
void gemm_product(DType dtype, const GemmCall& c) {
  const GemmTypes types = gemm_types(dtype);
  if (c.K <= 0) {
    for_dtype<TypeSet::Floating>(dtype, "gemm",
                                 [&](auto zero) { launch_scale_output<decltype(zero)>(c); });
    return;
  }
  // Column-major views (see the top): B^T or B is the first operand.
  const cublasOperation_t op_first = c.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_second = c.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  // cuBLAS wants ld >= max(1, rows of the column-major view); the
  // front-end's row-major ld >= its column count satisfies it except for an
  // empty dim, where ld is never used to address anything.
  const auto ld = [](int64_t value) { return std::max<int64_t>(value, 1); };
  const double alpha64 = c.alpha, beta64 = c.beta;
  const float alpha32 = static_cast<float>(c.alpha), beta32 = static_cast<float>(c.beta);
  const void* alpha = types.double_scalars ? static_cast<const void*>(&alpha64) : &alpha32;
  const void* beta = types.double_scalars ? static_cast<const void*>(&beta64) : &beta32;
  cublasHandle_t handle = handle_on_current_stream();
  call_cublas("cublasGemmStridedBatchedEx_64", [&] {
    return cublasGemmStridedBatchedEx_64(handle, op_first, op_second, c.N, c.M, c.K, alpha, c.B,
                                         types.data, ld(c.ldb), c.stride_b, c.A, types.data,
                                         ld(c.lda), c.stride_a, beta, c.C, types.data, ld(c.ldc),
                                         c.stride_c, c.batch, types.compute, CUBLAS_GEMM_DEFAULT);
  });
}

// A fused Linear's epilogue is a second kernel over C (cuBLASLt's epilogues
// would save that pass; not used yet).
void gemm_entry(DType dtype, const GemmCall& c) {
  (void)gemm_types(dtype);  // rejects other dtypes first
  if (c.batch <= 0 || c.M <= 0 || c.N <= 0) return;
  gemm_product(dtype, c);
  if (c.epilogue.any()) {
    for_dtype<TypeSet::Floating>(dtype, "gemm",
                                 [&](auto zero) { launch_epilogue<decltype(zero)>(c); });
  }
}

}  // namespace

void register_gemm(Backend& b) { b.gemm = gemm_entry; }

}  // namespace toadstool::kernels::cuda
