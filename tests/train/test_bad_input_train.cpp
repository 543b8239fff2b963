// Bad-input rows of data loading, the trainer, files (safetensors, IDX,
// checkpoints, IMDB) and text (docs/bad_input.md). File rows write their
// bad file into a fresh TempDir.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <string>

#include "bad_input_rows.h"
#include "checkpoint_fixtures.h"
#include "temp_dir.h"
#include "toadstool/toadstool.h"
#include "trainer_fixtures.h"

namespace toadstool::testing {

namespace {

namespace fs = std::filesystem;

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

}  // namespace

std::vector<BadInputRow> training_bad_input_rows() {
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

}  // namespace toadstool::testing
