#include "toadstool/train/tensorboard/event_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "toadstool/tensor/error.h"
#include "toadstool/train/tensorboard/crc32c.h"
#include "toadstool/train/tensorboard/event.h"

namespace toadstool::train::tensorboard {
namespace {

void append_le(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace

std::string EventFileWriter::frame(std::string_view data) {
  std::string record;
  record.reserve(data.size() + 16);
  append_le(record, data.size(), 8);
  append_le(record, masked_crc32c(record), 4);  // of the 8 length bytes
  record.append(data);
  append_le(record, masked_crc32c(data), 4);
  return record;
}

EventFileWriter::EventFileWriter(const std::string& dir) {
  TS_CHECK(!dir.empty(), "TensorBoard event file: the log folder is empty");
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  TS_CHECK(!error, "TensorBoard event file: cannot create the folder ", dir, ": ", error.message());
  const double now = unix_seconds();
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "%010lld", static_cast<long long>(now));
  const std::string base = dir + "/events.out.tfevents." + stamp + "." + hostname();
  // O_EXCL: two writers started in the same second (a fit after an LR
  // finder's) each get a file of their own.
  for (int n = 0; fd_ < 0; ++n) {
    path_ = n == 0 ? base : base + "." + std::to_string(n);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    TS_CHECK(fd_ >= 0 || (errno == EEXIST && n < 1000), "TensorBoard event file: cannot create ",
             path_, ": ", std::strerror(errno));
  }
  add(file_version_event(now));
}

EventFileWriter::~EventFileWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void EventFileWriter::add(std::string_view event) { pending_ += frame(event); }

void EventFileWriter::flush() {
  if (pending_.empty()) return;
  const off_t start = ::lseek(fd_, 0, SEEK_END);
  size_t written = 0;
  while (written < pending_.size()) {
    const ssize_t n = ::write(fd_, pending_.data() + written, pending_.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int saved = n < 0 ? errno : ENOSPC;
      // Cut a partial write back off, so that a later flush does not append
      // whole records behind a torn one (the reader would stop at it).
      const bool cut = start >= 0 && ::ftruncate(fd_, start) == 0;
      pending_.clear();
      TS_CHECK(false, "TensorBoard event file: writing to ", path_,
               " failed: ", std::strerror(saved),
               cut ? "" : " (and cutting the partial write off failed: the file may end torn)");
    }
    written += static_cast<size_t>(n);
  }
  pending_.clear();
  TS_CHECK(::fsync(fd_) == 0, "TensorBoard event file: fsync of ", path_,
           " failed: ", std::strerror(errno));
}

}  // namespace toadstool::train::tensorboard
