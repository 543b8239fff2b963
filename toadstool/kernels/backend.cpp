#include "toadstool/kernels/backend.h"

#include <cpuid.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "toadstool/config.h"

// The builds of the CPU kernels (kernels/cpu/backend.cpp): the library's
// own, and the variants of cmake/toadstool_cpu_isas.cmake.
extern "C" const toadstool::kernels::Backend* toadstool_cpu_backend_baseline();
#if TOADSTOOL_WITH_CPU_AVX2
extern "C" const toadstool::kernels::Backend* toadstool_cpu_backend_avx2();
#endif
#if TOADSTOOL_WITH_CPU_AVX512
extern "C" const toadstool::kernels::Backend* toadstool_cpu_backend_avx512();
#endif

namespace toadstool::kernels {

namespace {

struct CpuBuild {
  const char* isa;
  const Backend* (*table)();  // null when not built
  bool supported;             // the CPU has every instruction it uses
};

// The features of x86-64-v3 that __builtin_cpu_supports does not name in
// every compiler: LZCNT (CPUID 0x80000001 ECX bit 5), MOVBE and F16C (CPUID
// 1 ECX bits 22 and 29). A virtual CPU may mask them even with AVX2.
bool has_lzcnt_movbe_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
  const bool movbe_f16c = (ecx & (1u << 22)) != 0 && (ecx & (1u << 29)) != 0;
  if (__get_cpuid(0x80000001, &eax, &ebx, &ecx, &edx) == 0) return false;
  return movbe_f16c && (ecx & (1u << 5)) != 0;
}

// Best first: each build needs every feature of the -march level it was
// compiled for (x86-64-v3: AVX2, FMA, BMI1/2, LZCNT, MOVBE, F16C; x86-64-v4:
// v3 and AVX-512 F, BW, CD, DQ, VL).
std::vector<CpuBuild> cpu_builds() {
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
                    has_lzcnt_movbe_f16c();
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512cd");
  return {
#if TOADSTOOL_WITH_CPU_AVX512
    {"avx512", toadstool_cpu_backend_avx512, avx512},
#else
    {"avx512", nullptr, avx512},
#endif
#if TOADSTOOL_WITH_CPU_AVX2
        {"avx2", toadstool_cpu_backend_avx2, avx2},
#else
        {"avx2", nullptr, avx2},
#endif
        {"baseline", toadstool_cpu_backend_baseline, true},
  };
}

const Backend* choose_cpu_backend() {
  const char* forced = std::getenv("TOADSTOOL_CPU_ISA");
  for (const CpuBuild& build : cpu_builds()) {
    if (forced != nullptr && *forced != '\0') {
      if (std::string(forced) != build.isa) continue;
      if (build.table == nullptr || !build.supported) {
        throw std::invalid_argument(std::string("TOADSTOOL_CPU_ISA=") + forced + ": " +
                                    (build.table == nullptr ? "this build has no such CPU kernels"
                                                            : "this CPU lacks its instructions"));
      }
      return build.table();
    }
    if (build.table != nullptr && build.supported) return build.table();
  }
  throw std::invalid_argument(std::string("TOADSTOOL_CPU_ISA=") + forced +
                              ": expected baseline, avx2 or avx512");
}

}  // namespace

const Backend& cpu_backend() {
  static const Backend* const backend = choose_cpu_backend();
  return *backend;
}

namespace {
std::atomic<bool> g_allow_tf32{false};
}  // namespace

void set_allow_tf32(bool allow) { g_allow_tf32.store(allow, std::memory_order_relaxed); }
bool allow_tf32() { return g_allow_tf32.load(std::memory_order_relaxed); }

std::atomic<CudaCacheReleaser> g_cache_releaser{nullptr};
CudaCacheReleaser set_cuda_cache_releaser(CudaCacheReleaser releaser) {
  return g_cache_releaser.exchange(releaser);
}
void cuda_release_cache(int device) {
  if (const CudaCacheReleaser releaser = g_cache_releaser.load()) releaser(device);
}

#if !TOADSTOOL_WITH_CUDA
// This build has no CUDA backend: its table is empty, so every CUDA kernel
// call is the dispatcher's "not built for cuda" error.
const Backend& cuda_backend() {
  static const Backend backend{.device = "cuda"};
  return backend;
}

int cuda_device_count() { return 0; }
void cuda_use_device(int /*index*/) {}
void cuda_synchronize() {}
#endif

}  // namespace toadstool::kernels
