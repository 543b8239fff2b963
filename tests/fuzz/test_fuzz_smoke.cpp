// The fuzz smoke test of the file readers (docs/fuzzing.md): every corpus
// file, then a fixed number of deterministic mutations of them, through the
// fuzz targets. A reader may accept an input or refuse it with
// toadstool::Error; any other exception fails the test, and the sanitizer
// build turns crashes and undefined behaviour into failures too.
//
//   TOADSTOOL_FUZZ_ITERATIONS=100000   mutations per reader (default: a few seconds' worth)
//   TOADSTOOL_FUZZ_SEED=7              another deterministic sequence
//   TOADSTOOL_FUZZ_MAX_FAILURES=100    failures per reader before stopping (default 5)
#include <cxxabi.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "fuzz_targets.h"
#include "mutator.h"
#include "toadstool/tensor/error.h"

namespace toadstool::fuzz {
namespace {

namespace fs = std::filesystem;

struct Reader {
  const Target& target;  // fuzz_targets.h: its name, function and file extension
  void (Mutator::*mutate)(std::string&);
  // Sized so that each reader's mutations take a few seconds at most in the
  // ASan build on one core (docs/fuzzing.md has the timings).
  uint64_t iterations;
};

const Target& target(std::string_view name) {
  const Target* found = find_target(name);
  if (found == nullptr) throw std::logic_error("no fuzz target " + std::string(name));
  return *found;
}

const Reader kSafetensors{target("safetensors"), &Mutator::mutate_safetensors, 5000};
const Reader kIdx{target("idx"), &Mutator::mutate, 2000};
const Reader kCheckpoint{target("checkpoint"), &Mutator::mutate_archive, 1000};
const Reader kImdbArchive{target("imdb_archive"), &Mutator::mutate, 1000};
const Reader kTokenizer{target("tokenizer"), &Mutator::mutate, 2000};
const Reader kStateDict{target("state_dict"), &Mutator::mutate_state_dict, 1000};

constexpr uint64_t kDefaultSeed = 20261127;
// Reported failures per reader before the loop stops: the first few say
// what is wrong; hundreds more of the same would bury them.
constexpr uint64_t kMaxFailures = 5;

uint64_t env_or(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::strtoull(value, nullptr, 0) : fallback;
}

// splitmix64: each iteration's own seed, so that iteration i can be rerun
// without the ones before it.
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

struct CorpusFile {
  std::string name;
  std::string bytes;
};

std::vector<CorpusFile> corpus(const Reader& reader) {
  std::vector<CorpusFile> files;
  for (const auto& entry :
       fs::directory_iterator(fs::path(TOADSTOOL_FUZZ_CORPUS_DIR) / reader.target.name)) {
    std::ifstream in(entry.path(), std::ios::binary);
    files.push_back({entry.path().filename().string(),
                     {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()}});
  }
  std::sort(files.begin(), files.end(),
            [](const CorpusFile& a, const CorpusFile& b) { return a.name < b.name; });
  return files;
}

std::string type_name(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> name(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), &std::free);
  return status == 0 ? name.get() : type.name();
}

// Runs the reader's target. Returns "" when it accepted (`accepted` true)
// or refused the input with an Error, else what it threw instead.
std::string run(const Reader& reader, const std::string& input, bool& accepted) {
  try {
    accepted = reader.target.run(reinterpret_cast<const uint8_t*>(input.data()), input.size()) == 1;
    return "";
  } catch (const std::exception& e) {
    return type_name(typeid(e)) + ": " + e.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

// Where inputs go for reproduction (`fuzz_tool replay <reader> <file>`).
std::string save_input(const std::string& file_name, const std::string& bytes) {
  const fs::path dir = TOADSTOOL_FUZZ_FAILURE_DIR;
  fs::create_directories(dir);
  const fs::path path = dir / file_name;
  // A new file rather than a truncated one: ext4 flushes a file truncated
  // and rewritten at close, and waiting for that would be most of the run.
  fs::remove(path);
  std::ofstream(path, std::ios::binary) << bytes;
  return path.string();
}

// valid-* corpus files must be accepted, invalid-* ones refused with an Error.
void check_corpus(const Reader& reader) {
  const std::vector<CorpusFile> files = corpus(reader);
  ASSERT_FALSE(files.empty()) << "no corpus in " << TOADSTOOL_FUZZ_CORPUS_DIR << "/"
                              << reader.target.name;
  for (const CorpusFile& file : files) {
    SCOPED_TRACE(std::string(reader.target.name) + "/" + file.name);
    bool accepted = false;
    const std::string thrown = run(reader, file.bytes, accepted);
    EXPECT_EQ(thrown, "") << "not a toadstool::Error";
    if (!thrown.empty()) continue;
    if (file.name.starts_with("valid-")) {
      EXPECT_TRUE(accepted) << "a valid file was refused";
    } else if (file.name.starts_with("invalid-")) {
      EXPECT_FALSE(accepted) << "an invalid file was accepted";
    }
  }
}

void fuzz_mutations(const Reader& reader) {
  const std::vector<CorpusFile> files = corpus(reader);
  ASSERT_FALSE(files.empty()) << "no corpus in " << TOADSTOOL_FUZZ_CORPUS_DIR << "/"
                              << reader.target.name;
  const uint64_t seed = env_or("TOADSTOOL_FUZZ_SEED", kDefaultSeed);
  const uint64_t iterations = env_or("TOADSTOOL_FUZZ_ITERATIONS", reader.iterations);
  // The input being run, on disk: after a crash it is what to replay.
  const std::string name(reader.target.name);
  const std::string extension(reader.target.extension);
  const std::string current = name + "-current" + extension;
  const uint64_t max_failures = env_or("TOADSTOOL_FUZZ_MAX_FAILURES", kMaxFailures);
  uint64_t done = 0, accepted_count = 0, failures = 0;
  for (uint64_t i = 0; i < iterations && failures < max_failures; ++i, ++done) {
    Mutator mutator(mix(seed ^ mix(i)));
    const CorpusFile& base = files[mutator.below(files.size())];
    std::string input = base.bytes;
    (mutator.*reader.mutate)(input);
    save_input(current, input);
    bool accepted = false;
    const std::string thrown = run(reader, input, accepted);
    accepted_count += accepted ? 1 : 0;
    if (thrown.empty()) continue;
    ++failures;
    const std::string saved = save_input(
        name + "-seed" + std::to_string(seed) + "-iteration" + std::to_string(i) + extension,
        input);
    ADD_FAILURE() << "fuzz_" << name << " threw " << thrown << "\n  input: iteration " << i
                  << " (TOADSTOOL_FUZZ_SEED=" << seed << "), a mutation of " << base.name
                  << "\n  saved to " << saved;
  }
  std::cout << "[fuzz] " << name << ": " << done << " mutations of " << files.size()
            << " corpus files (seed " << seed << "), " << accepted_count << " accepted, "
            << failures << " failures" << (failures == max_failures ? " (stopped)" : "") << "\n";
}

TEST(FuzzSmoke, SafetensorsCorpus) { check_corpus(kSafetensors); }
TEST(FuzzSmoke, SafetensorsMutations) { fuzz_mutations(kSafetensors); }
TEST(FuzzSmoke, IdxCorpus) { check_corpus(kIdx); }
TEST(FuzzSmoke, IdxMutations) { fuzz_mutations(kIdx); }
TEST(FuzzSmoke, CheckpointCorpus) { check_corpus(kCheckpoint); }
TEST(FuzzSmoke, CheckpointMutations) { fuzz_mutations(kCheckpoint); }
TEST(FuzzSmoke, ImdbArchiveCorpus) { check_corpus(kImdbArchive); }
TEST(FuzzSmoke, ImdbArchiveMutations) { fuzz_mutations(kImdbArchive); }
TEST(FuzzSmoke, TokenizerCorpus) { check_corpus(kTokenizer); }
TEST(FuzzSmoke, TokenizerMutations) { fuzz_mutations(kTokenizer); }
TEST(FuzzSmoke, StateDictCorpus) { check_corpus(kStateDict); }
TEST(FuzzSmoke, StateDictMutations) { fuzz_mutations(kStateDict); }

// Every target of fuzz_targets.h has its tests above.
TEST(FuzzSmoke, EveryTargetIsTested) {
  std::vector<std::string_view> tested;
  for (const Reader* reader :
       {&kSafetensors, &kIdx, &kCheckpoint, &kImdbArchive, &kTokenizer, &kStateDict}) {
    tested.push_back(reader->target.name);
  }
  for (const Target& t : kTargets) {
    EXPECT_NE(std::find(tested.begin(), tested.end(), t.name), tested.end())
        << "fuzz target " << t.name << " has no FuzzSmoke tests";
  }
}

}  // namespace
}  // namespace toadstool::fuzz
