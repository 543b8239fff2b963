#pragma once
// Where the fuzz targets put their inputs: the readers take paths, so every
// input becomes a file. One folder per target for the whole process, emptied
// before each input and removed at exit, under TMPDIR if set, else in
// /dev/shm: thousands of files are made and removed a second, which on
// tmpfs costs microseconds each and on a disk mounted with `discard`
// (removing a folder), milliseconds.
#include <string>
#include <string_view>

namespace toadstool::fuzz {

// The scratch folder of target `name` ("safetensors", ...), emptied.
std::string fresh_scratch_folder(const std::string& name);

// Writes `bytes` to `path` (creating or truncating it); std::runtime_error
// if it cannot: that is a broken test machine, not a finding.
void write_file(const std::string& path, std::string_view bytes);

}  // namespace toadstool::fuzz
