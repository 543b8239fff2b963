#include "toadstool/tensor/device.h"

#include <stdexcept>

#include "toadstool/config.h"
#include "toadstool/kernels/backend.h"
#include "toadstool/tensor/error.h"

namespace toadstool {

Device::Device(const std::string& spec) {
  if (spec == "cpu") {
    *this = Device(DeviceType::CPU, 0);
    return;
  }
  const std::string cuda = "cuda";
  TS_CHECK(spec.rfind(cuda, 0) == 0, "Device: expected 'cpu', 'cuda' or 'cuda:N', got '", spec,
           "'");
  int index = 0;
  if (spec.size() > cuda.size()) {
    const std::string digits = spec.substr(cuda.size() + 1);
    TS_CHECK(spec[cuda.size()] == ':' && !digits.empty() &&
                 digits.find_first_not_of("0123456789") == std::string::npos && digits.size() < 6,
             "Device: expected 'cpu', 'cuda' or 'cuda:N', got '", spec, "'");
    index = std::stoi(digits);
  }
  *this = Device(DeviceType::CUDA, index);
}

std::string Device::str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }

bool cuda_is_built() { return TOADSTOOL_WITH_CUDA; }

bool cuda_is_available() { return kernels::cuda_device_count() > 0; }

void cuda_synchronize() {
  if (cuda_is_available()) kernels::cuda_synchronize();
}

void set_allow_tf32(bool allow) { kernels::set_allow_tf32(allow); }
bool allow_tf32() { return kernels::allow_tf32(); }

const char* cpu_isa() { return kernels::cpu_backend().isa; }

double cpu_fma_peak_gflops(int threads, int repetitions) {
  TS_CHECK(threads >= 1 && repetitions >= 1,
           "cpu_fma_peak_gflops: threads and repetitions must be >= 1, got ", threads, " and ",
           repetitions);
  return kernels::cpu_backend().fma_peak_gflops(threads, repetitions, 2'000'000);
}

const char* cpu_bf16_gemm() {
  try {
    return kernels::cpu_backend().bf16_gemm_path();
  } catch (const std::invalid_argument& e) {  // TOADSTOOL_BF16_GEMM names a path it lacks
    throw Error(detail::concat("cpu_bf16_gemm: ", e.what()));
  }
}

void set_cpu_bf16_gemm(const std::string& path) {
  try {
    kernels::cpu_backend().set_bf16_gemm_path(path.c_str());
  } catch (const std::invalid_argument& e) {
    throw Error(detail::concat("set_cpu_bf16_gemm: ", e.what()));
  }
}

}  // namespace toadstool
