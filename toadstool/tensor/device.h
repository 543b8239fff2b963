#pragma once
#include <cstdint>
#include <ostream>
#include <string>

namespace toadstool {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  constexpr Device() = default;
  constexpr Device(DeviceType t, int i = 0) : type(t), index(i) {}  // NOLINT: implicit by design
  // Parses "cpu", "cuda", "cuda:1"; throws toadstool::Error on anything else.
  explicit Device(const std::string& spec);

  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  std::string str() const;
  friend bool operator==(const Device&, const Device&) = default;
};

inline constexpr Device kCPU{DeviceType::CPU, 0};

inline std::ostream& operator<<(std::ostream& out, const Device& d) { return out << d.str(); }

// Whether this build carries the CUDA backend (TOADSTOOL_CUDA at configure time).
bool cuda_is_built();
// Whether it is built and the CUDA runtime sees at least one GPU.
bool cuda_is_available();
// torch.cuda.synchronize(): waits for the current GPU's queued work (kernels
// run asynchronously; host reads such as item() and to(kCPU) wait anyway).
// A no-op without a GPU.
void cuda_synchronize();
// PyTorch's torch.backends.cuda.matmul.allow_tf32: float32 matmuls on a GPU
// may round their inputs to TF32 (tensor cores, 10 mantissa bits) when
// true. False by default; the CPU ignores it.
void set_allow_tf32(bool allow);
bool allow_tf32();

// The build of the CPU kernels in use, chosen from the CPU's features when
// the first kernel runs: "avx512", "avx2" or "baseline" (any x86-64). The
// environment variable TOADSTOOL_CPU_ISA forces one (an error if this
// build or this CPU does not have it).
const char* cpu_isa();
// The CPU's float32 peak with those kernels' vectors, measured now: the
// best of `repetitions` runs (about 2 ms each at AVX-512 rates) of
// independent multiply-add chains on `threads` threads, in GFLOP/s (a
// multiply-add counts 2). What model FLOPs utilisation is measured against.
double cpu_fma_peak_gflops(int threads, int repetitions = 5);

// The CPU's bfloat16 GEMM (bfloat16 matmuls: autocast's "bf16-mixed"), all
// with float32 accumulation: "amx" (AMX tiles), "avx512bf16" (VDPBF16PS) or
// "fp32" (operands widened to float32, the float32 GEMM, one rounding).
// Chosen when first used: AMX where the CPU has it; AVX512-BF16 where the
// CPU has it and measures it faster than float32 FMAs (not on an Intel Xeon
// without AMX, where VDPBF16PS runs at half the FMA rate); else fp32. The
// environment variable TOADSTOOL_BF16_GEMM=amx|avx512bf16|fp32 forces one
// (an Error if the CPU or the build lacks it).
const char* cpu_bf16_gemm();
// Forces a path for the matmuls that follow ("" returns to the automatic
// choice); an Error naming what is missing when it cannot run here.
void set_cpu_bf16_gemm(const std::string& path);

}  // namespace toadstool
