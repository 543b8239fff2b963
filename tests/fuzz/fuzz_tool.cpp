// fuzz_tool: the fuzzing chores that are not a test.
//
//   toadstool_fuzz_tool make-corpus tests/fuzz/corpus
//       (re)writes the seed corpus: small valid files made by the library's
//       own writers, and a few invalid ones derived from them.
//   toadstool_fuzz_tool replay <target> FILE...
//       runs a saved input (tests/fuzz/failures/ in the build folder, or a
//       libFuzzer crash-* file) through its fuzz target and says what happened.
//   toadstool_fuzz_tool list
//       prints the targets' names, one a line (scripts/fuzz.sh reads them).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "archive.h"
#include "checkpoint_run.h"
#include "corpus_files.h"
#include "fuzz_targets.h"
#include "scratch.h"

namespace toadstool::fuzz {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;  // "\x00..."s keeps its NUL bytes

// ---- safetensors --------------------------------------------------------------

void make_safetensors_corpus(const fs::path& dir) {
  TensorDict one;
  one.insert("weight", arange(6).to(kFloat32).reshape({2, 3}));
  write_corpus_file(dir, "valid-f32-metadata.safetensors",
                    safetensors_bytes(one, {{"format", "pt"}}));

  // Every dtype, a 0-d tensor and an empty one.
  TensorDict all;
  all.insert("f64", arange(2).to(kFloat64));
  all.insert("i64", arange(3));
  all.insert("bool", arange(2).to(kBool));
  all.insert("bf16", arange(2).to(kBFloat16));
  all.insert("f16", arange(2).to(kFloat16).reshape({1, 2}));
  all.insert("scalar", scalar_tensor(1.5, kFloat32));
  all.insert("empty", zeros({0, 2, 3}));  // 3 dims: room for sizes whose product overflows
  const std::string all_bytes = safetensors_bytes(all, {});
  write_corpus_file(dir, "valid-all-dtypes.safetensors", all_bytes);
  write_corpus_file(dir, "valid-no-tensors.safetensors", safetensors_bytes({}, {}));

  // The last 4 data bytes missing.
  write_corpus_file(dir, "invalid-truncated.safetensors",
                    all_bytes.substr(0, all_bytes.size() - 4));
  // A BOOL byte that is not 0 or 1 (the file's last byte).
  TensorDict flags;
  flags.insert("bool", arange(2).to(kBool));
  std::string bad_bool = safetensors_bytes(flags, {});
  bad_bool.back() = 2;
  write_corpus_file(dir, "invalid-bool-byte.safetensors", bad_bool);

  // Regression: an empty tensor whose other sizes make its strides overflow
  // int64 (save_safetensors cannot write one, so the header is by hand).
  std::string header =
      R"({"x":{"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string prefix(8, '\0');
  for (size_t i = 0; i < 8; ++i) prefix[i] = static_cast<char>(header.size() >> (8 * i));
  write_corpus_file(dir, "invalid-strides-overflow.safetensors", prefix + header);
}

// ---- IDX ----------------------------------------------------------------------

// An IDX file: magic 0x0000TTDD, big-endian uint32 sizes, then `data`.
std::string idx_bytes(uint8_t type, const std::vector<uint32_t>& shape, const std::string& data) {
  std::string out = {0, 0, static_cast<char>(type), static_cast<char>(shape.size())};
  for (uint32_t d : shape) {
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((d >> shift) & 0xFF);
  }
  return out + data;
}

void make_idx_corpus(const fs::path& dir) {
  // 3 images of 2 x 2 and their labels, as in (Fashion-)MNIST.
  const std::string images =
      idx_bytes(0x08, {3, 2, 2}, "\x00\x10\x80\xff\x01\x02\x03\x04\xfe\xfd\x7f\x00"s);
  write_corpus_file(dir, "valid-images-ubyte.idx", images);
  write_corpus_file(dir, "valid-labels-ubyte.idx", idx_bytes(0x08, {3}, "\x01\x09\x00"s));
  write_corpus_file(dir, "valid-images-ubyte.idx.gz", gzip_bytes(images));
  // The other element types, big-endian: sbyte -1 2; short -2 3; int
  // 65536 -1; float 1.5 -0; double 0.25.
  write_corpus_file(dir, "valid-sbyte.idx", idx_bytes(0x09, {2}, "\xff\x02"s));
  write_corpus_file(dir, "valid-short.idx", idx_bytes(0x0B, {1, 2}, "\xff\xfe\x00\x03"s));
  write_corpus_file(dir, "valid-int.idx",
                    idx_bytes(0x0C, {2}, "\x00\x01\x00\x00\xff\xff\xff\xff"s));
  write_corpus_file(dir, "valid-float.idx",
                    idx_bytes(0x0D, {2}, "\x3f\xc0\x00\x00\x80\x00\x00\x00"s));
  write_corpus_file(dir, "valid-double.idx",
                    idx_bytes(0x0E, {1}, "\x3f\xd0\x00\x00\x00\x00\x00\x00"s));
  // 3 dims, as images have: room for sizes whose product overflows.
  write_corpus_file(dir, "valid-empty.idx", idx_bytes(0x08, {0, 2, 5}, ""s));

  write_corpus_file(dir, "invalid-truncated.idx", images.substr(0, images.size() - 1));
  write_corpus_file(dir, "invalid-trailing-byte.idx", images + '\0');
  const std::string gz = gzip_bytes(images);
  write_corpus_file(dir, "invalid-truncated.idx.gz", gz.substr(0, gz.size() - 4));
  // Regression: no data ([0, 2^32 - 1, 2^32 - 1]), but strides past int64.
  write_corpus_file(dir, "invalid-strides-overflow.idx",
                    idx_bytes(0x08, {0, 0xFFFFFFFF, 0xFFFFFFFF}, ""s));
}

// ---- checkpoints --------------------------------------------------------------

// Every file under `outdir`, as an archive (paths relative to it, sorted).
std::string archive_of(const fs::path& outdir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(outdir)) {
    if (entry.is_regular_file()) {
      files[fs::relative(entry.path(), outdir).generic_string()] = read_file(entry.path());
    }
  }
  std::vector<ArchiveFile> list;
  list.reserve(files.size());
  for (auto& [path, bytes] : files) list.push_back({path, std::move(bytes)});
  return join_archive(list);
}

// The output folder of a CheckpointRun fitted for `epochs` with `options`.
std::string checkpoint_archive(int64_t epochs, train::CheckpointOptions options) {
  const std::string outdir = fresh_scratch_folder("make-corpus") + "/run";
  CheckpointRun run(outdir, std::move(options));
  run.fit(epochs);
  return archive_of(outdir);
}

void make_checkpoint_corpus(const fs::path& dir) {
  // Saved after epoch 0 (resumes at epoch 1), keeping only that one; it is
  // also the best, so best.json names it.
  const std::string after_epoch = checkpoint_archive(1, {.keep_last = 1});
  write_corpus_file(dir, "valid-after-epoch.ckpt", after_epoch);
  // Saved at step 3, inside epoch 1 (skip_batches 1).
  write_corpus_file(
      dir, "valid-mid-epoch.ckpt",
      checkpoint_archive(2, {.every = 3, .on_step = true, .keep_last = 1, .save_best = false}));
  // latest.json alone: it names a folder that is not there.
  std::vector<ArchiveFile> files = split_archive(after_epoch);
  std::erase_if(files, [](const ArchiveFile& f) { return f.path != "latest.json"; });
  write_corpus_file(dir, "invalid-missing-folder.ckpt", join_archive(files));

  // Regressions, each a small edit of a valid file.
  const auto edited = [&](const std::string& file_suffix, const std::string& from,
                          const std::string& to) {
    std::vector<ArchiveFile> edited_files = split_archive(after_epoch);
    for (ArchiveFile& file : edited_files) {
      if (!file.path.ends_with(file_suffix)) continue;
      const size_t at = file.bytes.find(from);
      if (at == std::string::npos) throw std::runtime_error("make-corpus: no '" + from + "'");
      file.bytes.replace(at, from.size(), to);
    }
    return join_archive(edited_files);
  };
  // A pointer's JSON of the wrong type (needs no folder: it is read first).
  files = split_archive(
      edited("latest.json", R"("format": "toadstool-checkpoint-pointer")", R"("format": 0)"));
  std::erase_if(files, [](const ArchiveFile& f) { return f.path != "latest.json"; });
  write_corpus_file(dir, "invalid-pointer-format-type.ckpt", join_archive(files));
  // A fractional format version (read as 1 unless checked).
  write_corpus_file(dir, "invalid-pointer-version-fraction.ckpt",
                    edited("latest.json", R"("format_version": 1)", R"("format_version": 1.5)"));
  // A step counter that the resumed fit's next step overflows.
  write_corpus_file(dir, "invalid-step-huge.ckpt",
                    edited("/trainer.json", R"("step": 2)", R"("step": 9223372036854775807)"));
  // An Adam step count past int64 (its conversion is undefined behaviour).
  files = split_archive(after_epoch);
  for (ArchiveFile& file : files) {
    if (!file.path.ends_with("/state.safetensors")) continue;
    const std::string path = fresh_scratch_folder("make-corpus") + "/state.safetensors";
    write_file(path, file.bytes);
    SafetensorsContents state = load_safetensors_with_metadata(path);
    state.tensors.set("optimizer.state.0.step", scalar_tensor(1e30, kFloat32));
    save_safetensors(path, state.tensors, state.metadata);
    file.bytes = read_file(path);
  }
  write_corpus_file(dir, "invalid-adam-step-1e30.ckpt", join_archive(files));
}

int replay(const std::string& name, const std::vector<std::string>& paths) {
  const Target* target = find_target(name);
  if (target == nullptr) {
    std::cerr << "unknown target '" << name << "' (toadstool_fuzz_tool list names them)\n";
    return 2;
  }
  int status = 0;
  for (const std::string& path : paths) {
    const std::string bytes = read_file(path);
    std::cout << path << ": " << std::flush;
    try {
      const int accepted =
          target->run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      std::cout << (accepted == 1 ? "accepted" : "refused with toadstool::Error") << "\n";
    } catch (const std::exception& e) {
      std::cout << "threw a non-Error exception: " << e.what() << "\n";
      status = 1;
    }
  }
  return status;
}

int run(const std::vector<std::string>& args, const std::string& program) {
  if (args.size() == 2 && args[0] == "make-corpus") {
    const fs::path dir = args[1];
    make_safetensors_corpus(dir / "safetensors");
    make_idx_corpus(dir / "idx");
    make_checkpoint_corpus(dir / "checkpoint");
    make_imdb_archive_corpus(dir / "imdb_archive");
    make_tokenizer_corpus(dir / "tokenizer");
    make_state_dict_corpus(dir / "state_dict");
    return 0;
  }
  if (args.size() >= 3 && args[0] == "replay") {
    return replay(args[1], {args.begin() + 2, args.end()});
  }
  if (args.size() == 1 && args[0] == "list") {
    for (const Target& target : kTargets) std::cout << target.name << "\n";
    return 0;
  }
  std::cerr << "usage: " << program << " make-corpus DIR\n"
            << "       " << program << " replay TARGET FILE...\n"
            << "       " << program << " list\n";
  return 2;
}

}  // namespace
}  // namespace toadstool::fuzz

int main(int argc, char** argv) {
  try {
    return toadstool::fuzz::run({argv + 1, argv + argc}, argv[0]);
  } catch (const std::exception& e) {
    std::cerr << argv[0] << ": " << e.what() << "\n";
    return 1;
  }
}
