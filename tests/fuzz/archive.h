#pragma once
// The input format of fuzz_checkpoint: a folder of files as one byte
// string, so that one input holds a whole checkpoint output folder. Each file
// is a header line "--8<-- <relative path>\n" followed by its bytes; a file
// ends where the next header line begins ("\n--8<-- "). Text, so a person
// can read and edit a corpus file, and a mutation of a file's bytes rarely
// breaks the framing (no lengths to get wrong), which keeps libFuzzer's
// blind mutations useful.
#include <string>
#include <string_view>
#include <vector>

namespace toadstool::fuzz {

struct ArchiveFile {
  std::string path;  // relative, '/'-separated, as written in the header line
  std::string bytes;
};

// The files of `archive`, in order; bytes before the first header line are
// ignored. Never throws on any input.
std::vector<ArchiveFile> split_archive(std::string_view archive);

// The inverse of split_archive for files whose bytes do not contain the
// separator "\n--8<-- " (join_archive checks that and throws
// std::invalid_argument).
std::string join_archive(const std::vector<ArchiveFile>& files);

}  // namespace toadstool::fuzz
