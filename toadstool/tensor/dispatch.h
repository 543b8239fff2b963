#pragma once
// Internal to tensor/: how front-ends reach a device's kernel table
// (kernels/backend.h).
//
//   TS_KERNEL(device, softmax_forward, dtype, x, y, ...);
//
// calls the entry of that device's backend with the arguments after its
// name, or throws toadstool::Error "softmax_forward: not built for cuda:0"
// when the backend lacks it. A kernel's own failure (a CUDA or cuBLAS error,
// which kernels throw as std::runtime_error naming the call) becomes a
// toadstool::Error naming the entry and the device as well.
// TS_KERNEL_ENTRY(device, name) is the entry itself (the same check, no
// call, no translation).
#include <chrono>
#include <stdexcept>
#include <type_traits>

#include "toadstool/kernels/backend.h"
#include "toadstool/tensor/device.h"
#include "toadstool/tensor/error.h"
#include "toadstool/tensor/kernel_flops.h"
#include "toadstool/tensor/kernel_profile.h"

namespace toadstool::detail {

// The CUDA table, after checking that the device exists when the backend is
// built (an Error naming the device otherwise).
const kernels::Backend& cuda_backend_of(Device device);

// The table of a device type (the CUDA one is empty in a CPU-only build).
inline const kernels::Backend& backend_of(Device device) {
  return device.is_cuda() ? cuda_backend_of(device) : kernels::cpu_backend();
}

// Times one kernel call while the profile records: from construction to
// destruction (after the device finished, on a GPU), also when the kernel
// throws.
class ProfiledCall {
 public:
  ProfiledCall(const char* kernel, Device device, double flops)
      : kernel_(kernel), device_(device), flops_(flops), start_(Clock::now()) {}
  ~ProfiledCall();
  ProfiledCall(const ProfiledCall&) = delete;
  ProfiledCall& operator=(const ProfiledCall&) = delete;

 private:
  using Clock = std::chrono::steady_clock;
  const char* kernel_;
  Device device_;
  double flops_;
  Clock::time_point start_;
};

template <class Fn>
Fn& require_kernel(Fn* entry, const char* kernel, Device device) {
  TS_CHECK(entry != nullptr, kernel, ": not built for ", device);
  return *entry;
}

// Calls a table entry; a std::runtime_error or std::logic_error from the
// kernel becomes "<entry> on <device>: <what>". While the kernel profile
// records (tensor/kernel_profile.h), the call is timed and its FLOPs
// counted; `Entry` (&kernels::Backend::<entry>) selects the FLOP count.
template <auto Entry, class Fn>
struct KernelCall;
template <auto Entry, class R, class... Args>
struct KernelCall<Entry, R(Args...)> {
  R (*entry)(Args...);
  const char* kernel;
  Device device;

  R operator()(Args... args) const {
    if (kernel_profile_on()) [[unlikely]] {
      const ProfiledCall timing(kernel, device, KernelFlops<Entry>::count(args...));
      return run(args...);
    }
    return run(args...);
  }

 private:
  R run(Args... args) const {
    try {
      return entry(args...);
    } catch (const Error&) {
      throw;
    } catch (const std::runtime_error& e) {
      throw Error(concat(kernel, " on ", device, ": ", e.what()));
    } catch (const std::logic_error& e) {
      throw Error(concat(kernel, " on ", device, ": ", e.what()));
    }
  }
};

template <auto Entry>
auto kernel_call(Device device, const char* kernel) {
  auto* entry = backend_of(device).*Entry;
  return KernelCall<Entry, std::remove_pointer_t<decltype(entry)>>{
      &require_kernel(entry, kernel, device), kernel, device};
}

}  // namespace toadstool::detail

#define TS_KERNEL_ENTRY(device, name) \
  ::toadstool::detail::require_kernel(::toadstool::detail::backend_of(device).name, #name, (device))
#define TS_KERNEL(device, name, ...)                                               \
  ::toadstool::detail::kernel_call<&::toadstool::kernels::Backend::name>((device), \
                                                                         #name)(__VA_ARGS__)
