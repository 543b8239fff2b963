#pragma once
// Atomic file writes: the new contents go to a temporary file in the target's
// folder, which is flushed, fsync'ed and renamed over the target (and the
// folder fsync'ed, so that the rename itself is durable). A reader sees the
// old file or the new one, never a torn one. On any failure (or when the
// writer is destroyed before commit()) the temporary is removed and the old
// file is left untouched. Used by safetensors and the checkpoints.
#include <cstddef>
#include <string>
#include <string_view>

namespace toadstool {

class AtomicFileWriter {
 public:
  // Creates the temporary "<path>.tmp-XXXXXX" beside `path`; Error if it
  // cannot. Every Error names `path` and starts with `op` (the caller's
  // name, e.g. "save_safetensors") when given.
  explicit AtomicFileWriter(std::string path, const std::string& op = "");
  ~AtomicFileWriter();  // removes the temporary unless committed
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  // Appends bytes (buffered); Error naming the file on a failed write.
  void write(const void* data, size_t size);
  void write(std::string_view data) { write(data.data(), data.size()); }
  // Flushes, fsyncs, closes and renames the temporary over the target, then
  // fsyncs the folder. After an Error the target is unchanged.
  void commit();

  const std::string& path() const { return path_; }
  const std::string& temporary_path() const { return temp_path_; }

 private:
  void flush();
  void discard() noexcept;

  std::string path_, temp_path_;
  std::string what_;  // "<op>: atomic write of '<path>'", the start of every Error
  int fd_ = -1;
  bool committed_ = false;
  std::string buffer_;
};

// Replaces `path` with `data` atomically (see AtomicFileWriter); `op` starts
// the Errors.
void write_file_atomic(const std::string& path, std::string_view data, const std::string& op = "");

}  // namespace toadstool
