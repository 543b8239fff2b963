#pragma once
// EventFileWriter: a TensorBoard event file, one TFRecord per Event:
//   uint64 length, uint32 masked_crc32c(length), bytes data[length],
//   uint32 masked_crc32c(data)
// all little-endian (tensorflow/core/lib/io/record_writer.h).
//
// Records are buffered and reach the file at flush(): all of them in one
// write() on a file opened for appending, then fsync. A write that fails
// part-way is cut back off (ftruncate), so the file only ever grows by whole
// records; a crash in the middle of a write can leave a torn last record,
// which the reader takes as the end of the file. A writer never appends to
// a file it did not create, so nothing is ever written after a torn record.
#include <cstdint>
#include <string>
#include <string_view>

namespace toadstool::train::tensorboard {

class EventFileWriter {
 public:
  // Creates `dir` (and its parents) if needed and, in it, a new file named
  // as TensorFlow names them, events.out.tfevents.<unix time>.<hostname>
  // (".1", ".2", ... appended while that name is taken), whose first record
  // is the file_version event. Error naming the folder or file when either
  // cannot be made.
  explicit EventFileWriter(const std::string& dir);
  ~EventFileWriter();
  EventFileWriter(const EventFileWriter&) = delete;
  EventFileWriter& operator=(const EventFileWriter&) = delete;

  // Queues one encoded Event (tensorboard/event.h).
  void add(std::string_view event);
  // Writes the queued records and fsyncs; Error naming the file on failure
  // (the file is left as it was before the call).
  void flush();

  const std::string& path() const { return path_; }

  // The TFRecord framing of one record.
  static std::string frame(std::string_view data);

 private:
  std::string path_;
  int fd_ = -1;
  std::string pending_;
};

}  // namespace toadstool::train::tensorboard
