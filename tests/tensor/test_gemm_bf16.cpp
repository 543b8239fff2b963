// The CPU's bfloat16 GEMM (kernels/cpu/gemm_bf16.h), each path against a
// float64 reference: "fp32" (widened) everywhere, "avx512bf16" and "amx"
// where this CPU and build have them (skipped with the missing feature
// otherwise), on the shapes of common/bf16_gemm_cases.h, 1 and 2 threads.
// (The AMX kernel also runs on a software model of the tiles wherever the
// CPU has AVX512-BF16: tests/amx_emulation/.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>

#include "bf16_gemm_cases.h"
#include "toadstool/kernels/backend.h"
#include "toadstool/toadstool.h"

namespace toadstool {
namespace {

using bf16_gemm_cases::check;
using bf16_gemm_cases::GemmShape;
using bf16_gemm_cases::shapes;

// Forces a bf16 GEMM path for one test, back to the automatic choice after.
class ForcedPath {
 public:
  explicit ForcedPath(const std::string& path) { set_cpu_bf16_gemm(path); }
  ~ForcedPath() { set_cpu_bf16_gemm(""); }
  ForcedPath(const ForcedPath&) = delete;
  ForcedPath& operator=(const ForcedPath&) = delete;
};

// Forces `path` and checks every shape on 1 and 2 threads, or skips naming
// what the CPU or the build lacks.
void check_path(const std::string& path) {
  try {
    set_cpu_bf16_gemm(path);
  } catch (const Error& e) {
    GTEST_SKIP() << "bf16 GEMM path " << path << " not available here: " << e.what();
  }
  ForcedPath forced(path);
  EXPECT_EQ(cpu_bf16_gemm(), path);
  for (const GemmShape& s : shapes()) {
    for (int threads : {1, 2}) {
      check(s, threads, [](const kernels::GemmCall& call) {
        kernels::cpu_backend().gemm(DType::BFloat16, call);
      });
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(GemmBf16, WidenedFp32Path) { check_path("fp32"); }
TEST(GemmBf16, Avx512Bf16Path) { check_path("avx512bf16"); }
TEST(GemmBf16, AmxPath) { check_path("amx"); }

// The path in use is one of the three, the forced one when the environment
// forces it; a path this machine lacks, or a misspelt one, is an Error
// naming it.
TEST(GemmBf16, PathChoiceAndErrors) {
  const char* forced = std::getenv("TOADSTOOL_BF16_GEMM");
  std::string chosen;
  try {
    chosen = cpu_bf16_gemm();
  } catch (const Error& e) {  // only where the environment forces a path this CPU lacks
    ASSERT_TRUE(forced != nullptr && *forced != '\0') << "automatic choice failed: " << e.what();
    EXPECT_NE(std::string(e.what()).find("TOADSTOOL_BF16_GEMM '"), std::string::npos) << e.what();
    return;
  }
  std::cout << "bf16 GEMM path: " << chosen << " (CPU kernels " << cpu_isa() << ")\n";
  EXPECT_TRUE(chosen == "amx" || chosen == "avx512bf16" || chosen == "fp32") << chosen;
  if (forced != nullptr && *forced != '\0') {
    EXPECT_EQ(chosen, forced);
  }
  if (std::string(cpu_isa()) != "avx512") {
    EXPECT_EQ(chosen, "fp32");  // the 16-bit kernels are in the avx512 build only
  }
  try {
    set_cpu_bf16_gemm("avx512_bf16");
    ADD_FAILURE() << "a misspelt path was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected amx, avx512bf16 or fp32"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(cpu_bf16_gemm(), chosen);  // unchanged by the failed call
  for (const char* path : {"amx", "avx512bf16"}) {
    try {
      ForcedPath use(path);
      EXPECT_EQ(cpu_bf16_gemm(), std::string(path));
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(path), std::string::npos) << what;
      EXPECT_TRUE(what.find("lacks") != std::string::npos ||
                  what.find("refused") != std::string::npos ||
                  what.find("build") != std::string::npos)
          << what;
    }
  }
  EXPECT_EQ(cpu_bf16_gemm(), chosen);
}

// matmul of bfloat16 tensors goes through the chosen path and agrees with
// float32 on a Transformer-like shape.
TEST(GemmBf16, MatmulUsesThePath) {
  const Tensor x = randn({200, 96}), w = randn({64, 96});
  const Tensor want = matmul(x.to(kBFloat16).to(kFloat32), w.to(kBFloat16).to(kFloat32).t());
  const Tensor got = matmul(x.to(kBFloat16), w.to(kBFloat16).t());
  EXPECT_EQ(got.dtype(), kBFloat16);
  const double err = (got.to(kFloat32) - want).abs().amax().item<float>();
  const double size = want.abs().amax().item<float>();
  EXPECT_LE(err, size * std::ldexp(1.0, -8)) << "path " << cpu_bf16_gemm();
}

}  // namespace
}  // namespace toadstool
