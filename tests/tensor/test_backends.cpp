// The kernel table (kernels/backend.h): which entries each backend of this
// build provides, and what a missing one does.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "test_util.h"
#include "toadstool/config.h"
#include "toadstool/kernels/backend.h"
#include "toadstool/toadstool.h"

namespace toadstool {
namespace {

using kernels::Backend;

// (entry name, provided) for every entry of the table, in list order.
std::vector<std::pair<std::string, bool>> coverage(const Backend& b) {
  return {
#define TOADSTOOL_KERNEL(name, Fn) {#name, b.name != nullptr},
#include "toadstool/kernels/kernel_list.h"
#undef TOADSTOOL_KERNEL
  };
}

void print_coverage(const Backend& b) {
  int provided = 0;
  std::string missing;
  for (const auto& [name, has] : coverage(b)) {
    provided += has ? 1 : 0;
    if (!has) missing += " " + name;
  }
  std::cout << b.device << ": " << provided << " of " << coverage(b).size() << " entries"
            << (missing.empty() ? "" : "; missing:" + missing) << "\n";
}

TEST(Backends, CpuProvidesEveryEntry) {
  print_coverage(kernels::cpu_backend());
  EXPECT_STREQ(kernels::cpu_backend().device, "cpu");
  for (const auto& [name, has] : coverage(kernels::cpu_backend())) {
    EXPECT_TRUE(has) << "the CPU backend has no " << name;
  }
}

TEST(Backends, CudaCoverageAndMissingEntries) {
  const Backend& cuda = kernels::cuda_backend();
  print_coverage(cuda);
  EXPECT_STREQ(cuda.device, "cuda");
  if (cuda_is_built()) GTEST_SKIP() << "this build has CUDA";
  for (const auto& [name, has] : coverage(cuda)) {
    EXPECT_FALSE(has) << "a CPU-only build's CUDA table has " << name;
  }
  // Every tensor on the device needs memory first: the error names the entry.
  EXPECT_ERROR(zeros({2}, Device("cuda:0")), "allocate: not built for cuda:0");
}

// A build with CUDA fills every entry of the CUDA table (registry.h's
// register functions, wired in kernels/cuda/backend.cu); building the table
// needs no GPU.
TEST(Backends, ACudaBuildFillsEveryCudaEntry) {
  if (!cuda_is_built()) GTEST_SKIP() << "this build has no CUDA";
  for (const auto& [name, has] : coverage(kernels::cuda_backend())) {
    EXPECT_TRUE(has) << "the CUDA table lacks " << name;
  }
}

// The host copies every device provides, on the CPU a plain copy (to(device)
// and item() go through them).
TEST(Backends, CpuHostCopiesCopyBytes) {
  const std::vector<int64_t> src = {1, -2, 3};
  std::vector<int64_t> there(3), back(3);
  kernels::cpu_backend().copy_from_host(there.data(), src.data(), 3 * sizeof(int64_t));
  kernels::cpu_backend().copy_to_host(back.data(), there.data(), 3 * sizeof(int64_t));
  EXPECT_EQ(back, src);
  kernels::cpu_backend().copy_to_host(back.data(), nullptr, 0);  // nothing to copy
}

// The CPU kernels in use are the best build the CPU can run, unless the
// environment forces one (scripts/test.sh runs the suite forced to each).
TEST(Backends, CpuKernelsAreTheBestBuildTheCpuRuns) {
  const char* forced = std::getenv("TOADSTOOL_CPU_ISA");
  std::cout << "CPU kernels: " << cpu_isa() << (forced ? " (forced)" : "") << "\n";
  EXPECT_STREQ(kernels::cpu_backend().isa, cpu_isa());
  if (forced != nullptr && *forced != '\0') {
    EXPECT_STREQ(cpu_isa(), forced);
    return;
  }
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                      __builtin_cpu_supports("avx512dq");
  const std::string expected = avx512 && TOADSTOOL_WITH_CPU_AVX512 ? "avx512"
                               : avx2 && TOADSTOOL_WITH_CPU_AVX2   ? "avx2"
                                                                   : "baseline";
  EXPECT_EQ(cpu_isa(), expected);
}

// Every row of kernels/elementwise_list.h runs on the CPU for every dtype of
// its TypeSet (a row whose instantiation was missed throws instead).
TEST(Backends, CpuElementwiseRunsEveryRowAndDtype) {
  using kernels::ElementwiseOp;
  using kernels::TypeSet;
  const auto dtypes = [](TypeSet set) -> std::vector<DType> {
    switch (set) {
      case TypeSet::Float: return {kFloat32, kFloat64};
      case TypeSet::Floating: return {kFloat16, kBFloat16, kFloat32, kFloat64};
      case TypeSet::Numeric: return {kInt64, kFloat32, kFloat64};
      case TypeSet::Compute: return {kBool, kInt64, kFloat32, kFloat64};
      case TypeSet::All: break;
    }
    return {kBool, kInt64, kFloat16, kBFloat16, kFloat32, kFloat64};
  };
  struct Row {
    const char* name;
    ElementwiseOp op;
    TypeSet types;
    int inputs;
  };
  const std::vector<Row> rows = {
#define TOADSTOOL_ELEMENTWISE(name, Functor, signature, types)                  \
  {#name, ElementwiseOp::name, TypeSet::types,                                  \
   kernels::Signature::signature == kernels::Signature::Nullary ? 0             \
   : kernels::Signature::signature == kernels::Signature::Where ? 3             \
   : kernels::Signature::signature == kernels::Signature::Binary ||             \
           kernels::Signature::signature == kernels::Signature::BinaryToBool || \
           kernels::Signature::signature == kernels::Signature::MaskedFill      \
       ? 2                                                                      \
       : 1},
#include "toadstool/kernels/elementwise_list.h"
#undef TOADSTOOL_ELEMENTWISE
  };
  // Eight bytes per element covers every dtype; four elements, one dim.
  std::vector<int64_t> out(4), a(4, 1), b(4, 1), c(4, 1);
  for (const Row& row : rows) {
    for (DType dtype : dtypes(row.types)) {
      kernels::ElementwiseCall call{.op = row.op, .dtype = dtype};
      kernels::StridedPlan plan;
      plan.ndim = 1;
      plan.operands = 1 + row.inputs;
      plan.numel = 4;
      plan.sizes[0] = 4;
      for (int k = 0; k < plan.operands; ++k) plan.strides[k][0] = 1;
      call.out = out.data();
      call.in = {a.data(), b.data(), c.data()};
      EXPECT_NO_THROW(kernels::cpu_backend().elementwise(call, plan)) << row.name << " " << dtype;
    }
  }
}

}  // namespace
}  // namespace toadstool
