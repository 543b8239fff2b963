// The launches and entries of the tiled attention kernels
// (attention_tiled_kernels.cuh, which says what they compute): float32,
// bfloat16 and float16.
#include <string>

#include "toadstool/kernels/cuda/attention_tiled_kernels.cuh"
#include "toadstool/kernels/cuda/scratch.cuh"

namespace toadstool::kernels::cuda {

namespace {

// ---- launches ----

// D: the head dims padded to the next of 32, 64, 128.
int padded_head_dim(const AttentionCall& call) {
  const int64_t widest = std::max(call.E, call.Ev);
  return widest <= 32 ? 32 : widest <= 64 ? 64 : 128;
}

int device_attribute(cudaDeviceAttr attribute) {
  int device = 0, value = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&value, attribute, device), "cudaDeviceGetAttribute");
  return value;
}

// The largest of the kernels' shared memory for T and head dim D.
template <class T, int D>
size_t shared_bytes() {
  return std::max(tiles_bytes<ForwardTiles<T, D>>(), tiles_bytes<BackwardTiles<T, D>>());
}

// Launches kernel over `items` blocks with `bytes` of dynamic shared memory
// (above 48 KiB a kernel must opt in, per device: set on every launch).
template <class... Params, class... Args>
void launch(void (*kernel)(Params...), const char* name, int64_t items, size_t bytes,
            const Args&... args) {
  check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(bytes)),
        "cudaFuncSetAttribute");
  launch_kernel(name, kernel, grid_for(items), kTiledThreads, bytes, args...);
}

template <class T, int D>
void forward(const AttentionArgs<T>& a, T* out, float* lse, const Dropout& dropout) {
  const int64_t items = a.heads * ((a.L + kRows - 1) / kRows);
  launch(tiled_forward<T, D>, "attention_tiled_forward", items, tiles_bytes<ForwardTiles<T, D>>(),
         a, dropout, out, lse);
}

template <class T, int D>
void backward(const AttentionArgs<T>& a, const T* out, const float* lse, const T* grad_out,
              T* grad_q, T* grad_k, T* grad_v, const Dropout& dropout) {
  const int64_t rows = a.heads * a.L;
  Scratch<float> d(static_cast<size_t>(rows));
  const size_t bytes = tiles_bytes<BackwardTiles<T, D>>();
  if (rows > 0) {
    launch_kernel("attention_tiled_row_dots", tiled_row_dots<T>, blocks_for(rows * 32), kThreads, 0,
                  a, grad_out, out, d.get());
    // With S = 0 the key loop is empty and grad_q comes out zero.
    launch(tiled_grad_q<T, D>, "attention_tiled_grad_q", a.heads * ((a.L + kRows - 1) / kRows),
           bytes, a, dropout, lse, grad_out, static_cast<const float*>(d.get()), grad_q);
  }
  if (a.S > 0) {
    // With L = 0 the query loop is empty and grad_k, grad_v come out zero.
    launch(tiled_grad_kv<T, D>, "attention_tiled_grad_kv", a.heads * ((a.S + kCols - 1) / kCols),
           bytes, a, dropout, lse, grad_out, static_cast<const float*>(d.get()), grad_k, grad_v);
  }
}

// Calls fn(T{}, std::integral_constant<int, D>{}) for the call's dtype and D.
template <class Fn>
void for_tiled(DType dtype, const AttentionCall& call, const char* op, const Fn& fn) {
  auto with_d = [&](auto zero) {
    switch (padded_head_dim(call)) {
      case 32: return fn(zero, std::integral_constant<int, 32>{});
      case 64: return fn(zero, std::integral_constant<int, 64>{});
      default: return fn(zero, std::integral_constant<int, 128>{});
    }
  };
  if (dtype == DType::Float32) return with_d(float{});
  if (dtype == DType::BFloat16) return with_d(BFloat16{});
  if (dtype == DType::Float16) return with_d(Half{});
  throw std::runtime_error(std::string(op) + ": the tiled kernels take float32, bfloat16 and " +
                           "float16, got " + dtype_name(dtype));
}

}  // namespace

bool attention_tiled_takes(DType dtype, const AttentionCall& call) {
  if (dtype != DType::Float32 && dtype != DType::BFloat16 && dtype != DType::Float16) return false;
  if (call.E > kTiledMaxHeadDim || call.Ev > kTiledMaxHeadDim) return false;
  // bfloat16 / float16 WMMA needs compute capability 8.0, and kernels
  // compiled for it: the image this GPU runs may be older PTX (a user's
  // CMAKE_CUDA_ARCHITECTURES=75 on an sm_86), JIT-compiled, whose 16-bit
  // kernels are traps.
  if (dtype != DType::Float32) {
    if (device_attribute(cudaDevAttrComputeCapabilityMajor) < 8) return false;
    cudaFuncAttributes image{};
    check(cudaFuncGetAttributes(&image, tiled_forward<BFloat16, 32>), "cudaFuncGetAttributes");
    if (image.ptxVersion < 80) return false;
  }
  size_t bytes = 0;
  for_tiled(dtype, call, "attention",
            [&](auto zero, auto d) { bytes = shared_bytes<decltype(zero), decltype(d)::value>(); });
  return bytes <= static_cast<size_t>(device_attribute(cudaDevAttrMaxSharedMemoryPerBlockOptin));
}

void attention_tiled_forward(DType dtype, const AttentionCall& call, void* out, float* lse) {
  if (call.heads == 0 || call.L == 0) return;
  for_tiled(dtype, call, "attention_forward", [&](auto zero, auto d) {
    using T = decltype(zero);
    forward<T, decltype(d)::value>(typed_args<T>(call), static_cast<T*>(out), lse,
                                   dropout_of(call));
  });
}

void attention_tiled_backward(DType dtype, const AttentionCall& call, const void* out,
                              const float* lse, const void* grad_out, void* grad_q, void* grad_k,
                              void* grad_v) {
  if (call.heads == 0) return;
  for_tiled(dtype, call, "attention_backward", [&](auto zero, auto d) {
    using T = decltype(zero);
    backward<T, decltype(d)::value>(typed_args<T>(call), static_cast<const T*>(out), lse,
                                    static_cast<const T*>(grad_out), static_cast<T*>(grad_q),
                                    static_cast<T*>(grad_k), static_cast<T*>(grad_v),
                                    dropout_of(call));
  });
}

}  // namespace toadstool::kernels::cuda
