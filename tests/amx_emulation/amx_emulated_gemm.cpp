#include "amx_emulated_gemm.h"

#include "toadstool/kernels/cpu/gemm_bf16_packed.h"

#if !TOADSTOOL_BF16_KERNELS
#error "compile with AVX-512 F/BW/VL (tests/CMakeLists.txt: -march=x86-64-v4)"
#endif

namespace cpu = toadstool::kernels::cpu;

bool toadstool_amx_gemm_bf16(const toadstool::kernels::GemmCall& call) {
  return cpu::gemm_bf16_packed(call, cpu::amx_bf16_tile());
}

void toadstool_amx_gemm_bf16_serial(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                                    float alpha, const uint16_t* A, int64_t lda, const uint16_t* B,
                                    int64_t ldb, float beta, float* C, int64_t ldc) {
  const cpu::Bf16Tile& tile = cpu::amx_bf16_tile();
  cpu::Bf16PackedB packed;
  packed.pack(tile, trans_b, K, N, B, ldb);
  cpu::gemm_bf16_serial(tile, trans_a, M, alpha, A, lda, packed, beta, C, ldc);
}
