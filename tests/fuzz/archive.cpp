#include "archive.h"

#include <algorithm>
#include <stdexcept>

namespace toadstool::fuzz {
namespace {

// A header line starts with kMarker; between two files is kSeparator.
constexpr std::string_view kSeparator = "\n--8<-- ";
constexpr std::string_view kMarker = kSeparator.substr(1);

}  // namespace

std::vector<ArchiveFile> split_archive(std::string_view archive) {
  // Header lines start at offset 0 or right after a '\n'.
  std::vector<size_t> headers;
  if (archive.substr(0, kMarker.size()) == kMarker) headers.push_back(0);
  for (size_t at = archive.find(kMarker, 1); at != std::string_view::npos;
       at = archive.find(kMarker, at + 1)) {
    if (archive[at - 1] == '\n') headers.push_back(at);
  }
  std::vector<ArchiveFile> files;
  for (size_t i = 0; i < headers.size(); ++i) {
    const size_t name_begin = headers[i] + kMarker.size();
    const size_t name_end = archive.find('\n', name_begin);
    // The end of this file's bytes: the '\n' before the next header line.
    const size_t end = i + 1 < headers.size() ? headers[i + 1] - 1 : archive.size();
    if (name_end == std::string_view::npos || name_end > end) {
      continue;  // a header line with no end: no file
    }
    // name_end == end: the header line's '\n' is also the separator (no bytes).
    const size_t bytes_begin = std::min(name_end + 1, end);
    files.push_back({std::string(archive.substr(name_begin, name_end - name_begin)),
                     std::string(archive.substr(bytes_begin, end - bytes_begin))});
  }
  return files;
}

std::string join_archive(const std::vector<ArchiveFile>& files) {
  std::string out;
  for (const ArchiveFile& file : files) {
    if (file.path.find('\n') != std::string::npos ||
        file.bytes.find(kSeparator) != std::string::npos) {
      throw std::invalid_argument("join_archive: '" + file.path + "' cannot be framed");
    }
    if (!out.empty()) out += '\n';
    out += kMarker;
    out += file.path;
    out += '\n';
    out += file.bytes;
  }
  return out;
}

}  // namespace toadstool::fuzz
