// Bad-input rows of tensor ops and autograd (docs/bad_input.md).
#include <cmath>
#include <cstdint>
#include <limits>

#include "bad_input_rows.h"
#include "toadstool/toadstool.h"

namespace toadstool::testing {

std::vector<BadInputRow> tensor_bad_input_rows() {
  const auto f32 = [](const Shape& shape) { return zeros(shape); };
  return {
      // --- shapes -----------------------------------------------------------------------------
      {"MatmulInnerDims",
       "tensor",
       "matmul [2, 3] @ [4, 5]",
       [=] {
         matmul(f32({2, 3}), f32({4, 5}));
       },
       {"matmul", "[2, 3]", "[4, 5]"}},
      {"MatmulBatchDims",
       "tensor",
       "batched matmul [2, 3, 4] @ [5, 4, 6] (batch 2 vs 5)",
       [=] {
         matmul(f32({2, 3, 4}), f32({5, 4, 6}));
       },
       {"matmul", "[2]", "[5]", "[2, 3, 4] float32", "[5, 4, 6] float32"}},
      {"MatmulZeroDim",
       "tensor",
       "matmul of a 0-d tensor",
       [=] { matmul(f32({}), f32({3})); },
       {"matmul", "at least 1 dim", "[]"}},
      {"BroadcastMismatch",
       "tensor",
       "add [2, 3] + [4, 3]",
       [=] {
         add(f32({2, 3}), f32({4, 3}));
       },
       {"add", "[2, 3]", "[4, 3]"}},
      {"InPlaceBroadcastResult",
       "tensor",
       "in-place add_ of [3] into [1] (the result would grow)",
       [=] {
         Tensor a = f32({1});
         add_(a, f32({3}));
       },
       {"add_", "[3]", "[1]"}},
      {"ViewWrongNumel",
       "tensor",
       "view of [2, 3] as [4, 2]",
       [=] {
         f32({2, 3}).view({4, 2});
       },
       {"view", "[4, 2]", "6"}},
      {"ReshapeWrongNumel",
       "tensor",
       "reshape of [2, 3] as [-1, 4]",
       [=] {
         f32({2, 3}).reshape({-1, 4});
       },
       {"reshape", "[-1, 4]", "6"}},
      {"ReshapeTwoInferred",
       "tensor",
       "reshape with two -1",
       [=] {
         f32({2, 3}).reshape({-1, -1});
       },
       {"reshape", "only one dim may be -1", "[-1, -1]"}},
      {"ViewNonContiguous",
       "tensor",
       "view of a transposed (non-contiguous) tensor across its dims",
       [=] {
         f32({2, 3}).transpose(0, 1).view({6});
       },
       {"view", "[3, 2]", "reshape"}},
      {"DimOutOfRange",
       "tensor",
       "sum over dim 2 of a 2-d tensor",
       [=] {
         sum(f32({2, 3}), {2});
       },
       {"sum", "dim 2", "2 dims"}},
      {"PermuteRepeatedDim",
       "tensor",
       "permute [0, 0]",
       [=] {
         permute(f32({2, 3}), {0, 0});
       },
       {"permute", "0", "twice"}},
      {"ExpandIncompatible",
       "tensor",
       "expand [2, 3] to [4, 3]",
       [=] {
         expand(f32({2, 3}), {4, 3});
       },
       {"expand", "[2, 3]", "[4, 3]"}},
      {"CatShapeMismatch",
       "tensor",
       "cat of [2, 3] and [2, 4] along dim 0",
       [=] {
         cat({f32({2, 3}), f32({2, 4})}, 0);
       },
       {"cat", "[2, 3]", "[2, 4]"}},
      {"CatEmptyList", "tensor", "cat of an empty list", [] { cat({}, 0); }, {"cat", "empty"}},
      {"StackShapeMismatch",
       "tensor",
       "stack of [2] and [3]",
       [=] {
         stack({f32({2}), f32({3})});
       },
       {"stack", "[2]", "[3]"}},
      // --- indices ----------------------------------------------------------------------------
      {"SelectOutOfRange",
       "tensor",
       "select index 5 of a dim of size 3",
       [=] {
         select(f32({3, 2}), 0, 5);
       },
       {"select", "index 5", "3"}},
      {"NarrowOutOfRange",
       "tensor",
       "narrow start 2, length 3 of a dim of size 4",
       [=] { narrow(f32({4}), 0, 2, 3); },
       {"narrow", "start 2", "3", "4"}},
      {"IndexSelectOutOfRange",
       "tensor",
       "index_select id 7 of a dim of size 3",
       [=] {
         index_select(f32({3, 2}), 0, from_vector<int64_t>({0, 7}));
       },
       {"index_select", "index 7", "3"}},
      {"IndexSelectNegative",
       "tensor",
       "index_select id -1",
       [=] {
         index_select(f32({3, 2}), 0, from_vector<int64_t>({-1}));
       },
       {"index_select", "-1", "3"}},
      {"IndexSelectFloatIndex",
       "tensor",
       "index_select with a float32 index",
       [=] {
         index_select(f32({3, 2}), 0, f32({2}));
       },
       {"index_select", "int64", "float32"}},
      {"GatherOutOfRange",
       "tensor",
       "gather index 4 along a dim of size 2",
       [=] {
         gather(f32({3, 2}), 1, from_vector<int64_t>({0, 4, 1}, {3, 1}));
       },
       {"gather", "index 4", "2"}},
      {"GatherIndexDims",
       "tensor",
       "gather with an index of another rank",
       [=] {
         gather(f32({3, 2}), 1, from_vector<int64_t>({0, 1}));
       },
       {"gather", "[2]", "[3, 2]"}},
      {"OneHotOutOfRange",
       "tensor",
       "one_hot of class 5 with num_classes 3",
       [] {
         one_hot(from_vector<int64_t>({0, 5}), 3);
       },
       {"one_hot", "5", "3"}},
      // --- dtypes -----------------------------------------------------------------------------
      {"MatmulDtypeMismatch",
       "tensor",
       "matmul float32 @ float64",
       [=] {
         matmul(f32({2, 2}), zeros({2, 2}, kFloat64));
       },
       {"matmul", "float32", "float64"}},
      {"MatmulIntegers",
       "tensor",
       "matmul of int64 tensors",
       [] {
         matmul(zeros({2, 2}, kInt64), zeros({2, 2}, kInt64));
       },
       {"matmul", "floating", "int64"}},
      {"WhereNonBoolCondition",
       "tensor",
       "where with a float32 condition",
       [=] { where(f32({2}), f32({2}), f32({2})); },
       {"where", "bool", "float32"}},
      {"MaskedFillMaskShape",
       "tensor",
       "masked_fill_ of [2, 3] with a [4] mask",
       [=] {
         Tensor t = f32({2, 3});
         masked_fill_(t, zeros({4}, kBool), 1.0);
       },
       {"masked_fill", "[4]", "[2, 3]"}},
      {"SoftmaxDimOutOfRange",
       "tensor",
       "softmax over dim 3 of a [2, 3] tensor",
       [=] {
         softmax(f32({2, 3}), 3);
       },
       {"softmax", "dim 3", "2 dims"}},
      {"ItemOfManyElements",
       "tensor",
       "item() of a [2, 2] tensor",
       [=] {
         f32({2, 2}).item<float>();
       },
       {"item", "[2, 2]"}},
      // --- sizes ------------------------------------------------------------------------------
      {"NegativeSize",
       "tensor",
       "zeros of shape [2, -3]",
       [] {
         zeros({2, -3});
       },
       {"zeros", "negative", "[2, -3]"}},
      {"ImpossibleSize",
       "tensor",
       "zeros of 2^62 float32 elements (2^64 bytes)",
       [] { zeros({int64_t{1} << 62}); },
       {"zeros", "4611686018427387904", "2^63 bytes"}},
      {"ElementCountOverflow",
       "tensor",
       "empty of shape [2^32, 2^32] (2^64 elements)",
       [] {
         empty({int64_t{1} << 32, int64_t{1} << 32});
       },
       {"empty", "[4294967296, 4294967296]", "2^63"}},
      {"OutOfMemory",
       "tensor",
       "empty of 2^45 float32 elements (128 TiB)",
       [] { empty({int64_t{1} << 45}); },
       {"out of memory", "bytes"}},
      {"ReduceEmptyDim",
       "tensor",
       "amax over the empty dim of a [0, 3] tensor (no identity)",
       [=] {
         amax(f32({0, 3}), {0});
       },
       {"amax", "empty dim", "[0, 3]"}},
      {"ViewZeroSizeInferred",
       "tensor",
       "view of a [0, 3] tensor as [-1, 0] (-1 could be anything)",
       [=] {
         f32({0, 3}).view({-1, 0});
       },
       {"view", "[-1, 0]", "0 elements"}},
      {"ArangeZeroStep",
       "tensor",
       "arange(0, 10, step 0)",
       [] { arange(0, 10, 0); },
       {"arange", "step"}},
      {"RandintEmptyRange",
       "tensor",
       "randint(5, 5)",
       [] { randint(5, 5, {3}); },
       {"randint", "5"}},
      {"DropoutProbability",
       "tensor",
       "dropout with p = 1.5",
       [=] { dropout(f32({4}), 1.5); },
       {"dropout", "1.5"}},
      // --- undefined tensors (a default-constructed Tensor) ----------------------------------
      {"UndefinedInReduction",
       "tensor",
       "mean of an undefined tensor",
       [] { mean(Tensor()); },
       {"mean", "undefined"}},
      {"UndefinedInStack",
       "tensor",
       "stack of [2] and an undefined tensor",
       [=] {
         stack({f32({2}), Tensor()});
       },
       {"stack", "undefined"}},
      {"UndefinedInMaskedFill",
       "tensor",
       "masked_fill of an undefined tensor",
       [] { masked_fill(Tensor(), zeros({2}, kBool), 1.0); },
       {"masked_fill", "undefined"}},
      {"UndefinedInDropout",
       "tensor",
       "dropout of an undefined tensor",
       [] { dropout(Tensor(), 0.5); },
       {"dropout", "undefined"}},
      {"UndefinedItem",
       "tensor",
       "item() of an undefined tensor",
       [] { Tensor().item<float>(); },
       {"item", "undefined"}},
      {"OneHotNegativeClasses",
       "tensor",
       "one_hot with num_classes -5 (-1 alone means: infer)",
       [] {
         one_hot(from_vector<int64_t>({0, 1}), -5);
       },
       {"one_hot", "num_classes", "-5"}},
      {"OneHotHugeIndex",
       "tensor",
       "one_hot inferring num_classes from index 2^63 - 1",
       [] { one_hot(from_vector<int64_t>({std::numeric_limits<int64_t>::max()})); },
       {"one_hot", "9223372036854775807"}},
      // --- autograd ---------------------------------------------------------------------------
      {"BackwardNonScalar",
       "autograd",
       "backward() of a [2, 3] result without a gradient",
       [=] {
         Tensor w = f32({2, 3}).requires_grad_();
         mul(w, 2.0).backward();
       },
       {"backward", "[2, 3]"}},
      {"BackwardWithoutGrad",
       "autograd",
       "backward() of a tensor that does not require grad",
       [=] { sum(f32({2})).backward(); },
       {"backward", "does not require grad"}},
      {"BackwardTwice",
       "autograd",
       "a second backward() through a freed graph",
       [=] {
         Tensor w = f32({3}).requires_grad_();
         Tensor loss = sum(exp(w));
         loss.backward();
         loss.backward();
       },
       {"backward", "second time", "retain_graph"}},
      {"BackwardGradientShape",
       "autograd",
       "backward(gradient) of the wrong shape",
       [=] {
         Tensor w = f32({2, 3}).requires_grad_();
         mul(w, 2.0).backward(f32({3, 2}));
       },
       {"backward", "[3, 2]", "[2, 3]"}},
      {"RequiresGradOnIntegers",
       "autograd",
       "requires_grad_ on an int64 tensor",
       [] { zeros({2}, kInt64).requires_grad_(); },
       {"requires_grad_", "int64"}},
      {"InPlaceOnRequiresGrad",
       "autograd",
       "add_ on a tensor that requires grad (outside NoGradGuard)",
       [=] {
         Tensor w = f32({3}).requires_grad_();
         Tensor h = mul(w, 2.0);
         add_(h, 1.0);
       },
       {"add_", "[3] float32", "requires grad"}},
      {"RequiresGradUndefined",
       "autograd",
       "requires_grad_ on an undefined tensor",
       [] { Tensor().requires_grad_(); },
       {"requires_grad_", "undefined"}},
      {"ModifiedAfterSaved",
       "autograd",
       "backward after an in-place change (under NoGradGuard) of a tensor saved for backward",
       [=] {
         Tensor w = f32({3}).requires_grad_();
         Tensor e = exp(mul(w, 1.0));  // exp saves its output
         Tensor loss = sum(e);
         {
           NoGradGuard no_grad;
           add_(e, 1.0);
         }
         loss.backward();
       },
       {"backward", "modified"}},
  };
}

}  // namespace toadstool::testing
