#pragma once
// What the CPU and the OS offer the bfloat16 GEMM (gemm_bf16.cpp): asked of
// cpuid and, for AMX, of Linux, whatever the build of the kernels.
namespace toadstool::kernels::cpu {

// AVX512_BF16 (VDPBF16PS): cpuid leaf 7 sub-leaf 1, EAX bit 5. The caller
// has checked AVX-512 F/BW/VL and the OS's vector state (the avx512 build
// of the kernels is only chosen then).
bool cpu_has_avx512_bf16();

// AMX-TILE and AMX-BF16 (cpuid leaf 7, EDX bits 24 and 22), with the tile
// state enabled by the OS (XCR0 bits 17 and 18).
bool cpu_has_amx_bf16();

// Linux lends the tile data state to a process that asks
// (arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)); a tile instruction
// without that permission kills it. Asks once; true when granted.
bool amx_permitted();

}  // namespace toadstool::kernels::cpu
