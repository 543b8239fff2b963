#pragma once
// Reading and writing the corpus files, for toadstool_fuzz_tool make-corpus
// (fuzz_tool.cpp, corpus_*.cpp).
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>

#include "scratch.h"
#include "toadstool/tensor/safetensors.h"

namespace toadstool::fuzz {

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Writes dir/name and says so.
inline void write_corpus_file(const std::filesystem::path& dir, const std::string& name,
                              const std::string& bytes) {
  std::filesystem::create_directories(dir);
  write_file((dir / name).string(), bytes);
  std::cout << (dir / name).string() << " (" << bytes.size() << " bytes)\n";
}

// The bytes save_safetensors writes.
inline std::string safetensors_bytes(const TensorDict& tensors,
                                     const SafetensorsMetadata& metadata = {}) {
  const std::string path = fresh_scratch_folder("make-corpus") + "/file.safetensors";
  save_safetensors(path, tensors, metadata);
  return read_file(path);
}

// `plain` gzip-compressed (as by gzip -9).
inline std::string gzip_bytes(const std::string& plain) {
  const std::string path = fresh_scratch_folder("make-corpus") + "/file.gz";
  gzFile file = gzopen(path.c_str(), "wb9");
  if (file == nullptr || gzwrite(file, plain.data(), static_cast<unsigned>(plain.size())) !=
                             static_cast<int>(plain.size())) {
    throw std::runtime_error("gzip failed");
  }
  gzclose(file);
  return read_file(path);
}

// make-corpus of the data readers and loaders, one file each:
// corpus_imdb_archive.cpp, corpus_tokenizer.cpp, corpus_state_dict.cpp.
void make_imdb_archive_corpus(const std::filesystem::path& dir);
void make_tokenizer_corpus(const std::filesystem::path& dir);
void make_state_dict_corpus(const std::filesystem::path& dir);

}  // namespace toadstool::fuzz
