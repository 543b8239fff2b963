#pragma once
// The op table: every differentiable op that records a node on the tape,
// from the one list in autograd/op_list.h. A node names its op from this
// table, so an op cannot take part in autograd without an entry there, and
// tests/autograd/test_gradcheck_ops.cpp fails when an entry has no gradient
// check.
#include <array>
#include <cstddef>
#include <string_view>

namespace toadstool::autograd {

enum class Op {
#define TOADSTOOL_OP(name) name,
#include "toadstool/autograd/op_list.h"
#undef TOADSTOOL_OP
};

inline constexpr auto kOpNames = std::to_array<std::string_view>({
#define TOADSTOOL_OP(name) #name,
#include "toadstool/autograd/op_list.h"
#undef TOADSTOOL_OP
});

inline constexpr size_t kOpCount = kOpNames.size();

inline std::string_view op_name(Op op) { return kOpNames[static_cast<size_t>(op)]; }

}  // namespace toadstool::autograd
