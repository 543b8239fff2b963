#include "scratch.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace toadstool::fuzz {
namespace {

namespace fs = std::filesystem;

// The process's scratch root, made on first use and removed at exit.
class ScratchRoot {
 public:
  ScratchRoot() {
    const char* tmpdir = std::getenv("TMPDIR");
    std::error_code ec;
    const std::string base = tmpdir != nullptr && *tmpdir != '\0' ? tmpdir
                             : fs::is_directory("/dev/shm", ec)   ? "/dev/shm"
                                                                  : "/tmp";
    std::string pattern = base + "/toadstool-fuzz-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("fuzz: cannot create a scratch folder from " + pattern);
    }
    path_ = pattern;
  }
  ~ScratchRoot() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScratchRoot(const ScratchRoot&) = delete;
  ScratchRoot& operator=(const ScratchRoot&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

}  // namespace

std::string fresh_scratch_folder(const std::string& name) {
  static const ScratchRoot root;
  const fs::path folder = root.path() / name;
  // Inputs differ in which files they make, so nothing may carry over; the
  // folder itself stays (one mkdir and rmdir fewer per input).
  fs::create_directories(folder);
  for (const auto& entry : fs::directory_iterator(folder)) fs::remove_all(entry.path());
  return folder.string();
}

void write_file(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw std::runtime_error("fuzz: cannot write " + path);
}

}  // namespace toadstool::fuzz
