#include "toadstool/kernels/cpu/gemm_bf16.h"

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "toadstool/kernels/cpu/bf16_features.h"
#include "toadstool/kernels/cpu/gemm_bf16_packed.h"
#include "toadstool/kernels/cpu/gemm_widened.h"

namespace toadstool::kernels::cpu {

namespace {

enum class Path : int { Fp32, Avx512Bf16, Amx };

constexpr const char* kPathNames[] = {"fp32", "avx512bf16", "amx"};

const char* name(Path path) { return kPathNames[static_cast<int>(path)]; }

// The VDPBF16PS / FMA throughput ratio (flops each) from which the
// AVX512-BF16 kernel is taken over the float32 path. Measured on the
// Transformer shapes (docs/mixed_precision.md, "The CPU's bfloat16
// kernels"): on this project's Intel Xeon without AMX the ratio is 0.5 and
// the kernel, at 85-95% of its VDPBF16PS peak, was 0.93x the float32 path's
// speed over the 12 shapes (faster on 128 x 128, slower on 128 / 512), so
// the break-even is near 0.56; 1.0 (VDPBF16PS at least as fast as FMA, as on
// AMD Zen 4, about 2) keeps well clear of it and of the probe's noise.
constexpr double kAvx512Bf16MinRate = 1.0;

// Why `path` cannot run here; empty when it can.
std::string missing(Path path) {
  if (path == Path::Fp32) return "";
#if TOADSTOOL_BF16_KERNELS
  if (path == Path::Avx512Bf16) {
    return cpu_has_avx512_bf16() ? "" : "this CPU lacks AVX512_BF16";
  }
  if (!cpu_has_amx_bf16()) {
    return "this CPU lacks AMX-TILE / AMX-BF16 (or the OS does not enable tile state)";
  }
  return amx_permitted() ? ""
                         : "Linux refused the AMX tile data permission "
                           "(arch_prctl ARCH_REQ_XCOMP_PERM)";
#else
  return "this build of the CPU kernels has none (they are in the avx512 build, "
         "TOADSTOOL_CPU_ISA=avx512)";
#endif
}

Path parse(const std::string& text, const char* what) {
  for (Path path : {Path::Fp32, Path::Avx512Bf16, Path::Amx}) {
    if (text != name(path)) continue;
    const std::string why = missing(path);
    if (!why.empty()) {
      throw std::invalid_argument(std::string(what) + " '" + text + "': " + why);
    }
    return path;
  }
  throw std::invalid_argument(std::string(what) + ": expected amx, avx512bf16 or fp32, got '" +
                              text + "'");
}

Path choose() {
  const char* forced = std::getenv("TOADSTOOL_BF16_GEMM");
  if (forced != nullptr && *forced != '\0') return parse(forced, "TOADSTOOL_BF16_GEMM");
  if (missing(Path::Amx).empty()) return Path::Amx;
#if TOADSTOOL_BF16_KERNELS
  if (missing(Path::Avx512Bf16).empty() && avx512_bf16_to_fma_rate() >= kAvx512Bf16MinRate) {
    return Path::Avx512Bf16;
  }
#endif
  return Path::Fp32;
}

// The forced path (set_bf16_gemm_path), or -1 for the automatic one.
std::atomic<int> g_forced{-1};

Path current() {
  const int forced = g_forced.load(std::memory_order_relaxed);
  if (forced >= 0) return static_cast<Path>(forced);
  static const Path chosen = choose();
  return chosen;
}

}  // namespace

bool gemm_bf16(const GemmCall& call) {
  switch (current()) {
#if TOADSTOOL_BF16_KERNELS
    case Path::Amx: return gemm_bf16_packed(call, amx_bf16_tile());
    case Path::Avx512Bf16: return gemm_bf16_packed(call, avx512_bf16_tile());
#endif
    default: gemm_widened(call, static_cast<const BFloat16*>(nullptr)); return false;
  }
}

const Bf16Tile* bf16_tile() {
  switch (current()) {
#if TOADSTOOL_BF16_KERNELS
    case Path::Amx: return &amx_bf16_tile();
    case Path::Avx512Bf16: return &avx512_bf16_tile();
#endif
    default: return nullptr;
  }
}

const char* bf16_gemm_path() { return name(current()); }

void set_bf16_gemm_path(const char* path) {
  if (path == nullptr || *path == '\0') {
    g_forced.store(-1, std::memory_order_relaxed);
    return;
  }
  g_forced.store(static_cast<int>(parse(path, "bf16 GEMM path")), std::memory_order_relaxed);
}

}  // namespace toadstool::kernels::cpu
