#include "toadstool/train/callbacks/csv_logger.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "toadstool/tensor/atomic_file.h"
#include "toadstool/tensor/error.h"
#include "toadstool/train/callbacks/steady_seconds.h"

namespace toadstool::train {
namespace {

// Full precision for the numbers a later analysis reads; empty for unknown.
std::string field(double value) {
  if (std::isnan(value)) return "";
  char text[32];
  std::snprintf(text, sizeof text, "%.10g", value);
  return text;
}

bool read_file(const std::string& path, std::string& contents) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  contents = buffer.str();
  return true;
}

}  // namespace

CSVLogger::CSVLogger(std::string path, bool append) : path_(std::move(path)), append_(append) {
  TS_CHECK(!path_.empty(), "CSVLogger: the path is empty");
}

CSVLogger::~CSVLogger() { close(); }

void CSVLogger::begin_fit(Trainer& /*trainer*/) { close(); }

// The file is prepared at the first epoch rather than at begin_fit: by then
// every callback's begin_fit has run, so a resuming checkpoint callback,
// wherever it is in the list, has set the epoch the fit starts from.
void CSVLogger::begin_epoch(Trainer& trainer) {
  // Data parallel: rank 0 writes the file (the losses are the same on every rank).
  if (fd_ < 0 && trainer.is_main_process()) open(trainer.epoch);
  epoch_start_ = steady_seconds();
}

void CSVLogger::open(int64_t first_epoch) {
  const std::string header_line = std::string(header()) + "\n";
  std::string existing;
  if (!append_ || !read_file(path_, existing) || existing.empty()) {
    write_file_atomic(path_, header_line, "CSVLogger");
  } else {
    TS_CHECK(existing.compare(0, header_line.size(), header_line) == 0, "CSVLogger: ", path_,
             " exists and its first line is not the header \"", header(),
             "\"; not writing to it (pass append = false to replace it)");
    // Keep complete rows of the epochs before this fit's first.
    std::string kept = header_line;
    size_t start = header_line.size(), line_number = 2;
    bool dropped = false;
    while (start < existing.size()) {
      const size_t end = existing.find('\n', start);
      if (end == std::string::npos) {  // torn by a crash during its write
        dropped = true;
        break;
      }
      const std::string line = existing.substr(start, end - start + 1);
      char* parsed_end = nullptr;
      const long long epoch = std::strtoll(line.c_str(), &parsed_end, 10);
      TS_CHECK(parsed_end != line.c_str() && *parsed_end == ',', "CSVLogger: ", path_, " line ",
               line_number, " does not start with an epoch number: \"",
               line.substr(0, line.size() - 1), "\"; not writing to it");
      if (epoch < first_epoch) {
        kept += line;
      } else {
        dropped = true;
      }
      start = end + 1;
      ++line_number;
    }
    if (dropped) write_file_atomic(path_, kept, "CSVLogger");
  }
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  TS_CHECK(fd_ >= 0, "CSVLogger: cannot open ", path_, " for appending: ", std::strerror(errno));
}

void CSVLogger::after_epoch(Trainer& trainer) {
  if (!trainer.is_main_process()) return;
  TS_CHECK(fd_ >= 0, "CSVLogger: after_epoch without begin_epoch (", path_, " is not open)");
  const std::string row = std::to_string(trainer.epoch) + "," + std::to_string(trainer.step) + "," +
                          field(trainer.train_loss()) + "," +
                          field(trainer.valid_loader ? trainer.valid_loss() : NAN) + "," +
                          field(trainer.score) + "," + field(trainer.lr) + "," +
                          field(steady_seconds() - epoch_start_) + "\n";
  size_t written = 0;
  while (written < row.size()) {
    const ssize_t n = ::write(fd_, row.data() + written, row.size() - written);
    if (n < 0 && errno == EINTR) continue;
    TS_CHECK(n > 0, "CSVLogger: writing to ", path_, " failed: ", std::strerror(errno));
    written += static_cast<size_t>(n);
  }
  TS_CHECK(::fsync(fd_) == 0, "CSVLogger: fsync of ", path_, " failed: ", std::strerror(errno));
}

void CSVLogger::after_fit(Trainer& /*trainer*/) { close(); }

void CSVLogger::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace toadstool::train
