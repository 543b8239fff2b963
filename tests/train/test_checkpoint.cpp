// Checkpoints: save / load round trip, bad files, retention, atomicity, and
// exact resume (bitwise-equal weights) after an epoch, inside an epoch, on a
// cancel and on Ctrl-C in a child process.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <thread>
#include <utility>

#include "checkpoint_fixtures.h"
#include "temp_dir.h"
#include "test_util.h"

extern char** environ;

namespace toadstool::testing {
namespace {

namespace fs = std::filesystem;
using train::CheckpointCallback;
using train::CheckpointOptions;
using train::Trainer;
using Callbacks = std::vector<std::shared_ptr<train::Callback>>;

std::vector<std::string> folders_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_directory()) names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

CheckpointOptions quiet_checkpoints(CheckpointOptions options = {}) {
  options.verbose = false;
  return options;
}

// The weights after `epochs` epochs straight, with the same callbacks as the
// resumed runs (a checkpoint folder of its own, a CancelAt that never fires).
std::vector<float> straight_run(int64_t epochs, CheckpointOptions options = {}) {
  TempDir dir;
  DropoutRun run;
  auto trainer = run.trainer(
      {std::make_shared<ActAtBatch>(-1, -1, [](Trainer&) {}),
       std::make_shared<CheckpointCallback>(dir.path(), quiet_checkpoints(std::move(options)))});
  run.fit(trainer, epochs);
  return flat_weights(*run.model);
}

// A fresh run (new objects, as a new process) resuming from `dir` to `epochs`.
std::vector<float> resumed_run(const std::string& dir, int64_t epochs,
                               CheckpointOptions options = {}) {
  DropoutRun run;
  options.resume = true;
  auto checkpoints = std::make_shared<CheckpointCallback>(dir, quiet_checkpoints(options));
  auto trainer = run.trainer({std::make_shared<ActAtBatch>(-1, -1, [](Trainer&) {}), checkpoints});
  run.fit(trainer, epochs);
  EXPECT_FALSE(checkpoints->resumed_from().empty());
  return flat_weights(*run.model);
}

// Saves a checkpoint to `folder` at after_epoch of `epoch`.
class SaveAfterEpoch : public train::CallbackBase<SaveAfterEpoch> {
 public:
  SaveAfterEpoch(std::string folder, int64_t epoch) : folder_(std::move(folder)), epoch_(epoch) {}
  void after_epoch(Trainer& t) override {
    if (t.epoch == epoch_) train::save_checkpoint(folder_, t, train::resume_point_after_epoch(t));
  }

 private:
  std::string folder_;
  int64_t epoch_;
};

TEST(Checkpoint, SaveLoadRoundTripRestoresEverything) {
  TempDir dir;
  DropoutRun run;
  const std::string folder = dir.file("one");
  auto trainer = run.trainer({std::make_shared<SaveAfterEpoch>(folder, 1)});
  run.fit(trainer, 2);
  for (const char* f : {"model.safetensors", "state.safetensors", "trainer.json"}) {
    EXPECT_TRUE(fs::exists(folder + "/" + f)) << f;
  }
  const auto saved = flat_weights(*run.model);
  const auto generator = default_generator().state();

  DropoutRun fresh;  // different weights, no optimizer state, generator reseeded
  auto other = fresh.trainer({std::make_shared<SaveAfterEpoch>("", -1)});
  other.train_loader = fresh.train_loader.get();
  ASSERT_NE(flat_weights(*fresh.model), saved);
  const train::CheckpointInfo info = train::load_checkpoint(folder, other);
  EXPECT_EQ(flat_weights(*fresh.model), saved);
  EXPECT_EQ(info.epoch, 2);
  EXPECT_EQ(info.step, 10);
  EXPECT_EQ(info.skip_batches, 0);
  EXPECT_EQ(other.epoch, 2);
  EXPECT_EQ(other.step, 10);
  EXPECT_EQ(default_generator().state().offset, generator.offset);
  EXPECT_EQ(default_generator().state().seed, generator.seed);
  // The optimizer state is Adam's, entry for entry.
  const TensorDict a = run.optimizer->state_dict(), b = fresh.optimizer->state_dict();
  ASSERT_EQ(a.keys(), b.keys());
  for (const auto& [name, t] : a) expect_close(b.at(name), t, 0, 0);
  EXPECT_EQ(fresh.train_loader->state_dict().keys(), run.train_loader->state_dict().keys());

  // The weights alone, for inference.
  DropoutRun inference;
  train::load_checkpoint_weights(folder, *inference.model);
  EXPECT_EQ(flat_weights(*inference.model), saved);
}

TEST(Checkpoint, ModelFileIsPlainSafetensorsWithTheStateDictNames) {
  TempDir dir;
  DropoutRun run;
  auto trainer = run.trainer({});
  train::save_checkpoint(dir.file("c"), trainer, train::resume_point_after_epoch(trainer));
  const TensorDict weights = load_safetensors(dir.file("c") + "/model.safetensors");
  EXPECT_EQ(weights.keys(), run.model->state_dict().keys());
  const TensorDict state = load_safetensors(dir.file("c") + "/state.safetensors");
  for (const auto& name : state.keys()) {
    EXPECT_TRUE(name.rfind("optimizer.", 0) == 0 || name.rfind("loader.", 0) == 0) << name;
  }
}

TEST(Checkpoint, SavingOverAnExistingFolderIsAnError) {
  TempDir dir;
  DropoutRun run;
  auto trainer = run.trainer({});
  train::save_checkpoint(dir.file("c"), trainer, {});
  EXPECT_ERROR(train::save_checkpoint(dir.file("c"), trainer, {}), "already exists");
}

// Every bad checkpoint is an Error naming the file, and leaves the trainer
// exactly as it was.
class BadCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    DropoutRun run;
    auto trainer = run.trainer(
        {std::make_shared<train::EarlyStopping>(train::EarlyStoppingOptions{.verbose = false})});
    run.fit(trainer, 2);
    folder = dir.file("ckpt");
    train::save_checkpoint(folder, trainer, train::resume_point_after_epoch(trainer));
  }
  // Loads into a fresh trainer with `callbacks` and checks nothing changed.
  void expect_load_error(const std::vector<std::string>& fragments, Callbacks callbacks = {}) {
    DropoutRun fresh;
    if (callbacks.empty()) {
      callbacks = {
          std::make_shared<train::EarlyStopping>(train::EarlyStoppingOptions{.verbose = false})};
    }
    auto trainer = fresh.trainer(callbacks);
    trainer.train_loader = fresh.train_loader.get();
    const auto weights = flat_weights(*fresh.model);
    const auto generator = default_generator().state();
    const auto optimizer_keys = fresh.optimizer->state_dict().keys();
    expect_error([&] { train::load_checkpoint(folder, trainer); }, fragments);
    EXPECT_EQ(flat_weights(*fresh.model), weights);
    EXPECT_EQ(fresh.optimizer->state_dict().keys(), optimizer_keys);
    EXPECT_EQ(default_generator().state().offset, generator.offset);
    EXPECT_EQ(trainer.epoch, 0);
    EXPECT_EQ(trainer.step, 0);
  }
  TempDir dir;
  std::string folder;
};

TEST_F(BadCheckpoint, MissingFolder) {
  folder = dir.file("nowhere");
  expect_load_error({"nowhere/trainer.json", "no such checkpoint folder"});
}

TEST_F(BadCheckpoint, MissingFile) {
  fs::remove(folder + "/state.safetensors");
  expect_load_error({"state.safetensors"});
}

TEST_F(BadCheckpoint, CorruptJson) {
  write_text(folder + "/trainer.json", "{\"format\": \"toadstool-checkpoint\", \"epo");
  expect_load_error({"trainer.json", "not valid JSON"});
}

TEST_F(BadCheckpoint, WrongFormatVersion) {
  std::string text = read_text(folder + "/trainer.json");
  const auto at = text.find("\"format_version\": 1");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, std::strlen("\"format_version\": 1"), "\"format_version\": 99");
  write_text(folder + "/trainer.json", text);
  expect_load_error({"trainer.json", "format version 99"});
}

TEST_F(BadCheckpoint, MistypedField) {
  std::string text = read_text(folder + "/trainer.json");
  const auto at = text.find("\"step\": 10");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, std::strlen("\"step\": 10"), "\"step\": \"ten\"");
  write_text(folder + "/trainer.json", text);
  expect_load_error({"trainer.json", "\"step\" should be an integer"});
}

// Issue 18, D7 / D8: each field is checked for type and range before it is
// converted: a float version was undefined behaviour (1e300) or read as 1
// (1.5); a step of INT64_MAX overflowed at the next ++step.
TEST_F(BadCheckpoint, FieldsOutOfRange) {
  const std::string original = read_text(folder + "/trainer.json");
  const auto with = [&](const std::string& field, const std::string& value) {
    std::string text = original;
    const auto at = text.find("\"" + field + "\": ");
    EXPECT_NE(at, std::string::npos) << field;
    const auto begin = at + field.size() + 4;
    text.replace(begin, text.find_first_of(",\n", begin) - begin, value);
    write_text(folder + "/trainer.json", text);
  };
  for (const std::string value : {"1e300", "1.5", "\"1\"", "-1", "18446744073709551615"}) {
    SCOPED_TRACE(value);
    with("format_version", value);
    expect_load_error({"trainer.json", "\"format_version\" should be"});
  }
  with("step", "9223372036854775807");
  expect_load_error({"trainer.json", "\"step\" should be a whole number in [0, 9007199254740992]"});
  with("epoch", "1e300");
  expect_load_error({"trainer.json", "\"epoch\" should be an integer"});
  with("skip_batches", "-3");
  expect_load_error({"trainer.json", "\"skip_batches\" should be a whole number"});
  write_text(folder + "/trainer.json", "[1, 2]");
  expect_load_error({"trainer.json", "should hold a JSON object"});
}

// Issue 18, D8: a counter in state.safetensors (the Adam step, an LR
// schedule's last_epoch, EarlyStopping's wait) out of range is an Error
// naming the file, the part and the entry, and the trainer stays as it was.
TEST_F(BadCheckpoint, StateCountersOutOfRange) {
  const std::string file = folder + "/state.safetensors";
  const TensorDict original = load_safetensors(file);
  const auto with = [&](const std::string& key, const Tensor& value) {
    TensorDict edited = original;
    ASSERT_TRUE(edited.contains(key)) << key;
    edited.set(key, value);
    save_safetensors(file, edited);
  };
  with("optimizer.state.0.step", scalar_tensor(9.3e18, kFloat32));
  expect_load_error({"state.safetensors", "'state.0.step' should be a whole number"});
  with("callbacks.0.EarlyStopping.wait", scalar_tensor(1e300, kFloat64));
  expect_load_error({"state.safetensors", "'wait' should be a whole number"});
  with("callbacks.0.EarlyStopping.best_epoch",
       scalar_tensor(std::numeric_limits<double>::quiet_NaN(), kFloat64));
  expect_load_error({"state.safetensors", "'best_epoch' should be a whole number"});
}

TEST_F(BadCheckpoint, TruncatedWeights) {
  const std::string file = folder + "/model.safetensors";
  const std::string bytes = read_text(file);
  write_text(file, bytes.substr(0, bytes.size() - 7));
  expect_load_error({"model.safetensors"});
}

TEST_F(BadCheckpoint, OtherCallbacks) {
  expect_load_error({"trainer.json", "[EarlyStopping]", "[CheckpointCallback]"},
                    {std::make_shared<CheckpointCallback>(dir.file("x"), quiet_checkpoints())});
}

TEST_F(BadCheckpoint, OtherModelShape) {
  DropoutRun fresh;
  fresh.model = std::make_shared<nn::MLP>(std::vector<int64_t>{3, 8, 1}, "relu", 0.2);
  fresh.optimizer = std::make_shared<optim::Adam>(fresh.model->parameters());
  auto trainer = fresh.trainer(
      {std::make_shared<train::EarlyStopping>(train::EarlyStoppingOptions{.verbose = false})});
  const auto weights = flat_weights(*fresh.model);
  EXPECT_ERROR(train::load_checkpoint(folder, trainer), "model.safetensors");
  EXPECT_EQ(flat_weights(*fresh.model), weights);
}

// The model loads, then the optimizer does not (SGD cannot take Adam's
// state): the model is put back.
TEST_F(BadCheckpoint, OtherOptimizerPutsTheModelBack) {
  DropoutRun fresh;
  fresh.optimizer = std::make_shared<optim::SGD>(fresh.model->parameters(),
                                                 optim::SGDOptions{.lr = 0.1, .momentum = 0.9});
  auto trainer = fresh.trainer(
      {std::make_shared<train::EarlyStopping>(train::EarlyStoppingOptions{.verbose = false})});
  const auto weights = flat_weights(*fresh.model);
  EXPECT_ERROR(train::load_checkpoint(folder, trainer), "state.safetensors (optimizer.*)");
  EXPECT_EQ(flat_weights(*fresh.model), weights);
  EXPECT_EQ(trainer.epoch, 0);
}

TEST(CheckpointCallback, KeepsTheLastKAndPointsLatestAtTheNewest) {
  TempDir dir;
  DropoutRun run;
  auto trainer = run.trainer({std::make_shared<CheckpointCallback>(
      dir.path(), quiet_checkpoints({.keep_last = 2, .save_best = false}))});
  run.fit(trainer, 5);
  EXPECT_EQ(folders_in(dir.path()),
            (std::vector<std::string>{"ckpt-e0004-s00000020", "ckpt-e0005-s00000025"}));
  EXPECT_EQ(train::latest_checkpoint(dir.path()), dir.file("ckpt-e0005-s00000025"));
  EXPECT_EQ(train::best_checkpoint(dir.path()), "");
  EXPECT_EQ(train::read_checkpoint_info(dir.file("ckpt-e0005-s00000025")).epoch, 5);
}

TEST(CheckpointCallback, KeepsTheBestBesideTheLast) {
  TempDir dir;
  DropoutRun run;
  auto trainer =
      run.trainer({std::make_shared<ScriptedScore>(std::vector<double>{0.1, 0.5, 0.3, 0.2, 0.4}),
                   std::make_shared<CheckpointCallback>(
                       dir.path(), quiet_checkpoints({.every = 2, .keep_last = 1}))});
  run.fit(trainer, 5);
  // Saved: epoch 0 (best), 1 (best, every 2), 3 (every 2): the best (epoch 1,
  // resumes at 2) and the newest stay.
  EXPECT_EQ(folders_in(dir.path()),
            (std::vector<std::string>{"ckpt-e0002-s00000010", "ckpt-e0004-s00000020"}));
  EXPECT_EQ(train::best_checkpoint(dir.path()), dir.file("ckpt-e0002-s00000010"));
  EXPECT_EQ(train::latest_checkpoint(dir.path()), dir.file("ckpt-e0004-s00000020"));
  const std::string best = read_text(dir.file("best.json"));
  EXPECT_NE(best.find("\"monitor\": \"score\""), std::string::npos) << best;
  EXPECT_NE(best.find("\"epoch\": 1"), std::string::npos) << best;
}

TEST(CheckpointCallback, LeftoverTemporaryFolderIsIgnoredThenRemoved) {
  TempDir dir;
  {
    DropoutRun run;
    auto trainer =
        run.trainer({std::make_shared<ActAtBatch>(-1, -1, [](Trainer&) {}),
                     std::make_shared<CheckpointCallback>(dir.path(), quiet_checkpoints())});
    run.fit(trainer, 1);
  }
  // A save that crashed half way: a temporary folder with a partial file.
  const std::string leftover = dir.file(".tmp-ckpt-e0002-s00000010-abc123");
  fs::create_directory(leftover);
  write_text(leftover + "/model.safetensors", "partial");
  EXPECT_EQ(train::latest_checkpoint(dir.path()), dir.file("ckpt-e0001-s00000005"));
  const auto weights = resumed_run(dir.path(), 2);
  EXPECT_FALSE(fs::exists(leftover));
  EXPECT_EQ(weights, straight_run(2));
}

// Issue 18, D9: what kills left behind stayed for ever. A resuming callback
// removes the checkpoint folders no pointer names (a complete one from a kill
// between its rename and the pointer write, a half-deleted one from a kill
// during a removal) and every start removes the temporaries; a fresh run
// leaves checkpoint folders alone.
TEST(CheckpointCallback, CrashLeftoversAreRemovedAtTheNextStart) {
  TempDir dir;
  {
    DropoutRun run;
    auto trainer =
        run.trainer({std::make_shared<ActAtBatch>(-1, -1, [](Trainer&) {}),
                     std::make_shared<CheckpointCallback>(dir.path(), quiet_checkpoints())});
    run.fit(trainer, 1);
  }
  const std::string named = "ckpt-e0001-s00000005";
  // A complete folder that no pointer names yet, and a half-deleted one.
  fs::copy(dir.file(named), dir.file("ckpt-e0002-s00000010"));
  fs::create_directory(dir.file("ckpt-e0000-s00000002"));
  write_text(dir.file("ckpt-e0000-s00000002/state.safetensors"), "partial");
  // A removal interrupted after its rename, and a pointer's temporary file.
  fs::create_directory(dir.file(".tmp-removing-ckpt-e0000-s00000001"));
  write_text(dir.file("latest.json.tmp-Ab12Cd"), "{\"format\": ");
  const std::vector<std::string> everything = {
      ".tmp-removing-ckpt-e0000-s00000001", "ckpt-e0000-s00000002", named, "ckpt-e0002-s00000010"};
  ASSERT_EQ(folders_in(dir.path()), everything);

  {  // A fresh run into the folder removes only the temporaries.
    TempDir other;
    fs::copy(dir.path(), other.path(), fs::copy_options::recursive);
    DropoutRun run;
    auto trainer = run.trainer({std::make_shared<CheckpointCallback>(
        other.path(), quiet_checkpoints({.keep_last = 1, .save_best = false}))});
    run.fit(trainer, 1);
    EXPECT_EQ(folders_in(other.path()),
              (std::vector<std::string>{"ckpt-e0000-s00000002", named, named + "-2",
                                        "ckpt-e0002-s00000010"}));
    EXPECT_FALSE(fs::exists(other.file("latest.json.tmp-Ab12Cd")));
  }

  const auto weights = resumed_run(dir.path(), 2);
  EXPECT_EQ(weights, straight_run(2));
  // Resumed from `named`, saved epoch 2's checkpoint (its name free again);
  // keep_last 2 keeps both.
  EXPECT_EQ(folders_in(dir.path()), (std::vector<std::string>{named, "ckpt-e0002-s00000010"}));
  EXPECT_FALSE(fs::exists(dir.file("latest.json.tmp-Ab12Cd")));
  EXPECT_EQ(train::latest_checkpoint(dir.path()), dir.file("ckpt-e0002-s00000010"));
}

// A callback whose state cannot be saved at epoch 2: the save fails, its
// temporary folder goes, and latest.json still names the epoch-1 checkpoint.
class FailingState : public train::CallbackBase<FailingState> {
 public:
  int64_t epoch = 0;
  void after_epoch(Trainer& t) override { epoch = t.epoch; }
  TensorDict state_dict() const override {
    TS_CHECK(epoch < 2, "FailingState: cannot save");
    return {};
  }
};

TEST(CheckpointCallback, AFailedSaveLeavesThePreviousCheckpoint) {
  TempDir dir;
  DropoutRun run;
  auto trainer =
      run.trainer({std::make_shared<FailingState>(),
                   std::make_shared<CheckpointCallback>(dir.path(), quiet_checkpoints())});
  EXPECT_ERROR(run.fit(trainer, 4), "FailingState: cannot save");
  EXPECT_EQ(folders_in(dir.path()),
            (std::vector<std::string>{"ckpt-e0001-s00000005", "ckpt-e0002-s00000010"}));
  EXPECT_EQ(train::latest_checkpoint(dir.path()), dir.file("ckpt-e0002-s00000010"));
}

TEST(CheckpointCallback, CorruptPointerIsAnError) {
  TempDir dir;
  write_text(dir.file("latest.json"), "{\"format\": \"toadstool-checkpoint-pointer\", ");
  EXPECT_ERROR(train::latest_checkpoint(dir.path()), "latest.json is not valid JSON");
  write_text(dir.file("latest.json"),
             "{\"format\": \"toadstool-checkpoint-pointer\", \"format_version\": 1, "
             "\"checkpoint\": \"../elsewhere\"}");
  EXPECT_ERROR(train::latest_checkpoint(dir.path()), "should name a folder inside");
  write_text(dir.file("latest.json"),
             "{\"format\": \"toadstool-checkpoint-pointer\", \"format_version\": 1, "
             "\"checkpoint\": \"ckpt-gone\"}");
  EXPECT_ERROR(train::latest_checkpoint(dir.path()), "which is not in");
  // Issue 18, D7: fields of the wrong JSON type threw nlohmann's type_error
  // out of fit(); a float version was undefined behaviour or read as 1.
  const std::vector<std::pair<std::string, std::string>> mistyped = {
      {R"({"format":0})", "is not a checkpoint pointer"},
      {R"([])", "should hold a JSON object"},
      {R"({"format": "toadstool-checkpoint-pointer"})", "no field \"format_version\""},
      {R"({"format": "toadstool-checkpoint-pointer", "format_version": 1e300})",
       "\"format_version\" should be an integer"},
      {R"({"format": "toadstool-checkpoint-pointer", "format_version": 1.5})",
       "\"format_version\" should be an integer"},
      {R"({"format": "toadstool-checkpoint-pointer", "format_version": 18446744073709551615})",
       "\"format_version\" should be a whole number"},
      {R"({"format": "toadstool-checkpoint-pointer", "format_version": 1, "checkpoint": 7})",
       "should name a folder inside"},
  };
  for (const auto& [text, message] : mistyped) {
    SCOPED_TRACE(text);
    write_text(dir.file("latest.json"), text);
    EXPECT_ERROR(train::latest_checkpoint(dir.path()),
                 (std::vector<std::string>{"latest.json", message}));
    write_text(dir.file("best.json"), text);
    EXPECT_ERROR(train::best_checkpoint(dir.path()),
                 (std::vector<std::string>{"best.json", message}));
    fs::remove(dir.file("best.json"));
  }
  write_text(dir.file("latest.json"),
             "{\"format\": \"toadstool-checkpoint-pointer\", \"format_version\": 1, "
             "\"checkpoint\": \"ckpt-gone\"}");
  DropoutRun run;
  auto trainer = run.trainer(
      {std::make_shared<CheckpointCallback>(dir.path(), quiet_checkpoints({.resume = true}))});
  EXPECT_ERROR(run.fit(trainer, 1), "ckpt-gone");
}

TEST(CheckpointCallback, ResumeWithoutACheckpointStartsFresh) {
  TempDir dir;
  DropoutRun run;
  auto checkpoints =
      std::make_shared<CheckpointCallback>(dir.file("new"), quiet_checkpoints({.resume = true}));
  auto trainer = run.trainer({std::make_shared<ActAtBatch>(-1, -1, [](Trainer&) {}), checkpoints});
  run.fit(trainer, 2);
  EXPECT_EQ(checkpoints->resumed_from(), "");
  EXPECT_EQ(flat_weights(*run.model), straight_run(2));
}

// --- exact resume ------------------------------------------------------------------

TEST(CheckpointResume, AfterAnEpochGivesBitwiseTheSameWeights) {
  TempDir dir;
  {
    DropoutRun run;
    auto trainer =
        run.trainer({std::make_shared<ActAtBatch>(-1, -1, [](Trainer&) {}),
                     std::make_shared<CheckpointCallback>(dir.path(), quiet_checkpoints())});
    run.fit(trainer, 2);
  }
  const auto resumed = resumed_run(dir.path(), 4);
  const auto straight = straight_run(4);
  EXPECT_EQ(resumed, straight);
  // Sanity: two more epochs changed the weights (the test could fail).
  EXPECT_NE(straight, straight_run(2));
}

// On-step checkpoints every `every` steps; the first run is cancelled at
// begin_batch of (epoch 1, batch 3) without saving on exit, so it resumes
// from the last on-step checkpoint, inside an epoch or at its last batch.
class MidEpochResume : public ::testing::TestWithParam<int64_t> {};

TEST_P(MidEpochResume, GivesBitwiseTheSameWeights) {
  const int64_t every = GetParam();
  const CheckpointOptions options{
      .every = every, .on_step = true, .save_best = false, .save_on_exit = false};
  TempDir dir;
  {
    DropoutRun run;
    auto trainer = run.trainer(
        {std::make_shared<ActAtBatch>(1, 3, [](Trainer&) { throw train::CancelTraining(); }),
         std::make_shared<CheckpointCallback>(dir.path(), quiet_checkpoints(options))});
    run.fit(trainer, 4);
    ASSERT_EQ(trainer.step, 8);
  }
  const train::CheckpointInfo info =
      train::read_checkpoint_info(train::latest_checkpoint(dir.path()));
  const int64_t step = 8 / every * every;  // the last multiple of `every`
  EXPECT_EQ(info.step, step);
  EXPECT_EQ(info.epoch, (step - 1) / 5);
  EXPECT_EQ(info.skip_batches, (step - 1) % 5 + 1);
  EXPECT_EQ(resumed_run(dir.path(), 4, options), straight_run(4, options));
}

// every 3: step 6 = (epoch 1, after batch 0); every 5: step 5 = the last
// batch of epoch 0 (the resumed epoch 0 runs no batch, only validation).
INSTANTIATE_TEST_SUITE_P(Checkpoint, MidEpochResume, ::testing::Values(3, 5));

TEST(CheckpointResume, FromTheCheckpointSavedOnCancelGivesBitwiseTheSameWeights) {
  TempDir dir;
  {
    DropoutRun run;
    auto trainer = run.trainer(
        {std::make_shared<ActAtBatch>(1, 3, [](Trainer&) { throw train::CancelTraining(); }),
         std::make_shared<CheckpointCallback>(dir.path(), quiet_checkpoints())});
    run.fit(trainer, 4);
  }
  const std::string latest = train::latest_checkpoint(dir.path());
  EXPECT_EQ(latest, dir.file("ckpt-e0001-s00000008-b000003"));
  const train::CheckpointInfo info = train::read_checkpoint_info(latest);
  EXPECT_EQ(info.epoch, 1);
  EXPECT_EQ(info.skip_batches, 3);
  EXPECT_EQ(resumed_run(dir.path(), 4), straight_run(4));
}

// --- Ctrl-C in a child process ------------------------------------------------------

#ifdef TOADSTOOL_SIGINT_CHILD
TEST(CheckpointResume, CtrlCInAChildProcessLeavesALoadableCheckpoint) {
  TempDir dir;
  const std::string marker = dir.file("marker");
  const std::string outdir = dir.file("run");
  const char* argv[] = {TOADSTOOL_SIGINT_CHILD, outdir.c_str(), marker.c_str(), nullptr};
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, TOADSTOOL_SIGINT_CHILD, nullptr, nullptr,
                        const_cast<char* const*>(argv), environ),
            0);
  // The child writes the marker at (epoch 1, batch 2) and waits for Ctrl-C.
  for (int i = 0; i < 6000 && !fs::exists(marker); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const bool started = fs::exists(marker);
  ::kill(pid, started ? SIGINT : SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(started) << "the child never reached epoch 1, batch 2";
  ASSERT_TRUE(WIFEXITED(status)) << "the child did not exit normally (status " << status << ")";
  EXPECT_EQ(WEXITSTATUS(status), 0);

  // Batch 2 of epoch 1 finished (the flag is read between batches): step 8.
  const std::string latest = train::latest_checkpoint(outdir);
  ASSERT_EQ(latest, outdir + "/ckpt-e0001-s00000008-b000003");
  const train::CheckpointInfo info = train::read_checkpoint_info(latest);
  EXPECT_EQ(info.epoch, 1);
  EXPECT_EQ(info.step, 8);
  EXPECT_EQ(info.skip_batches, 3);
  // Loadable, and resuming from it is the straight run.
  EXPECT_EQ(resumed_run(outdir, 4), straight_run(4));
}
#endif

}  // namespace
}  // namespace toadstool::testing
