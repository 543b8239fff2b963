#include "toadstool/tensor/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "toadstool/tensor/error.h"

namespace toadstool {

namespace {

// Writes are gathered into blocks of this size before a write(2).
constexpr size_t kBufferSize = size_t{1} << 20;

std::string errno_text() { return std::strerror(errno); }

// The folder of `path` ("." for a bare file name).
std::string folder_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

AtomicFileWriter::AtomicFileWriter(std::string path, const std::string& op)
    : path_(std::move(path)),
      what_((op.empty() ? "" : op + ": ") + "atomic write of '" + path_ + "'") {
  TS_CHECK(!path_.empty(), op.empty() ? "" : op + ": ", "atomic write: empty path");
  std::vector<char> name(path_.begin(), path_.end());
  const std::string suffix = ".tmp-XXXXXX";
  name.insert(name.end(), suffix.begin(), suffix.end());
  name.push_back('\0');
  fd_ = ::mkstemp(name.data());
  TS_CHECK(fd_ >= 0, what_, ": cannot create a temporary file beside it: ", errno_text());
  temp_path_ = name.data();
  // mkstemp makes the file 0600; a saved file gets the usual 0644.
  ::fchmod(fd_, 0644);
  buffer_.reserve(kBufferSize);
}

AtomicFileWriter::~AtomicFileWriter() {
  if (!committed_) discard();
}

void AtomicFileWriter::discard() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
}

void AtomicFileWriter::flush() {
  TS_CHECK(fd_ >= 0, what_, ": the file is already closed");
  const char* p = buffer_.data();
  size_t left = buffer_.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    TS_CHECK(n > 0, what_, ": write to '", temp_path_, "' failed: ", errno_text());
    p += n;
    left -= static_cast<size_t>(n);
  }
  buffer_.clear();
}

void AtomicFileWriter::write(const void* data, size_t size) {
  if (size == 0) return;
  const char* p = static_cast<const char*>(data);
  if (buffer_.size() + size > kBufferSize) flush();
  if (size >= kBufferSize) {  // large blocks go straight through
    buffer_.assign(p, size);
    flush();
    return;
  }
  buffer_.append(p, size);
}

void AtomicFileWriter::commit() {
  TS_CHECK(!committed_, what_, ": already committed");
  flush();
  TS_CHECK(::fsync(fd_) == 0, what_, ": fsync failed: ", errno_text());
  const int fd = fd_;
  fd_ = -1;
  TS_CHECK(::close(fd) == 0, what_, ": close failed: ", errno_text());
  TS_CHECK(::rename(temp_path_.c_str(), path_.c_str()) == 0, what_, ": rename from '", temp_path_,
           "' failed: ", errno_text());
  committed_ = true;
  // Make the rename durable; a folder that cannot be opened or synced (some
  // file systems) does not undo a write that has already replaced the file.
  const int dir = ::open(folder_of(path_).c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

void write_file_atomic(const std::string& path, std::string_view data, const std::string& op) {
  AtomicFileWriter writer(path, op);
  writer.write(data);
  writer.commit();
}

}  // namespace toadstool
