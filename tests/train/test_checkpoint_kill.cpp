// Crash safety of checkpoints (issue 19): a training process that writes a
// checkpoint after every optimizer step is killed with SIGKILL at random
// moments, again and again in one folder. After each kill the newest
// complete checkpoint must load and resume, and no folder under a
// checkpoint's name may be half-written. docs/checkpoints.md, "Crash test",
// has the figures.
//
//   TOADSTOOL_CHECKPOINT_KILLS      kills (default 100; the asan preset sets fewer)
//   TOADSTOOL_CHECKPOINT_KILL_SEED  seed of the random delays (default 19)
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "checkpoint_fixtures.h"
#include "temp_dir.h"
#include "test_util.h"

extern char** environ;

namespace toadstool::testing {
namespace {

#ifdef TOADSTOOL_SIGINT_CHILD

namespace fs = std::filesystem;
using train::CheckpointCallback;
using train::CheckpointOptions;
using Clock = std::chrono::steady_clock;

int64_t env_or(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::stoll(v) : fallback;
}

// What a crash in the middle of a write leaves: temporary folders and files
// (".tmp-ckpt-*", ".tmp-removing-*", "latest.json.tmp-*", "best.json.tmp-*").
std::set<std::string> temporaries(const std::string& outdir) {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(outdir, ec)) {
    const std::string n = e.path().filename().string();
    if (n.rfind(".tmp-", 0) == 0 || n.find(".json.tmp-") != std::string::npos) names.insert(n);
  }
  return names;
}

std::vector<std::string> checkpoint_folders(const std::string& outdir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(outdir, ec)) {
    const std::string n = e.path().filename().string();
    if (e.is_directory() && n.rfind("ckpt-", 0) == 0) names.push_back(n);
  }
  return names;
}

// Whether a checkpoint folder is newer (more steps) than the newest that
// latest.json names: a kill between a folder's rename and the pointer update.
bool newer_than_latest(const std::string& outdir) {
  const std::string latest = train::latest_checkpoint(outdir);
  if (latest.empty()) return !checkpoint_folders(outdir).empty();
  const auto position = [](const std::string& folder) {
    const train::CheckpointInfo info = train::read_checkpoint_info(folder);
    return std::pair(info.step, info.epoch);
  };
  const auto newest = position(latest);
  for (const std::string& name : checkpoint_folders(outdir)) {
    if (position(outdir + "/" + name) > newest) return true;
  }
  return false;
}

// Starts `sigint_child --until-killed outdir keep_last` with its stdout on a
// pipe and waits for its "ready" line. Returns the pid (0 if it died before).
pid_t start_child(const std::string& outdir, int64_t keep_last) {
  int fds[2];
  if (::pipe(fds) != 0) return 0;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  const std::string keep = std::to_string(keep_last);
  const char* argv[] = {TOADSTOOL_SIGINT_CHILD, "--until-killed", outdir.c_str(), keep.c_str(),
                        nullptr};
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, TOADSTOOL_SIGINT_CHILD, &actions, nullptr,
                             const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  char line[6] = {};
  size_t got = 0;
  while (rc == 0 && got < sizeof(line)) {
    const ssize_t n = ::read(fds[0], line + got, sizeof(line) - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fds[0]);  // the child's later writes (none) would get SIGPIPE
  if (rc != 0) return 0;
  if (got != sizeof(line)) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return 0;
  }
  return pid;
}

// A fresh DropoutRun (new objects, as a new process) with the child's
// callback list, resuming from `outdir` and saving nothing itself.
struct Resumed {
  DropoutRun run;
  std::shared_ptr<CheckpointCallback> checkpoints;
  train::Trainer trainer;

  explicit Resumed(const std::string& outdir)
      : checkpoints(std::make_shared<CheckpointCallback>(
            outdir, CheckpointOptions{.every = int64_t{1} << 40,
                                      .on_step = true,
                                      .save_best = false,
                                      .resume = true,
                                      .save_on_exit = false,
                                      .verbose = false})),
        trainer(run.trainer(
            {std::make_shared<ActAtBatch>(-1, -1, [](train::Trainer&) {}), checkpoints})) {}
};

// The checks after one kill: every folder under a checkpoint's name is
// complete (its trainer.json and weights read), both pointers name such a
// folder, and the newest loads into fresh objects and trains on (from a
// copy of the folder, so that the next child meets what the kill left).
// Returns the epoch the resumed fit reached (0 when there is no checkpoint
// yet) and its weights.
std::pair<int64_t, std::vector<float>> check_after_kill(const std::string& outdir,
                                                        const std::string& scratch, int round) {
  SCOPED_TRACE("after kill " + std::to_string(round));
  for (const std::string& name : checkpoint_folders(outdir)) {
    const std::string folder = outdir + "/" + name;
    EXPECT_NO_THROW(train::read_checkpoint_info(folder)) << folder;
    DropoutRun weights_only;
    EXPECT_NO_THROW(train::load_checkpoint_weights(folder, *weights_only.model)) << folder;
  }
  std::string latest;
  EXPECT_NO_THROW(latest = train::latest_checkpoint(outdir));
  EXPECT_NO_THROW(train::best_checkpoint(outdir));
  if (latest.empty()) return {0, {}};
  const train::CheckpointInfo info = train::read_checkpoint_info(latest);

  std::error_code ec;
  fs::remove_all(scratch, ec);
  fs::copy(outdir, scratch, fs::copy_options::recursive);
  Resumed resumed(scratch);
  const int64_t epochs = info.epoch + 1;
  resumed.run.fit(resumed.trainer, epochs);
  EXPECT_EQ(resumed.checkpoints->resumed_from(),
            scratch + "/" + fs::path(latest).filename().string());
  EXPECT_EQ(resumed.trainer.epoch, epochs);
  EXPECT_GE(resumed.trainer.step, info.step);
  std::vector<float> weights = flat_weights(*resumed.run.model);
  EXPECT_TRUE(
      std::all_of(weights.begin(), weights.end(), [](float w) { return std::isfinite(w); }));
  return {epochs, std::move(weights)};
}

// The straight run (no kill, no checkpoint written) to `epochs`.
std::vector<float> uninterrupted(const std::string& scratch, int64_t epochs) {
  std::error_code ec;
  fs::remove_all(scratch, ec);
  Resumed straight(scratch);  // an empty folder: starts fresh
  straight.run.fit(straight.trainer, epochs);
  return flat_weights(*straight.run.model);
}

TEST(CheckpointKill, NewestCompleteCheckpointResumesAfterEveryKill) {
  const int64_t kills = env_or("TOADSTOOL_CHECKPOINT_KILLS", 100);
  ASSERT_GE(kills, 1) << "TOADSTOOL_CHECKPOINT_KILLS must be >= 1";
  std::mt19937_64 rng(static_cast<uint64_t>(env_or("TOADSTOOL_CHECKPOINT_KILL_SEED", 19)));
  // The delay after the child's "ready": from 0 (a kill during its resume,
  // or before its first save) to a few checkpoint writes (a write, with its
  // fsyncs, takes 10-50 ms on the machines this ran on; the steps between
  // writes take well under 1 ms). 120 ms for 100 kills; fewer kills wait
  // longer (up to 300 ms), so that the folder still sees a history of saves
  // and removals, and a slow (instrumented) child still completes some.
  const int64_t max_delay_us =
      std::min<int64_t>(300000, 120000 * std::max<int64_t>(1, 100 / kills));
  std::uniform_int_distribution<int64_t> delay_us(0, max_delay_us);
  TempDir dir;
  const std::string outdir = dir.file("run"), scratch = dir.file("scratch");
  fs::create_directories(outdir);

  const auto start = Clock::now();
  int64_t mid_write = 0;
  std::map<std::string, int64_t> landed;  // mid-write kills by where they landed
  std::pair<int64_t, std::vector<float>> last;
  for (int64_t round = 1; round <= kills; ++round) {
    const std::set<std::string> before = temporaries(outdir);
    // Odd kills meet a child that keeps the last checkpoint only: each of
    // its saves removes the folder latest.json named until then (the pointer
    // must move first); even kills one that keeps 2, so latest.json's
    // "recent" list is pruned too.
    const pid_t pid = start_child(outdir, round % 2 == 1 ? 1 : 2);
    ASSERT_NE(pid, 0) << "kill " << round << ": the child did not start (or failed to resume)";
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "kill " << round << ": the child ended on its own (status " << status
        << "; exit 2 is an Error, e.g. a checkpoint it could not resume from)";

    const std::set<std::string> after = temporaries(outdir);
    last = check_after_kill(outdir, scratch, static_cast<int>(round));
    if (::testing::Test::HasFailure()) return;
    // A kill inside a write leaves a new temporary, or a complete folder
    // newer than the one latest.json names (between its rename and the
    // pointer's update).
    std::string kind;
    for (const std::string& n : after) {
      if (before.count(n) != 0) continue;
      kind = n.rfind(".tmp-ckpt-", 0) == 0       ? "in a checkpoint folder's write"
             : n.rfind(".tmp-removing-", 0) == 0 ? "in a removal"
                                                 : "in a pointer's write";
    }
    if (kind.empty() && newer_than_latest(outdir)) kind = "between a folder and its pointer";
    if (!kind.empty()) {
      ++mid_write;
      ++landed[kind];
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::cout << "CheckpointKill: " << kills << " kills, " << mid_write << " inside a write (";
  for (const auto& [kind, count] : landed) std::cout << count << " " << kind << "; ";
  std::cout << seconds << " s); the run reached epoch " << last.first << "\n";
  RecordProperty("kills", static_cast<int>(kills));
  RecordProperty("mid_write", static_cast<int>(mid_write));

  // The whole killed-and-resumed history gives the uninterrupted run's
  // weights bit for bit (exact resume, docs/checkpoints.md).
  ASSERT_GT(last.first, 0) << "no kill came after a checkpoint";
  EXPECT_EQ(last.second, uninterrupted(scratch, last.first));
  // A test of writes that no kill interrupted would test nothing.
  if (kills >= 20) {
    EXPECT_GT(mid_write, 0);
  }
}

#endif  // TOADSTOOL_SIGINT_CHILD

}  // namespace
}  // namespace toadstool::testing
