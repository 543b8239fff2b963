// The CUDA element-wise entries (kernels/cuda/elementwise.cu, the whole
// file: elementwise_list.h's dispatch, the contiguous and strided kernels,
// convert and triangle) run on the CPU by the warp emulator
// (emulated_backend.h), against the CPU backend's entries on the same plan.
// Both run the same functors (kernels/math.h) element by element, so the
// results must be the same bits; what this checks is the plans' indexing:
// a contiguous 1-d plan, and 3-d plans with a transposed operand, a
// broadcast one (stride 0), a strided output, a bound scalar, a bool result
// and a three-input op.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "element_bytes.h"
#include "emulated_backend.h"
#include "toadstool/kernels/dtype.h"
#include "toadstool/kernels/kernel_args.h"

namespace toadstool::kernels::cuda {
namespace {

// Small multiples of 1/4 (as int64 and bool: their integer part), valid
// values of every dtype.
Bytes random_elements(DType dtype, int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> small(-9, 9);
  return make_elements(dtype, n, [&](int64_t) { return small(rng) / 4.0; });
}

// A plan over `sizes` (innermost first) with each operand's strides
// (innermost first; operand 0 the output).
StridedPlan plan_of(const std::vector<int64_t>& sizes,
                    const std::vector<std::vector<int64_t>>& strides) {
  StridedPlan plan;
  plan.ndim = static_cast<int>(sizes.size());
  plan.operands = static_cast<int>(strides.size());
  plan.numel = 1;
  for (int d = 0; d < plan.ndim; ++d) {
    plan.sizes[d] = sizes[d];
    plan.numel *= sizes[d];
    for (int k = 0; k < plan.operands; ++k) plan.strides[k][d] = strides[k][d];
  }
  return plan;
}

// The elements an operand with these strides spans over the plan.
int64_t span_of(const StridedPlan& plan, int k) {
  int64_t last = 0;
  for (int d = 0; d < plan.ndim; ++d) last += (plan.sizes[d] - 1) * plan.strides[k][d];
  return last + 1;
}

// [4, 5, 6] (sizes innermost first: 6, 5, 4): the output strided (rows 8
// apart), operand 1 contiguous, operand 2 the transpose of a [6, 5, 4]
// tensor, operand 3 broadcast along the middle dim.
StridedPlan strided_plan(int operands) {
  const std::vector<std::vector<int64_t>> all = {{1, 8, 40}, {1, 6, 30}, {20, 4, 1}, {1, 0, 6}};
  return plan_of({6, 5, 4}, {all.begin(), all.begin() + operands});
}

struct Op {
  ElementwiseOp op;
  DType dtype;      // the compute dtype
  DType out_dtype;  // bool for the comparisons
  Bind bind = Bind::None;
  const char* name = "";
};

void check(const Op& op, const StridedPlan& plan, const std::string& layout) {
  const std::string what = std::string(op.name) + ", " + layout;
  std::vector<Bytes> inputs;
  for (int k = 1; k < plan.operands; ++k) {
    // Where's first input is its bool condition.
    const DType dt = op.op == ElementwiseOp::Where && k == 1 ? DType::Bool : op.dtype;
    inputs.push_back(random_elements(dt, span_of(plan, k), 10 + k));
  }
  const size_t out_bytes = span_of(plan, 0) * element_size(op.out_dtype);
  Bytes cpu(out_bytes, 0x5a), gpu(out_bytes, 0x5a);  // gaps of the strided output stay 0x5a
  for (auto [backend, out] : {std::pair{&cpu_backend(), &cpu}, {&emulated_backend(), &gpu}}) {
    ElementwiseCall call;
    call.op = op.op;
    call.dtype = op.dtype;
    call.bind = op.bind;
    call.bound = KernelScalar{.f = 0.75, .i = 3};
    call.out = out->data();
    for (size_t k = 0; k < inputs.size(); ++k) call.in[k] = inputs[k].data();
    backend->elementwise(call, plan);
  }
  EXPECT_EQ(gpu, cpu) << what;
}

TEST(ElementwiseEmulated, ContiguousAndStridedPlansMatchTheCpu) {
  const Op binary_ops[] = {
      {ElementwiseOp::Add, DType::Float32, DType::Float32, Bind::None, "add float32"},
      {ElementwiseOp::Mul, DType::Int64, DType::Int64, Bind::None, "mul int64"},
      {ElementwiseOp::Maximum, DType::Float64, DType::Float64, Bind::None, "maximum float64"},
      {ElementwiseOp::Gt, DType::Float64, DType::Bool, Bind::None, "gt float64"},
  };
  for (const Op& op : binary_ops) {
    check(op, plan_of({1000}, {{1}, {1}, {1}}), "contiguous");
    check(op, strided_plan(3), "strided, a transposed input");
    StridedPlan broadcast = strided_plan(4);
    broadcast.operands = 3;
    broadcast.strides[2] = broadcast.strides[3];  // the second input broadcast
    check(op, broadcast, "strided, a broadcast input");
  }
  const Op bound{ElementwiseOp::Sub, DType::Float32, DType::Float32, Bind::First,
                 "sub float32, a bound first operand"};
  check(bound, plan_of({1000}, {{1}, {1}}), "contiguous");
  check(bound, strided_plan(2), "strided");
  const Op where{ElementwiseOp::Where, DType::Float64, DType::Float64, Bind::None, "where float64"};
  check(where, plan_of({1000}, {{1}, {1}, {1}, {1}}), "contiguous");
  check(where, strided_plan(4), "strided, transposed and broadcast inputs");
}

TEST(ElementwiseEmulated, ConvertMatchesTheCpu) {
  const std::pair<DType, DType> conversions[] = {{DType::Float32, DType::BFloat16},
                                                 {DType::BFloat16, DType::Float32},
                                                 {DType::Int64, DType::Float64},
                                                 {DType::Float64, DType::Bool}};
  for (const auto& [from, to] : conversions) {
    for (const StridedPlan& plan : {plan_of({1000}, {{1}, {1}}), strided_plan(3)}) {
      StridedPlan two = plan;
      two.operands = 2;
      two.strides[1] = plan.strides[plan.operands - 1];  // the transposed or contiguous input
      const Bytes in = random_elements(from, span_of(two, 1), 3);
      const size_t out_bytes = span_of(two, 0) * element_size(to);
      Bytes cpu(out_bytes, 0x5a), gpu(out_bytes, 0x5a);
      cpu_backend().convert(to, from, two, cpu.data(), in.data());
      emulated_backend().convert(to, from, two, gpu.data(), in.data());
      EXPECT_EQ(gpu, cpu) << dtype_name(from) << " to " << dtype_name(to) << ", " << two.ndim
                          << "-d plan";
    }
  }
}

TEST(ElementwiseEmulated, TriangleMatchesTheCpu) {
  for (const size_t size : {size_t{1}, size_t{2}, size_t{4}, size_t{8}}) {
    for (const int64_t diagonal : {int64_t{-1}, int64_t{0}, int64_t{2}}) {
      for (const bool lower : {false, true}) {
        const int64_t matrices = 3, rows = 5, cols = 7;
        const Bytes data = random_elements(DType::Int64, matrices * rows * cols, 4);
        Bytes cpu(data.begin(), data.begin() + static_cast<int64_t>(matrices * rows * cols * size));
        Bytes gpu = cpu;
        cpu_backend().triangle(cpu.data(), size, matrices, rows, cols, diagonal, lower);
        emulated_backend().triangle(gpu.data(), size, matrices, rows, cols, diagonal, lower);
        EXPECT_EQ(gpu, cpu) << (lower ? "tril" : "triu") << ", diagonal " << diagonal << ", "
                            << size << "-byte elements";
      }
    }
  }
}

}  // namespace
}  // namespace toadstool::kernels::cuda
