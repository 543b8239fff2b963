// The child process of the checkpoint tests that stop a training process
// from outside (test_checkpoint.cpp, test_checkpoint_kill.cpp): a separate
// program, so that no OpenMP runtime is forked. Two modes:
//
//   sigint_child <outdir> <marker>
//     CheckpointResume.CtrlCInAChildProcessLeavesALoadableCheckpoint: trains
//     the DropoutRun with a CheckpointCallback into <outdir>; at begin_batch
//     of (epoch 1, batch 2) it writes the marker file and waits for the
//     parent's SIGINT, then the fit ends through the trainer's Ctrl-C
//     handling. Exit 0 when the fit ended interrupted, 1 otherwise.
//
//   sigint_child --until-killed <outdir> <keep_last>
//     CheckpointKill: resumes the DropoutRun from <outdir> (fresh when it
//     holds no checkpoint), writes "ready\n" to stdout, and trains with a
//     checkpoint after every optimizer step (the last <keep_last> and the
//     best kept) until the parent's SIGKILL: most of its time is spent writing
//     checkpoints, so a kill at a random moment often lands inside a write.
//     Exit 1 if the fit ever ends.
//
// Exit 2 on an Error (a checkpoint that does not load, say) or bad arguments.
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <thread>

#include "checkpoint_fixtures.h"
#include "toadstool/train/sigint.h"

namespace {

using namespace toadstool;

int wait_for_ctrl_c(const std::string& outdir, const std::string& marker) {
  testing::DropoutRun run;
  auto write_marker_and_wait = [&](train::Trainer&) {
    std::ofstream(marker) << "ready\n";
    // The parent sends SIGINT on seeing the marker; a minute is a safety net.
    for (int i = 0; i < 6000 && !train::SigintGuard::received(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  };
  train::CheckpointOptions options;
  options.verbose = false;
  auto trainer = run.trainer({std::make_shared<testing::ActAtBatch>(1, 2, write_marker_and_wait),
                              std::make_shared<train::CheckpointCallback>(outdir, options)});
  run.fit(trainer, 4);
  return trainer.interrupted() ? 0 : 1;
}

int train_until_killed(const std::string& outdir, int64_t keep_last) {
  testing::DropoutRun run;
  train::CheckpointOptions options;
  options.on_step = true;
  options.every = 1;
  options.keep_last = keep_last;
  options.resume = true;
  options.verbose = false;
  // The same callback list as the parent's resumed runs (load_checkpoint
  // matches callbacks by position and name).
  auto trainer = run.trainer({std::make_shared<testing::ActAtBatch>(-1, -1, [](train::Trainer&) {}),
                              std::make_shared<train::CheckpointCallback>(outdir, options)});
  // The parent's random delay starts here (after the process start-up,
  // whose length varies): the resume at begin_fit is part of what a kill
  // may interrupt.
  std::cout << "ready" << std::endl;
  run.fit(trainer, int64_t{1} << 40);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 4 && std::strcmp(argv[1], "--until-killed") == 0) {
      return train_until_killed(argv[2], std::stoll(argv[3]));
    }
    if (argc == 3) return wait_for_ctrl_c(argv[1], argv[2]);
    std::cerr << "usage: sigint_child <outdir> <marker>\n"
                 "       sigint_child --until-killed <outdir> <keep_last>\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "sigint_child: " << e.what() << "\n";
    return 2;
  }
}
