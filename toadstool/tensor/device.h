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

}  // namespace toadstool
