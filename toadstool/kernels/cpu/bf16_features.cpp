#include "toadstool/kernels/cpu/bf16_features.h"

#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace toadstool::kernels::cpu {

namespace {

struct Registers {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
};

// Leaf 7 sub-leaf `sub`, zeros where the CPU has no leaf 7.
Registers leaf7(unsigned sub) {
  Registers r;
  if (__get_cpuid_count(7, sub, &r.eax, &r.ebx, &r.ecx, &r.edx) == 0) return Registers{};
  return r;
}

// XCR0, the state components the OS saves (0 without OSXSAVE, cpuid 1 ECX
// bit 27).
uint64_t xcr0() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0 || (ecx & (1u << 27)) == 0) return 0;
  unsigned low = 0, high = 0;
  __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
  return (uint64_t{high} << 32) | low;
}

// arch_prctl codes and the tile data state component (asm/prctl.h,
// asm/fpu/types.h; not in every libc's headers).
constexpr int kArchGetXcompPerm = 0x1022;
constexpr int kArchReqXcompPerm = 0x1023;
constexpr int kXfeatureXtileData = 18;

bool request_amx_permission() {
#ifdef SYS_arch_prctl
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtileData) != 0) return false;
  unsigned long permitted = 0;
  if (syscall(SYS_arch_prctl, kArchGetXcompPerm, &permitted) != 0) return false;
  return (permitted & (1ul << kXfeatureXtileData)) != 0;
#else
  return false;
#endif
}

}  // namespace

bool cpu_has_avx512_bf16() {
  // Leaf 7's EAX is its highest sub-leaf.
  return leaf7(0).eax >= 1 && (leaf7(1).eax & (1u << 5)) != 0;
}

bool cpu_has_amx_bf16() {
  const unsigned edx = leaf7(0).edx;
  const bool amx = (edx & (1u << 22)) != 0 && (edx & (1u << 24)) != 0;
  const uint64_t tile_state = (uint64_t{1} << 17) | (uint64_t{1} << 18);
  return amx && (xcr0() & tile_state) == tile_state;
}

bool amx_permitted() {
  static const bool permitted = cpu_has_amx_bf16() && request_amx_permission();
  return permitted;
}

}  // namespace toadstool::kernels::cpu
