#pragma once
// The packed bfloat16 GEMM (toadstool/kernels/cpu/gemm_bf16_packed.h) with
// the AMX micro-kernel (gemm_bf16_amx.cpp) on the tile model, behind an
// interface without AVX-512 types: these functions and the kernel sources
// are compiled for AVX-512 (x86-64-v4, as the library's avx512 build of the
// CPU kernels), the tests that call them for any x86-64, so that they skip
// on a CPU without AVX-512 and AVX512-BF16 (the kernel's epilogue) instead
// of dying there. C names: they are the only global symbols of the kernel
// objects once linked together (tests/CMakeLists.txt).
#include <cstdint>

#include "toadstool/kernels/kernel_args.h"

extern "C" {

// gemm_bf16_packed(call, amx_bf16_tile()): bfloat16 A, B and C, any batch
// and strides, on the OpenMP team. Returns whether it applied
// call.epilogue (else the caller would run it as a pass over C).
bool toadstool_amx_gemm_bf16(const toadstool::kernels::GemmCall& call);

// Attention's use of the tile (kernels/cpu/attention.cpp): op(B) [K, N]
// packed once (Bf16PackedB; B stored [N, K] when trans_b), then one
// gemm_bf16_serial product on the calling thread: C [M, N] (float32) =
// alpha op(A) op(B) + beta C, A bfloat16 stored [K, M] when trans_a.
void toadstool_amx_gemm_bf16_serial(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                                    float alpha, const uint16_t* A, int64_t lda, const uint16_t* B,
                                    int64_t ldb, float beta, float* C, int64_t ldc);
}
