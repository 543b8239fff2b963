#pragma once
// The CPU's bfloat16 GEMM (GemmFn with dtype bfloat16: bfloat16 A, B and C,
// float32 accumulation, C rounded once) along one of three paths:
//
//   "amx"         AMX tiles (TDPBF16PS), gemm_bf16_amx.cpp
//   "avx512bf16"  VDPBF16PS, gemm_bf16_avx512.cpp
//   "fp32"        widened to float32 and the float32 GEMM (gemm_widened.cpp)
//
// The first two live in the avx512 build of the CPU kernels only. Chosen
// once, on the first call: TOADSTOOL_BF16_GEMM=amx|avx512bf16|fp32 from the
// environment when set (an error if this build or CPU lacks it); else AMX
// where the CPU has it and Linux grants the tile state; else AVX512-BF16
// where the CPU has it *and* its VDPBF16PS throughput measures at least
// its FMA throughput (a probe of about 2 ms on the first call) (docs/mixed_precision.md:
// where it is not, the float32 path is faster); else fp32.
#include "toadstool/kernels/kernel_args.h"

namespace toadstool::kernels::cpu {

struct Bf16Tile;  // gemm_bf16_packed.h

// Returns whether call.epilogue was applied too (the 16-bit paths fuse a
// bias and ReLU into their store); else the caller runs it after.
bool gemm_bf16(const GemmCall& call);

// The 16-bit micro-kernel of the path in use ("amx" or "avx512bf16"), or
// null on the "fp32" path: attention runs its bfloat16 tile products on it
// (gemm_bf16_serial), and widens to float32 where it is null.
const Bf16Tile* bf16_tile();

// The path in use ("amx", "avx512bf16" or "fp32"), choosing it if need be.
const char* bf16_gemm_path();

// Forces a path for the calls that follow, or with "" returns to the
// automatic choice. std::invalid_argument naming the path and what is
// missing when this build of the kernels or this CPU cannot run it.
void set_bf16_gemm_path(const char* path);

}  // namespace toadstool::kernels::cpu
