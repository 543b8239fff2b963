// Bad input across the public API and its files (issue 19): every row of
// docs/bad_input.md is one test here, by name. Each row runs one bad call
// and expects a toadstool::Error whose message holds the op's name and the
// shapes or values involved (the project's error contract,
// ARCHITECTURE.md, "Errors"). Anything else (a crash, another exception, no
// exception, a message without them) fails the row. One file, one
// table: each extra file would cost a compile in both CI builds.
//
// TOADSTOOL_BAD_INPUT_TABLE=<file> appends each row's markdown line, with
// the message the library gave, to <file>: how docs/bad_input.md's table is
// made.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "checkpoint_fixtures.h"
#include "temp_dir.h"
#include "test_util.h"
#include "trainer_fixtures.h"

namespace toadstool::testing {
namespace {

namespace fs = std::filesystem;

struct BadInputRow {
  std::string name;   // the test's name (BadInput.GivesAClearError/<name>)
  std::string area;   // the table's first column
  std::string input;  // the bad input, in words
  std::function<void()> run;
  std::vector<std::string> fragments;
};

// gtest prints a row by its name (not its bytes).
void PrintTo(const BadInputRow& row, std::ostream* out) { *out << row.name; }

// --- helpers of the rows ---------------------------------------------------------------------

std::vector<Tensor> one_param() { return {zeros({2, 2}).requires_grad_()}; }

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// A safetensors file: 8-byte little-endian header length, the header, the data.
std::string safetensors_bytes(const std::string& header, uint64_t header_length,
                              const std::string& data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header_length >> (8 * i)) & 0xff);
  return out + header + data;
}
std::string safetensors_bytes(const std::string& header, const std::string& data) {
  return safetensors_bytes(header, header.size(), data);
}

// An IDX file: magic 0 0 <type> <ndims>, big-endian uint32 sizes, data.
std::string idx_bytes(uint8_t type, const std::vector<uint32_t>& sizes, const std::string& data) {
  std::string out = {0, 0, static_cast<char>(type), static_cast<char>(sizes.size())};
  for (uint32_t s : sizes) {
    for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((s >> (8 * i)) & 0xff));
  }
  return out + data;
}

// A TinySetup trainer over `data` in batches of 4, fit for `epochs`.
void fit_tiny(std::shared_ptr<train::TensorDataset> data, int64_t epochs = 1,
              const train::TrainerOptions& options = {}) {
  TinySetup setup;
  auto trainer = setup.trainer({}, options);
  auto loader = loader_of(std::move(data), 4);
  trainer.fit(epochs, *loader);
}

// A checkpoint of a DropoutRun after one epoch, in dir/ckpt; returns its folder.
std::string saved_checkpoint(const TempDir& dir) {
  DropoutRun run;
  train::CheckpointOptions options;
  options.verbose = false;
  auto trainer =
      run.trainer({std::make_shared<train::CheckpointCallback>(dir.file("run"), options)});
  run.fit(trainer, 1);
  return train::latest_checkpoint(dir.file("run"));
}

// --- tensor ops and autograd -----------------------------------------------------------------

std::vector<BadInputRow> tensor_rows() {
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

// --- modules, losses, state dicts, optimizers, LR schedules ----------------------------------

std::vector<BadInputRow> nn_rows() {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  return {
      // --- modules ----------------------------------------------------------------------------
      {"LinearInFeatures",
       "nn",
       "Linear(4, 2) on input [3, 5]",
       [] {
         nn::Linear(4, 2).forward(zeros({3, 5}));
       },
       {"Linear", "[3, 5]", "4"}},
      {"LinearUndefinedInput",
       "nn",
       "Linear on an undefined tensor",
       [] { nn::Linear(4, 2).forward(Tensor()); },
       {"Linear", "undefined"}},
      {"LinearZeroFeatures", "nn", "Linear(0, 2)", [] { nn::Linear(0, 2); }, {"Linear", "0"}},
      {"LinearIntegerInput",
       "nn",
       "Linear on an int64 input",
       [] {
         nn::Linear(2, 2).forward(zeros({3, 2}, kInt64));
       },
       {"linear", "int64"}},
      {"EmbeddingIdOutOfRange",
       "nn",
       "Embedding(10, 4) on id 10",
       [] {
         nn::Embedding(10, 4).forward(from_vector<int64_t>({1, 10}));
       },
       {"embedding", "10"}},
      {"EmbeddingNegativeId",
       "nn",
       "Embedding(10, 4) on id -1",
       [] { nn::Embedding(10, 4).forward(from_vector<int64_t>({-1})); },
       {"embedding", "-1", "10"}},
      {"EmbeddingFloatIds",
       "nn",
       "Embedding on float32 ids",
       [] { nn::Embedding(10, 4).forward(zeros({3})); },
       {"embedding", "int64", "float32"}},
      {"EmbeddingPaddingIdx",
       "nn",
       "Embedding(10, 4, padding_idx 10)",
       [] { nn::Embedding(10, 4, 10); },
       {"Embedding", "padding_idx", "10"}},
      {"LayerNormShape",
       "nn",
       "LayerNorm([8]) on input [2, 6]",
       [] {
         nn::LayerNorm({8}).forward(zeros({2, 6}));
       },
       {"layer_norm", "[8]", "[2, 6]"}},
      {"LstmInputFeatures",
       "nn",
       "LSTM(4, 8) on input [5, 2, 3] (3 features)",
       [] {
         nn::LSTM(4, 8).forward(zeros({5, 2, 3}));
       },
       {"LSTM", "[5, 2, 3]", "4"}},
      {"RnnInputRank",
       "nn",
       "GRU(4, 8) on a 4-d input [2, 5, 2, 4]",
       [] {
         nn::GRU(4, 8).forward(zeros({2, 5, 2, 4}));
       },
       {"GRU", "[2, 5, 2, 4]"}},
      {"LstmStateShape",
       "nn",
       "LSTM(4, 8, 2 layers) with h0 [1, 2, 8] (needs [2, 2, 8])",
       [] {
         nn::LSTM(4, 8, {.num_layers = 2})
             .forward(zeros({5, 2, 4}), nn::LSTMState{zeros({1, 2, 8}), zeros({2, 2, 8})});
       },
       {"LSTM", "h0", "[2, 2, 8]", "[1, 2, 8]"}},
      {"LstmCellStateShape",
       "nn",
       "LSTM(4, 8) with c0 [1, 3, 8] for a batch of 2",
       [] {
         nn::LSTM(4, 8).forward(zeros({5, 2, 4}),
                                nn::LSTMState{zeros({1, 2, 8}), zeros({1, 3, 8})});
       },
       {"LSTM", "c0", "[1, 2, 8]", "[1, 3, 8]"}},
      {"RnnLengthsOutOfRange",
       "nn",
       "LSTM lengths {5, 6} for a sequence of 5 steps",
       [] {
         nn::LSTM(4, 8).forward(zeros({5, 2, 4}), std::nullopt, from_vector<int64_t>({5, 6}));
       },
       {"LSTM", "lengths", "[1, 5]", "6"}},
      {"RnnLengthsZero",
       "nn",
       "GRU lengths {0, 3}: an empty sequence",
       [] {
         nn::GRU(4, 8).forward(zeros({5, 2, 4}), {}, from_vector<int64_t>({0, 3}));
       },
       {"GRU", "lengths", "0"}},
      {"RnnLengthsShape",
       "nn",
       "LSTM lengths [3] for a batch of 2",
       [] {
         nn::LSTM(4, 8).forward(zeros({5, 2, 4}), std::nullopt, from_vector<int64_t>({5, 4, 3}));
       },
       {"LSTM", "lengths", "[2]", "[3]"}},
      {"RnnHiddenSize",
       "nn",
       "LSTM(4, 0): hidden_size 0",
       [] { nn::LSTM(4, 0); },
       {"LSTM", "hidden_size", "0"}},
      {"RnnDropout",
       "nn",
       "GRU dropout 1.0 (outside [0, 1))",
       [] { nn::GRU(4, 8, {.num_layers = 2, .dropout = 1.0}); },
       {"GRU", "dropout", "[0, 1)", "1"}},
      {"AttentionHeadsDivide",
       "nn",
       "MultiheadAttention(10, 3): 10 not a multiple of 3",
       [] { nn::MultiheadAttention(10, 3); },
       {"MultiheadAttention", "10", "3"}},
      {"AttentionEmbedDim",
       "nn",
       "MultiheadAttention(8, 2) on input [2, 5, 6]",
       [] {
         nn::MultiheadAttention(8, 2).forward(zeros({2, 5, 6}));
       },
       {"MultiheadAttention", "[2, 5, 6]", "8"}},
      {"AttentionPaddingMaskShape",
       "nn",
       "key_padding_mask [2, 4] for keys [2, 5]",
       [] {
         nn::MultiheadAttentionMasks masks;
         masks.key_padding_mask = zeros({2, 4}, kBool);
         nn::MultiheadAttention(8, 2).forward(zeros({2, 5, 8}), masks);
       },
       {"MultiheadAttention", "key_padding_mask", "[2, 5]", "[2, 4]"}},
      {"AttentionMaskShape",
       "nn",
       "attn_mask [3, 3] for 5 queries and keys",
       [] {
         nn::MultiheadAttentionMasks masks;
         masks.attn_mask = zeros({3, 3}, kBool);
         nn::MultiheadAttention(8, 2).forward(zeros({2, 5, 8}), masks);
       },
       {"MultiheadAttention", "attn_mask", "[5, 5]", "[3, 3]"}},
      {"AttentionCausalAndMask",
       "nn",
       "is_causal together with an attn_mask",
       [] {
         nn::MultiheadAttentionMasks masks;
         masks.attn_mask = zeros({5, 5}, kBool);
         masks.is_causal = true;
         nn::MultiheadAttention(8, 2).forward(zeros({2, 5, 8}), masks);
       },
       {"is_causal", "attn_mask"}},
      {"DecoderMemoryBatch",
       "nn",
       "TransformerDecoderLayer with tgt [2, 3, 8] and memory [3, 4, 8]",
       [] {
         nn::TransformerDecoderLayer layer({.d_model = 8, .nhead = 2, .dim_feedforward = 8});
         layer.forward(zeros({2, 3, 8}), zeros({3, 4, 8}));
       },
       {"TransformerDecoderLayer", "[2, 3, 8]", "[3, 4, 8]"}},
      {"TransformerDModel",
       "nn",
       "Transformer(d_model 8) on src [2, 3, 8] and tgt [2, 3, 4]",
       [] {
         nn::Transformer model({.d_model = 8,
                                .nhead = 2,
                                .num_encoder_layers = 1,
                                .num_decoder_layers = 1,
                                .dim_feedforward = 8});
         model.forward(zeros({2, 3, 8}), zeros({2, 3, 4}));
       },
       {"Transformer", "d_model=8", "[2, 3, 8]", "[2, 3, 4]"}},
      {"MlpTooFewSizes",
       "nn",
       "MLP with one size",
       [] { nn::MLP(std::vector<int64_t>{4}); },
       {"MLP", "sizes"}},
      {"GluOddSize",
       "nn",
       "glu of [2, 5] along dim -1 (an odd size: no halves)",
       [] {
         glu(zeros({2, 5}));
       },
       {"glu", "dim -1", "even", "[2, 5] float32"}},
      {"GluModuleOddDim",
       "nn",
       "GLU(1) on input [2, 3, 4]",
       [] {
         nn::GLU(1).forward(zeros({2, 3, 4}));
       },
       {"glu", "dim 1", "got 3", "[2, 3, 4] float32"}},
      {"MlpMixerPatchSize",
       "nn",
       "MlpMixer with image_size 30, patch_size 4",
       [] { nn::MlpMixer({.image_size = 30, .patch_size = 4}); },
       {"MlpMixer", "image_size 30", "patch_size 4"}},
      {"MlpMixerImageShape",
       "nn",
       "MlpMixer (3 x 32 x 32) on images [2, 3, 28, 28]",
       [] {
         nn::MlpMixer({.dim = 8, .depth = 1}).forward(zeros({2, 3, 28, 28}));
       },
       {"MlpMixer", "[batch, 3, 32, 32]", "[2, 3, 28, 28]"}},
      {"GatedConvKernelSize",
       "nn",
       "GatedConvSequenceModel with kernel_size 0",
       [] { nn::GatedConvSequenceModel({.kernel_size = 0}); },
       {"GatedConvSequenceModel", "kernel_size", "0"}},
      {"GatedConvPaddingIdx",
       "nn",
       "GatedConvSequenceModel with padding_idx 100 of 100 ids",
       [] { nn::GatedConvSequenceModel({.vocab_size = 100, .padding_idx = 100}); },
       {"GatedConvSequenceModel", "padding_idx", "[0, 100)", "100"}},
      {"GatedConvFloatIds",
       "nn",
       "GatedConvSequenceModel on float32 ids [2, 5]",
       [] {
         nn::GatedConvSequenceModel({.vocab_size = 10, .dim = 4, .num_layers = 1})
             .forward(zeros({2, 5}));
       },
       {"GatedConvSequenceModel", "int64", "[2, 5] float32"}},
      // --- losses -----------------------------------------------------------------------------
      {"CrossEntropyTargetOutOfRange",
       "nn",
       "cross_entropy with class 3 of 3 classes",
       [] {
         cross_entropy(zeros({2, 3}), from_vector<int64_t>({0, 3}));
       },
       {"cross_entropy", "target 3", "3"}},
      {"CrossEntropyNegativeTarget",
       "nn",
       "cross_entropy with class -2 (not ignore_index)",
       [] {
         cross_entropy(zeros({2, 3}), from_vector<int64_t>({-2, 0}));
       },
       {"cross_entropy", "-2"}},
      {"CrossEntropyTargetShape",
       "nn",
       "cross_entropy logits [4, 3], targets [5]",
       [] {
         cross_entropy(zeros({4, 3}), zeros({5}, kInt64));
       },
       {"cross_entropy", "[5]", "[4]"}},
      {"CrossEntropyFloatTargets",
       "nn",
       "cross_entropy with float32 targets",
       [] {
         cross_entropy(zeros({4, 3}), zeros({4}));
       },
       {"cross_entropy", "int64", "float32"}},
      {"CrossEntropyLabelSmoothing",
       "nn",
       "cross_entropy label_smoothing 1.5",
       [] {
         cross_entropy(zeros({4, 3}), zeros({4}, kInt64), {.label_smoothing = 1.5});
       },
       {"cross_entropy", "label_smoothing", "1.5"}},
      {"CrossEntropyClassWeights",
       "nn",
       "cross_entropy class weights [2] for 3 classes",
       [] {
         cross_entropy(zeros({4, 3}), zeros({4}, kInt64), {.weight = ones({2})});
       },
       {"cross_entropy", "weight", "[2]"}},
      {"MseShapes",
       "nn",
       "mse_loss of [4, 1] and [3, 1]",
       [] {
         mse_loss(zeros({4, 1}), zeros({3, 1}));
       },
       {"mse_loss", "[4, 1]", "[3, 1]"}},
      {"BceShapes",
       "nn",
       "binary_cross_entropy_with_logits of [4] and [4, 1]",
       [] {
         binary_cross_entropy_with_logits(zeros({4}), zeros({4, 1}));
       },
       {"binary_cross_entropy_with_logits", "[4]", "[4, 1]"}},
      // --- state dicts ------------------------------------------------------------------------
      {"StateDictMissingKey",
       "state dict",
       "strict load without 'bias'",
       [] {
         nn::Linear model(3, 2);
         TensorDict d = model.state_dict();
         TensorDict partial;
         partial.insert("weight", d.at("weight"));
         model.load_state_dict(partial);
       },
       {"load_state_dict", "Missing", "'bias'"}},
      {"StateDictExtraKey",
       "state dict",
       "strict load with an extra 'scale'",
       [] {
         nn::Linear model(3, 2);
         TensorDict d = model.state_dict();
         d.insert("scale", ones({1}));
         model.load_state_dict(d);
       },
       {"load_state_dict", "Unexpected", "'scale'"}},
      {"StateDictWrongShape",
       "state dict",
       "'weight' [2, 4] into Linear(3, 2), strict",
       [] {
         nn::Linear model(3, 2);
         TensorDict d = model.state_dict();
         d.set("weight", zeros({2, 4}));
         model.load_state_dict(d);
       },
       {"load_state_dict", "'weight'", "[2, 4]", "[2, 3]"}},
      {"StateDictWrongShapeNotStrict",
       "state dict",
       "the same with strict = false (as PyTorch: still an Error)",
       [] {
         nn::Linear model(3, 2);
         TensorDict d = model.state_dict();
         d.set("weight", zeros({2, 4}));
         model.load_state_dict(d, /*strict=*/false);
       },
       {"load_state_dict", "'weight'", "[2, 4]", "[2, 3]"}},
      {"StateDictUndefinedEntry",
       "state dict",
       "'weight' an undefined tensor",
       [] {
         nn::Linear model(3, 2);
         TensorDict d = model.state_dict();
         d.set("weight", Tensor());
         model.load_state_dict(d);
       },
       {"load_state_dict", "'weight'", "undefined"}},
      {"OptimizerStateDictOtherModel",
       "state dict",
       "an SGD state dict into an optimizer with 2 params",
       [] {
         optim::SGD a(one_param(), {.lr = 0.1, .momentum = 0.9});
         optim::SGD b({zeros({2}).requires_grad_(), zeros({2}).requires_grad_()},
                      {.lr = 0.1, .momentum = 0.9});
         b.load_state_dict(a.state_dict());
       },
       {"SGD", "load_state_dict", "1", "2"}},
      // --- optimizers -------------------------------------------------------------------------
      {"SgdNegativeLr",
       "optim",
       "SGD lr -0.1",
       [] { optim::SGD(one_param(), {.lr = -0.1}); },
       {"SGD", "learning rate", "-0.1"}},
      {"SgdNanLr",
       "optim",
       "SGD lr NaN",
       [=] { optim::SGD(one_param(), {.lr = nan}); },
       {"SGD", "learning rate", "nan"}},
      {"SgdNegativeMomentum",
       "optim",
       "SGD momentum -0.5",
       [] { optim::SGD(one_param(), {.lr = 0.1, .momentum = -0.5}); },
       {"SGD", "momentum", "-0.5"}},
      {"AdamBeta1",
       "optim",
       "Adam betas (1.0, 0.999)",
       [] {
         optim::Adam(one_param(), {.betas = {1.0, 0.999}});
       },
       {"Adam", "beta", "index 0", "1"}},
      {"AdamBeta2",
       "optim",
       "Adam betas (0.9, -0.1)",
       [] {
         optim::Adam(one_param(), {.betas = {0.9, -0.1}});
       },
       {"Adam", "beta", "index 1", "-0.1"}},
      {"AdamWeightDecay",
       "optim",
       "AdamW weight_decay -0.01",
       [] {
         optim::AdamWOptions o;
         o.weight_decay = -0.01;
         optim::AdamW(one_param(), o);
       },
       {"AdamW", "weight_decay", "-0.01"}},
      {"AdamNegativeEps",
       "optim",
       "Adam eps -1e-8",
       [] { optim::Adam(one_param(), {.eps = -1e-8}); },
       {"Adam", "epsilon", "-1e-08"}},
      {"OptimizerNoParams",
       "optim",
       "Adam over an empty parameter list",
       [] { optim::Adam(std::vector<Tensor>{}); },
       {"Adam", "at least one parameter"}},
      {"OptimizerIntegerParam",
       "optim",
       "SGD over an int64 tensor",
       [] { optim::SGD({zeros({2}, kInt64)}, {.lr = 0.1}); },
       {"SGD", "parameter 0", "int64"}},
      {"OptimizerDuplicateParam",
       "optim",
       "the same parameter twice",
       [] {
         Tensor p = zeros({2}).requires_grad_();
         optim::SGD({p, p}, {.lr = 0.1});
       },
       {"SGD", "parameter 1", "[2]"}},
      {"ClipGradNegativeNorm",
       "optim",
       "clip_grad_norm_ with max_norm -1",
       [] { nn::clip_grad_norm_(one_param(), -1.0); },
       {"clip_grad_norm_", "-1"}},
      {"ClipGradNonFinite",
       "optim",
       "clip_grad_norm_ of a NaN gradient with error_if_nonfinite",
       [=] {
         Tensor p = zeros({2}).requires_grad_();
         p.set_grad(full({2}, nan));
         nn::clip_grad_norm_({p}, 1.0, 2.0, /*error_if_nonfinite=*/true);
       },
       {"clip_grad_norm_", "nan", "error_if_nonfinite"}},
      // --- LR schedules -----------------------------------------------------------------------
      {"StepLrZeroStep",
       "lr schedule",
       "StepLR step_size 0",
       [] {
         optim::SGD sgd(one_param(), {.lr = 0.1});
         optim::StepLR(sgd, 0);
       },
       {"StepLR", "step_size", "0"}},
      {"CosineZeroTmax",
       "lr schedule",
       "CosineAnnealingLR T_max 0",
       [] {
         optim::SGD sgd(one_param(), {.lr = 0.1});
         optim::CosineAnnealingLR(sgd, 0);
       },
       {"CosineAnnealingLR", "T_max", "0"}},
      {"LinearLrFactor",
       "lr schedule",
       "LinearLR start_factor 0",
       [] {
         optim::SGD sgd(one_param(), {.lr = 0.1});
         optim::LinearLR(sgd, 0.0);
       },
       {"LinearLR", "start_factor", "0"}},
      {"OneCycleNoSteps",
       "lr schedule",
       "OneCycleLR without total_steps or epochs",
       [] {
         optim::SGD sgd(one_param(), {.lr = 0.1, .momentum = 0.9});
         optim::OneCycleLR(sgd, {.max_lr = {0.1}});
       },
       {"OneCycleLR", "epochs", "steps_per_epoch"}},
      {"OneCyclePastTheEnd",
       "lr schedule",
       "OneCycleLR stepped past total_steps",
       [] {
         optim::SGD sgd(one_param(), {.lr = 0.1, .momentum = 0.9});
         optim::OneCycleLR schedule(sgd, {.max_lr = {0.1}, .total_steps = 2});
         for (int i = 0; i < 3; ++i) schedule.step();
       },
       {"OneCycleLR", "step", "2"}},
      {"PlateauFactor",
       "lr schedule",
       "ReduceLROnPlateau factor 1.5",
       [] {
         optim::SGD sgd(one_param(), {.lr = 0.1});
         optim::ReduceLROnPlateau(sgd, {.factor = 1.5});
       },
       {"ReduceLROnPlateau", "factor", "1.5"}},
      {"PlateauMode",
       "lr schedule",
       "ReduceLROnPlateau mode \"up\"",
       [] {
         optim::SGD sgd(one_param(), {.lr = 0.1});
         optim::ReduceLROnPlateau(sgd, {.mode = "up"});
       },
       {"ReduceLROnPlateau", "mode", "up"}},
  };
}

// --- data, the trainer, files, text (file rows write into a fresh TempDir) -------------------

std::vector<BadInputRow> training_rows() {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  return {
      // --- data -------------------------------------------------------------------------------
      {"LoaderBatchSizeZero",
       "data",
       "DataLoader batch_size 0",
       [] { loader_of(regression_data(8), 0); },
       {"DataLoader", "batch_size", "0"}},
      {"LoaderNegativeWorkers",
       "data",
       "DataLoader num_workers -1",
       [] {
         train::DataLoaderOptions o;
         o.num_workers = -1;
         train::DataLoader(regression_data(8), o);
       },
       {"DataLoader", "num_workers", "-1"}},
      {"DatasetSizeMismatch",
       "data",
       "TensorDataset x [8, 3], y [6, 1]",
       [] {
         train::TensorDataset(zeros({8, 3}), zeros({6, 1}));
       },
       {"TensorDataset", "8", "6"}},
      {"DatasetScalarX",
       "data",
       "TensorDataset of a 0-d x",
       [] { train::TensorDataset(zeros({})); },
       {"TensorDataset", "first (example) dimension"}},
      {"DatasetIndexOutOfRange",
       "data",
       "TensorDataset.get(8) of 8 examples",
       [] {
         train::TensorDataset(zeros({8, 3})).get(8);
       },
       {"TensorDataset", "8"}},
      {"FitEmptyLoader",
       "trainer",
       "fit on a loader of 0 examples",
       [] {
         fit_tiny(std::make_shared<train::TensorDataset>(zeros({0, 3}), zeros({0, 1})));
       },
       {"Trainer::fit", "no batches", "0 examples", "batch_size 4"}},
      // --- trainer ----------------------------------------------------------------------------
      {"FitZeroEpochs",
       "trainer",
       "fit(0, ...)",
       [] { fit_tiny(regression_data(8), 0); },
       {"Trainer::fit", "epochs", "0"}},
      {"AccumulateZero",
       "trainer",
       "TrainerOptions accumulate 0",
       [] { fit_tiny(regression_data(8), 1, {.accumulate = 0}); },
       {"Trainer", "accumulate", "0"}},
      {"UnknownPrecision",
       "trainer",
       "TrainerOptions precision \"fp8\"",
       [] {
         train::TrainerOptions o;
         o.precision = "fp8";
         fit_tiny(regression_data(8), 1, o);
       },
       {"Trainer", "precision", "fp8"}},
      {"NoOptimizer",
       "trainer",
       "a trainer made with a null optimizer",
       [] {
         TinySetup setup;
         train::Trainer trainer(setup.model, nullptr, setup.loss);
         auto loader = loader_of(regression_data(8), 4);
         trainer.fit(1, *loader);
       },
       {"Trainer", "optimizer"}},
      {"NanLoss",
       "trainer",
       "a NaN in the training data (loss NaN)",
       [=] {
         Tensor x = zeros({8, 3});
         x.fill_(nan);
         fit_tiny(std::make_shared<train::TensorDataset>(x, zeros({8, 1})));
       },
       {"Trainer", "loss", "nan", "epoch 0", "batch 0"}},
      {"InfLoss",
       "trainer",
       "an infinite target (loss inf)",
       [=] {
         Tensor y = zeros({8, 1});
         y.fill_(inf);
         fit_tiny(std::make_shared<train::TensorDataset>(zeros({8, 3}), y));
       },
       {"Trainer", "loss", "inf"}},
      {"ModelOutputVsTarget",
       "trainer",
       "targets [8, 2] for a model giving [4, 1] per batch",
       [] {
         fit_tiny(std::make_shared<train::TensorDataset>(zeros({8, 3}), zeros({8, 2})));
       },
       {"mse_loss", "[4, 1]", "[4, 2]"}},
      {"BatchFeatures",
       "trainer",
       "x with 5 features for a Linear(3, 1)",
       [] {
         fit_tiny(std::make_shared<train::TensorDataset>(zeros({8, 5}), zeros({8, 1})));
       },
       {"Linear", "[4, 5]", "3"}},
      {"CsvLoggerNoFolder",
       "trainer",
       "CSVLogger writing into a missing folder",
       [] {
         TinySetup setup;
         auto trainer =
             setup.trainer({std::make_shared<train::CSVLogger>("/nonexistent/dir/log.csv")});
         auto loader = loader_of(regression_data(8), 4);
         trainer.fit(1, *loader);
       },
       {"CSVLogger", "/nonexistent/dir/log.csv"}},
      // --- files: safetensors -----------------------------------------------------------------
      {"SafetensorsMissing",
       "files",
       "load_safetensors of a missing file",
       [] { load_safetensors("/nonexistent/model.safetensors"); },
       {"load_safetensors", "/nonexistent/model.safetensors"}},
      {"SafetensorsTruncated",
       "files",
       "a safetensors file cut in its data",
       [] {
         TempDir dir;
         TensorDict tensors;
         tensors.insert("w", ones({4, 4}));
         save_safetensors(dir.file("w.safetensors"), tensors);
         fs::resize_file(dir.file("w.safetensors"), fs::file_size(dir.file("w.safetensors")) - 10);
         load_safetensors(dir.file("w.safetensors"));
       },
       {"load_safetensors", "w.safetensors"}},
      {"SafetensorsHugeHeaderClaim",
       "files",
       "a header length of 2^62 in a 20-byte file",
       [] {
         TempDir dir;
         write_bytes(dir.file("h.safetensors"),
                     safetensors_bytes("{}", uint64_t{1} << 62, "abcdefghij"));
         load_safetensors(dir.file("h.safetensors"));
       },
       {"load_safetensors", "header length", "4611686018427387904"}},
      {"SafetensorsHugeShape",
       "files",
       "an entry claiming shape [2^62] over 16 bytes",
       [] {
         TempDir dir;
         write_bytes(dir.file("s.safetensors"),
                     safetensors_bytes(R"({"w":{"dtype":"F32","shape":[4611686018427387904],)"
                                       R"("data_offsets":[0,16]}})",
                                       std::string(16, '\0')));
         load_safetensors(dir.file("s.safetensors"));
       },
       {"load_safetensors", "'w'", "4611686018427387904"}},
      {"SafetensorsOffsetsPastEnd",
       "files",
       "data_offsets past the end of the file",
       [] {
         TempDir dir;
         write_bytes(
             dir.file("o.safetensors"),
             safetensors_bytes(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,1600]}})",
                               std::string(16, '\0')));
         load_safetensors(dir.file("o.safetensors"));
       },
       {"load_safetensors", "'w'"}},
      {"SafetensorsUnknownDtype",
       "files",
       "an entry of dtype \"F8\"",
       [] {
         TempDir dir;
         write_bytes(dir.file("d.safetensors"),
                     safetensors_bytes(R"({"w":{"dtype":"F8","shape":[4],"data_offsets":[0,4]}})",
                                       std::string(4, '\0')));
         load_safetensors(dir.file("d.safetensors"));
       },
       {"load_safetensors", "'w'", "F8"}},
      {"SafetensorsNotJson",
       "files",
       "a header that is not JSON",
       [] {
         TempDir dir;
         write_bytes(dir.file("j.safetensors"), safetensors_bytes("{nope", ""));
         load_safetensors(dir.file("j.safetensors"));
       },
       {"load_safetensors", "JSON"}},
      {"SafetensorsSaveNoFolder",
       "files",
       "save_safetensors into a missing folder",
       [] {
         TensorDict tensors;
         tensors.insert("w", ones({2}));
         save_safetensors("/nonexistent/dir/w.safetensors", tensors);
       },
       {"save_safetensors", "/nonexistent/dir/w.safetensors"}},
      // --- files: IDX -------------------------------------------------------------------------
      {"IdxMissing",
       "files",
       "read_idx of a missing file",
       [] { train::read_idx("/nonexistent/train-images-idx3-ubyte"); },
       {"read_idx", "/nonexistent/train-images-idx3-ubyte"}},
      {"IdxBadMagic",
       "files",
       "an IDX file with type byte 0x42",
       [] {
         TempDir dir;
         write_bytes(dir.file("m.idx"), idx_bytes(0x42, {2}, "ab"));
         train::read_idx(dir.file("m.idx"));
       },
       {"read_idx", "m.idx", "magic"}},
      {"IdxTruncated",
       "files",
       "an IDX file with 3 of 2x2 bytes",
       [] {
         TempDir dir;
         write_bytes(dir.file("t.idx"), idx_bytes(0x08, {2, 2}, "abc"));
         train::read_idx(dir.file("t.idx"));
       },
       {"read_idx", "t.idx", "truncated", "[2, 2]"}},
      {"IdxHugeClaim",
       "files",
       "an IDX header claiming 2^32 x 2^32 x 2^32 bytes",
       [] {
         TempDir dir;
         write_bytes(dir.file("h.idx"),
                     idx_bytes(0x08, {0xffffffffU, 0xffffffffU, 0xffffffffU}, "a"));
         train::read_idx(dir.file("h.idx"));
       },
       {"read_idx", "h.idx", "4294967295"}},
      // --- files: checkpoints -----------------------------------------------------------------
      {"CheckpointMissingFolder",
       "files",
       "load_checkpoint of a missing folder",
       [] {
         DropoutRun run;
         auto trainer = run.trainer({});
         train::load_checkpoint("/nonexistent/ckpt-e0001-s00000005", trainer);
       },
       {"load_checkpoint", "/nonexistent/ckpt-e0001-s00000005"}},
      {"CheckpointMissingWeights",
       "files",
       "a checkpoint folder without model.safetensors",
       [] {
         TempDir dir;
         const std::string folder = saved_checkpoint(dir);
         fs::remove(folder + "/model.safetensors");
         DropoutRun run;
         auto trainer =
             run.trainer({std::make_shared<train::CheckpointCallback>(dir.file("other"))});
         train::load_checkpoint(folder, trainer);
       },
       {"load_checkpoint", "model.safetensors"}},
      {"CheckpointOtherModel",
       "files",
       "weights of MLP 3-16-1 into an MLP 3-8-1",
       [] {
         TempDir dir;
         const std::string folder = saved_checkpoint(dir);
         nn::MLP other(std::vector<int64_t>{3, 8, 1});
         train::load_checkpoint_weights(folder, other);
       },
       {"model.safetensors", "[16, 3]", "[8, 3]"}},
      {"CheckpointPointerOutside",
       "files",
       "latest.json naming \"../elsewhere\"",
       [] {
         TempDir dir;
         write_bytes(dir.file("latest.json"),
                     R"({"format": "toadstool-checkpoint-pointer", "format_version": 1, )"
                     R"("checkpoint": "../elsewhere"})");
         train::latest_checkpoint(dir.path());
       },
       {"CheckpointCallback", "latest.json", "../elsewhere"}},
      // --- files: datasets --------------------------------------------------------------------
      {"ImdbPathMissing",
       "files",
       "read_imdb of a missing path",
       [] { train::read_imdb("/nonexistent/aclImdb", "train"); },
       {"read_imdb", "/nonexistent/aclImdb"}},
      {"ImdbExplicitPathMissing",
       "files",
       "find_imdb(\"/nonexistent/aclImdb\")",
       [] { train::find_imdb("/nonexistent/aclImdb"); },
       {"/nonexistent/aclImdb"}},
      {"ImdbUnknownSplit",
       "files",
       "read_imdb split \"dev\"",
       [] {
         TempDir dir;
         fs::create_directories(dir.file("aclImdb/train/pos"));
         train::read_imdb(dir.file("aclImdb"), "dev");
       },
       {"read_imdb", "dev"}},
      {"FashionMnistMissing",
       "files",
       "load_fashion_mnist of a missing folder",
       [] { train::load_fashion_mnist("/nonexistent/fashion", true); },
       {"/nonexistent/fashion"}},
      // --- text -------------------------------------------------------------------------------
      {"VocabularyMissingFile",
       "text",
       "Vocabulary::load of a missing file",
       [] { train::Vocabulary::load("/nonexistent/vocab.json"); },
       {"Vocabulary::load", "/nonexistent/vocab.json"}},
      {"VocabularyWrongFormat",
       "text",
       "Vocabulary::load of another JSON file",
       [] {
         TempDir dir;
         write_bytes(dir.file("v.json"), R"({"format": "something-else"})");
         train::Vocabulary::load(dir.file("v.json"));
       },
       {"Vocabulary::load", "v.json", "format"}},
      {"VocabularyNotJson",
       "text",
       "Vocabulary::load of a file that is not JSON",
       [] {
         TempDir dir;
         write_bytes(dir.file("v.json"), "tokens: the, a");
         train::Vocabulary::load(dir.file("v.json"));
       },
       {"v.json", "JSON"}},
      {"VocabularySaveNoFolder",
       "text",
       "Vocabulary::save into a missing folder",
       [] { train::Vocabulary::build({"a b"}).save("/nonexistent/dir/vocab.json"); },
       {"Vocabulary::save", "/nonexistent/dir/vocab.json"}},
      {"VocabularyIdOutOfRange",
       "text",
       "token(id 99) of a 4-token vocabulary",
       [] { train::Vocabulary::build({"a b"}).token(99); },
       {"Vocabulary::token", "99", "4"}},
      {"VocabularyMaxSize",
       "text",
       "Vocabulary::build with max_size 1",
       [] { train::Vocabulary::build({"a b"}, {.max_size = 1}); },
       {"Vocabulary::build", "max_size", "1"}},
      {"VocabularyInvalidUtf8",
       "text",
       "Vocabulary::build of text with byte 0xff",
       [] { train::Vocabulary::build({std::string("ok \xff bad")}); },
       {"Vocabulary::build", "UTF-8"}},
  };
}

std::vector<BadInputRow> all_rows() {
  std::vector<BadInputRow> rows;
  for (auto part : {tensor_rows, nn_rows, training_rows}) {
    for (BadInputRow& row : part()) rows.push_back(std::move(row));
  }
  return rows;
}

// --- the test of each row --------------------------------------------------------------------

class BadInput : public ::testing::TestWithParam<BadInputRow> {};

// The message, on one line, without '|' (a markdown table cell), cut to
// `limit` characters with "...".
std::string table_cell(std::string message, size_t limit = 200) {
  for (char& c : message) {
    if (c == '\n') c = ' ';
    if (c == '|') c = '/';
  }
  if (message.size() > limit) message = message.substr(0, limit - 3) + "...";
  return message;
}

TEST_P(BadInput, GivesAClearError) {
  const BadInputRow& row = GetParam();
  std::string message;
  try {
    row.run();
    FAIL() << row.name << ": no Error";
  } catch (const Error& e) {
    message = e.what();
  }
  for (const std::string& fragment : row.fragments) {
    EXPECT_NE(message.find(fragment), std::string::npos)
        << "'" << fragment << "' not in: " << message;
  }
  if (const char* table = std::getenv("TOADSTOOL_BAD_INPUT_TABLE")) {
    std::ofstream(table, std::ios::app) << "| " << row.area << " | " << row.input << " | `"
                                        << table_cell(message) << "` | `" << row.name << "` |\n";
  }
}

std::string row_name(const ::testing::TestParamInfo<BadInputRow>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Rows, BadInput, ::testing::ValuesIn(all_rows()), row_name);

// The table in docs/ lists every row, and nothing else.
TEST(BadInputTable, DocsListEveryRowByName) {
  const std::string doc = std::string(TOADSTOOL_GOLDEN_DIR) + "/../../../docs/bad_input.md";
  std::ifstream in(doc);
  ASSERT_TRUE(in.good()) << doc;
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  size_t rows = 0;
  for (const BadInputRow& row : all_rows()) {
    EXPECT_NE(text.find("`" + row.name + "`"), std::string::npos) << row.name << " not in " << doc;
    ++rows;
  }
  EXPECT_GE(rows, 60U);
}

}  // namespace
}  // namespace toadstool::testing
