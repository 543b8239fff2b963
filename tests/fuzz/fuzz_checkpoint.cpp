// fuzz_checkpoint: the bytes are an archive (archive.h) of a checkpoint
// output folder, unpacked into a scratch folder and read every way the
// library reads checkpoints.
#include <algorithm>
#include <cctype>
#include <filesystem>

#include "accepts.h"
#include "archive.h"
#include "checkpoint_run.h"
#include "fuzz_targets.h"
#include "scratch.h"

namespace toadstool::fuzz {
namespace {

namespace fs = std::filesystem;

// More folders only cost time: each is loaded the same ways.
constexpr size_t kMaxFolders = 3;

bool pointer_file_name(const std::string& name) {
  return name == "latest.json" || name == "best.json";
}

// A folder name the fuzzer may make: one path component, no NUL (which no
// file system accepts: that would be a failed write, not a finding), and
// not a pointer file's name (a folder "latest.json" and the file
// latest.json cannot both be made: the harness's own failure, found by the
// fuzzer: corpus file invalid-folder-named-latest.json.ckpt).
bool usable_folder_name(const std::string& name) {
  return !name.empty() && name.size() <= 64 && name != "." && name != ".." &&
         !pointer_file_name(name) && std::all_of(name.begin(), name.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
         });
}

bool checkpoint_file_name(const std::string& name) {
  return name == "trainer.json" || name == "model.safetensors" || name == "state.safetensors";
}

// Writes the archive's pointer files and checkpoint files into `outdir`
// (anything else is skipped) and returns the checkpoint folders made.
std::vector<std::string> unpack(const std::vector<ArchiveFile>& files, const std::string& outdir) {
  std::vector<std::string> folders;
  for (const ArchiveFile& file : files) {
    if (pointer_file_name(file.path)) {
      write_file(outdir + "/" + file.path, file.bytes);
      continue;
    }
    const size_t slash = file.path.find('/');
    if (slash == std::string::npos) continue;
    const std::string folder = file.path.substr(0, slash);
    const std::string name = file.path.substr(slash + 1);
    if (!usable_folder_name(folder) || !checkpoint_file_name(name)) continue;
    if (std::find(folders.begin(), folders.end(), folder) == folders.end()) {
      if (folders.size() == kMaxFolders) continue;
      folders.push_back(folder);
      fs::create_directories(fs::path(outdir) / folder);
    }
    write_file(outdir + "/" + file.path, file.bytes);
  }
  return folders;
}

// Loading a checkpoint sets the default generator and building a run
// reseeds it: put it back, so that fuzzing leaves the process as it was.
class KeepDefaultGenerator {
 public:
  KeepDefaultGenerator() : state_(default_generator().state()) {}
  ~KeepDefaultGenerator() { default_generator().set_state(state_); }
  KeepDefaultGenerator(const KeepDefaultGenerator&) = delete;
  KeepDefaultGenerator& operator=(const KeepDefaultGenerator&) = delete;

 private:
  Generator::State state_;
};

// A CheckpointCallback that never saves (no scheduled saves, no best, none
// on exit), to load into: fuzzing must not spend its time in fsync.
train::CheckpointOptions load_only(bool resume) {
  return {.every = int64_t{1} << 40, .save_best = false, .resume = resume, .save_on_exit = false};
}

}  // namespace

int fuzz_checkpoint(const uint8_t* data, size_t size) {
  const std::string outdir = fresh_scratch_folder("checkpoint");
  const std::vector<std::string> folders =
      unpack(split_archive({reinterpret_cast<const char*>(data), size}), outdir);
  const KeepDefaultGenerator keep;

  std::string latest;
  bool accepted = accepts([&] { latest = train::latest_checkpoint(outdir); });
  accepted = accepts([&] { train::best_checkpoint(outdir); }) && accepted;
  for (const std::string& name : folders) {
    const std::string folder = outdir + "/" + name;
    accepted = accepts([&] { train::read_checkpoint_info(folder); }) && accepted;
    accepted = accepts([&] {
                 CheckpointRun run(outdir, load_only(false));
                 train::load_checkpoint(folder, *run.trainer);
               }) &&
               accepted;
    accepted =
        accepts([&] { train::load_checkpoint_weights(folder, *CheckpointRun::make_model()); }) &&
        accepted;
  }
  // CheckpointCallback resumes from latest.json at begin_fit, and the
  // restored state is then trained with for up to kFitEpochs epochs.
  // Without a latest.json the run starts fresh: one epoch of it runs every
  // line a second would, at half the cost (2 in 5 of the grown corpus's
  // inputs have none).
  accepted = accepts([&] {
               CheckpointRun run(outdir, load_only(true));
               run.fit(latest.empty() ? 1 : kFitEpochs);
             }) &&
             accepted;
  return accepted ? 1 : 0;
}

}  // namespace toadstool::fuzz
