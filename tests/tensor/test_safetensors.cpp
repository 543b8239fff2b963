// safetensors: round trips of every dtype, atomic writes, the file written by
// Python's safetensors (tests/golden/make_golden_safetensors.py), and one
// hostile file per validation rule, each an Error naming the file and entry.
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>

#include "temp_dir.h"
#include "test_util.h"
#include "toadstool/tensor/atomic_file.h"
#include "toadstool/tensor/safetensors.h"

namespace toadstool {
namespace {

using testing::TempDir;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// The tensors of tests/golden/make_golden_safetensors.py's expected_tensors():
// a formula of the element index i (floats (i - 2.5) * 0.75, exact in every
// float dtype; int64 i * 10^12 - 3; bool i % 3 == 0).
TensorDict expected_tensors() {
  std::vector<double> floats;
  std::vector<int64_t> ints;
  std::vector<bool> bools;
  for (int64_t i = 0; i < 6; ++i) {
    floats.push_back((static_cast<double>(i) - 2.5) * 0.75);
    ints.push_back(i * 1000000000000LL - 3);
    bools.push_back(i % 3 == 0);
  }
  const Tensor f = from_vector(floats, {2, 3});
  TensorDict d;
  d.insert("f32", f.to(kFloat32));
  d.insert("f64", f);
  d.insert("bf16", f.to(kBFloat16));
  d.insert("f16", f.to(kFloat16));
  d.insert("i64", from_vector(ints, {2, 3}));
  d.insert("bool", from_vector(bools, {2, 3}));
  d.insert("scalar", scalar_tensor(1.0 / 3.0, kFloat64));
  d.insert("empty", zeros({0, 4}));
  return d;
}

// Same names, dtypes, shapes and bit-identical values (in any order).
void expect_same(const TensorDict& got, const TensorDict& want) {
  EXPECT_EQ(got.size(), want.size());
  for (const auto& [name, t] : want) {
    SCOPED_TRACE(name);
    const Tensor* g = got.find(name);
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(g->dtype(), t.dtype());
    ASSERT_EQ(g->shape(), t.shape());
    EXPECT_TRUE(g->is_contiguous());
    const Tensor a = g->contiguous(), b = t.contiguous();
    EXPECT_EQ(std::memcmp(a.data_ptr(), b.data_ptr(), a.numel() * a.element_size()), 0);
  }
}

TEST(Safetensors, RoundTripEveryDtype) {
  TempDir dir;
  const std::string path = dir.file("all.safetensors");
  TensorDict tensors = expected_tensors();
  const SafetensorsMetadata metadata = {{"format", "pt"}, {"producer", "toadstool"}};
  save_safetensors(path, tensors, metadata);
  const SafetensorsContents loaded = load_safetensors_with_metadata(path);
  expect_same(loaded.tensors, tensors);
  EXPECT_EQ(loaded.tensors.keys(), tensors.keys());  // data order = insertion order
  EXPECT_EQ(loaded.metadata, metadata);
  // The data starts 8-byte aligned, as Python's writer makes it.
  const std::string bytes = read_all(path);
  uint64_t header = 0;
  std::memcpy(&header, bytes.data(), 8);
  EXPECT_EQ(header % 8, 0u);
  EXPECT_EQ(dir.files(), std::vector<std::string>{"all.safetensors"});  // no temporary left
  // tests/golden/make_golden_safetensors.py --check-ours loads this file in Python.
  if (const char* keep = std::getenv("TOADSTOOL_SAFETENSORS_KEEP")) {
    save_safetensors(keep, tensors, metadata);
  }
}

TEST(Safetensors, NonContiguousTensorsAreWrittenContiguous) {
  TempDir dir;
  Generator gen(3);
  const Tensor base = randn({4, 5}, kFloat32, &gen);
  TensorDict d;
  d.insert("transposed", base.t());
  d.insert("sliced", base.slice(1, 1, std::nullopt, 2));
  d.insert("expanded", from_vector(std::vector<double>{1, 2}, {2, 1}).expand({2, 3}));
  save_safetensors(dir.file("v.safetensors"), d);
  const TensorDict loaded = load_safetensors(dir.file("v.safetensors"));
  for (const auto& [name, t] : d) {
    SCOPED_TRACE(name);
    testing::expect_close(loaded.at(name), t, 0, 0);
  }
}

TEST(Safetensors, ReadsPythonFile) {
  const SafetensorsContents c =
      load_safetensors_with_metadata(std::string(TOADSTOOL_GOLDEN_DIR) + "/all_dtypes.safetensors");
  expect_same(c.tensors, expected_tensors());
  const SafetensorsMetadata want = {{"format", "pt"}, {"producer", "make_golden_safetensors.py"}};
  EXPECT_EQ(c.metadata, want);
}

TEST(Safetensors, SaveIsAtomic) {
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  TensorDict first;
  first.insert("a", ones({3}));
  save_safetensors(path, first);
  const std::string before = read_all(path);
  // A failing save (an undefined tensor) leaves the old file and no temporary.
  TensorDict bad;
  bad.insert("a", ones({2}));
  bad.insert("b", Tensor());
  EXPECT_THROW(save_safetensors(path, bad), Error);
  EXPECT_EQ(read_all(path), before);
  TensorDict reserved;
  reserved.insert("__metadata__", ones({1}));
  EXPECT_THROW(save_safetensors(path, reserved), Error);
  EXPECT_EQ(read_all(path), before);
  // A writer that fails half-way (destroyed before commit) likewise.
  try {
    AtomicFileWriter writer(path);
    writer.write("partial");
    throw Error("simulated failure while writing");
  } catch (const Error&) {
  }
  EXPECT_EQ(read_all(path), before);
  EXPECT_EQ(dir.files(), std::vector<std::string>{"w.safetensors"});
  // A folder that does not exist: an Error naming the path.
  try {
    save_safetensors(dir.file("missing/x.safetensors"), first);
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing/x.safetensors"), std::string::npos);
  }
  // A successful save replaces the file.
  TensorDict second;
  second.insert("b", zeros({2}, kInt64));
  save_safetensors(path, second);
  expect_same(load_safetensors(path), second);
  EXPECT_EQ(dir.files(), std::vector<std::string>{"w.safetensors"});
}

// Names and metadata are JSON strings, which must be UTF-8: a name that is
// not is an Error naming it, and the old file stays (issue 18, D2: it threw
// nlohmann's type_error 316).
TEST(Safetensors, StringsThatAreNotUtf8AreErrors) {
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  TensorDict good;
  good.insert("a", ones({2}));
  save_safetensors(path, good);
  const std::string before = read_all(path);
  const std::string bad = "caf\xe9";  // Latin-1, not UTF-8
  TensorDict bad_name;
  bad_name.insert(bad, ones({2}));
  EXPECT_ERROR(save_safetensors(path, bad_name),
               (std::vector<std::string>{"save_safetensors", "tensor name", "not valid UTF-8"}));
  EXPECT_ERROR(save_safetensors(path, good, {{bad, "x"}}), "metadata key");
  EXPECT_ERROR(save_safetensors(path, good, {{"k", bad}}), "metadata value");
  EXPECT_EQ(read_all(path), before);
  EXPECT_EQ(dir.files(), std::vector<std::string>{"w.safetensors"});
  // Valid UTF-8 beyond ASCII round-trips.
  TensorDict accented;
  accented.insert("caf\xc3\xa9", ones({2}));
  save_safetensors(path, accented, {{"\xe2\x9c\x93", "\xc3\xa9t\xc3\xa9"}});
  expect_same(load_safetensors(path), accented);
}

// ---- hostile files -------------------------------------------------------------------

// 8-byte little-endian length + header + data; `length` overrides the length.
std::string file_bytes(const std::string& header, const std::string& data, int64_t length = -1) {
  const uint64_t n = length < 0 ? header.size() : static_cast<uint64_t>(length);
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

struct Hostile {
  std::string name, bytes;
  std::vector<std::string> fragments;  // each must appear in the Error
};

TEST(Safetensors, HostileFilesAreErrors) {
  const std::string f32 = R"("x": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]})";
  const std::string data24(24, '\0');
  std::string deep = R"({"x": )";
  for (int i = 0; i < 100000; ++i) deep += "[";
  std::vector<Hostile> cases = {
      {"short", std::string("\x05\x00\x00", 3), {"shorter than the 8-byte"}},
      {"huge_header", file_bytes("{}", "", int64_t{1} << 40), {"limit"}},
      {"header_past_end", file_bytes("{}", "", 1000), {"runs past the end"}},
      {"not_json", file_bytes("{\"x\": nope}", ""), {"not valid JSON"}},
      {"not_object", file_bytes("[1, 2]", ""), {"must be a JSON object"}},
      {"deeply_nested", file_bytes(deep, ""), {"nested"}},
      {"entry_not_object", file_bytes(R"({"x": 3})", ""), {"entry 'x'", "expected an object"}},
      {"missing_dtype",
       file_bytes(R"({"x": {"shape": [1], "data_offsets": [0, 4]}})", "abcd"),
       {"entry 'x'", "missing field 'dtype'"}},
      {"missing_offsets",
       file_bytes(R"({"x": {"dtype": "F32", "shape": [1]}})", "abcd"),
       {"entry 'x'", "data_offsets"}},
      {"unknown_dtype",
       file_bytes(R"({"x": {"dtype": "I32", "shape": [1], "data_offsets": [0, 4]}})", "abcd"),
       {"entry 'x'", "unsupported dtype \"I32\""}},
      {"negative_dim",
       file_bytes(R"({"x": {"dtype": "F32", "shape": [-1, 2], "data_offsets": [0, 8]}})",
                  std::string(8, '\0')),
       {"entry 'x'", "non-negative", "-1"}},
      {"fractional_dim",
       file_bytes(R"({"x": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})", "abcd"),
       {"entry 'x'", "non-negative integers"}},
      {"size_mismatch",
       file_bytes(R"({"x": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}})",
                  std::string(20, '\0')),
       {"entry 'x'", "needs 24 bytes", "give 20"}},
      {"shape_overflow",
       file_bytes(
           R"({"x": {"dtype": "F64", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 8]}})",
           std::string(8, '\0')),
       {"entry 'x'", "more than 2^63"}},
      // No element, but the dim-0 stride is 2^64 (issue 18, D4).
      {"stride_overflow",
       file_bytes(
           R"({"x": {"dtype": "F32", "shape": [0, 4294967296, 4294967296], "data_offsets": [0, 0]}})",
           ""),
       {"entry 'x'", "strides", "[0, 4294967296, 4294967296]"}},
      {"offsets_out_of_range",
       file_bytes(R"({"x": {"dtype": "F32", "shape": [100], "data_offsets": [0, 400]}})", data24),
       {"entry 'x'", "out of range", "24-byte data section"}},
      {"offsets_reversed",
       file_bytes(R"({"x": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}})", data24),
       {"entry 'x'", "out of range"}},
      {"overlap",
       file_bytes(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                  R"( "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                  std::string(12, '\0')),
       {"entry 'b'", "overlaps"}},
      {"hole",
       file_bytes(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                  R"( "b": {"dtype": "F32", "shape": [2], "data_offsets": [12, 20]}})",
                  std::string(20, '\0')),
       {"entry 'b'", "hole"}},
      {"duplicate", file_bytes("{" + f32 + ", " + f32 + "}", data24), {"duplicate name 'x'"}},
      {"trailing_garbage",
       file_bytes("{" + f32 + "}", data24 + "junk"),
       {"4 bytes after the last tensor", "trailing garbage"}},
      {"bad_bool",
       file_bytes(R"({"m": {"dtype": "BOOL", "shape": [3], "data_offsets": [0, 3]}})",
                  std::string("\x01\x07\x00", 3)),
       {"entry 'm'", "BOOL byte 7"}},
      {"metadata_not_string",
       file_bytes(R"({"__metadata__": {"epoch": 3}})", ""),
       {"__metadata__", "epoch"}},
  };
  TempDir dir;
  for (const Hostile& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = dir.file(c.name + ".safetensors");
    write_all(path, c.bytes);
    try {
      load_safetensors(path);
      ADD_FAILURE() << "expected an Error";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(path), std::string::npos) << message;
      for (const std::string& f : c.fragments) {
        EXPECT_NE(message.find(f), std::string::npos) << "'" << f << "' not in: " << message;
      }
    }
  }
  EXPECT_THROW(load_safetensors(dir.file("does_not_exist.safetensors")), Error);
}

}  // namespace
}  // namespace toadstool
