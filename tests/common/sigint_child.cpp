// The child process of CheckpointResume.CtrlCInAChildProcessLeavesALoadable-
// Checkpoint (test_checkpoint.cpp): trains the DropoutRun with a
// CheckpointCallback into argv[1]; at begin_batch of (epoch 1, batch 2) it
// writes the marker file argv[2] and waits for the parent's SIGINT, then
// the fit ends through the trainer's Ctrl-C handling. Exit 0 when the fit
// ended interrupted, 1 otherwise, 2 on an Error.
#include <chrono>
#include <fstream>
#include <iostream>
#include <thread>

#include "checkpoint_fixtures.h"
#include "toadstool/train/sigint.h"

int main(int argc, char** argv) {
  using namespace toadstool;
  if (argc != 3) {
    std::cerr << "usage: sigint_child <outdir> <marker>\n";
    return 2;
  }
  try {
    testing::DropoutRun run;
    const std::string marker = argv[2];
    auto wait_for_ctrl_c = [&](train::Trainer&) {
      std::ofstream(marker) << "ready\n";
      // The parent sends SIGINT on seeing the marker; a minute is a safety net.
      for (int i = 0; i < 6000 && !train::SigintGuard::received(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    };
    train::CheckpointOptions options;
    options.verbose = false;
    auto trainer = run.trainer({std::make_shared<testing::ActAtBatch>(1, 2, wait_for_ctrl_c),
                                std::make_shared<train::CheckpointCallback>(argv[1], options)});
    run.fit(trainer, 4);
    return trainer.interrupted() ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "sigint_child: " << e.what() << "\n";
    return 2;
  }
}
