#include "toadstool/tensor/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "toadstool/tensor/atomic_file.h"
#include "toadstool/tensor/error.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/native_ops.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool {

namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; a big-endian host would need byte swaps");

using Json = nlohmann::ordered_json;

// A header above this is refused unread (real headers are kilobytes; the
// format's own reference implementation caps it at 100 MB too).
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;
// Valid headers nest 3 deep (root, entry, shape); deeper JSON is refused
// while parsing, before it can cost stack or memory.
constexpr int kMaxJsonDepth = 8;

constexpr const char* kMetadataKey = "__metadata__";

const char* dtype_code(DType dt) {
  switch (dt) {
    case DType::Float32: return "F32";
    case DType::Float64: return "F64";
    case DType::Int64: return "I64";
    case DType::Bool: return "BOOL";
    case DType::BFloat16: return "BF16";
    case DType::Float16: return "F16";
  }
  return "?";
}

bool dtype_from_code(const std::string& code, DType& dt) {
  for (DType d : {DType::Float32, DType::Float64, DType::Int64, DType::Bool, DType::BFloat16,
                  DType::Float16}) {
    if (code == dtype_code(d)) {
      dt = d;
      return true;
    }
  }
  return false;
}

// ---- reading --------------------------------------------------------------------------

class ReadOnlyFile {
 public:
  explicit ReadOnlyFile(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    TS_CHECK(fd_ >= 0, "load_safetensors: cannot open '", path, "': ", std::strerror(errno));
    struct stat st {};
    TS_CHECK(::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode), "load_safetensors: '", path,
             "' is not a regular file");
    size_ = static_cast<uint64_t>(st.st_size);
  }
  ~ReadOnlyFile() { ::close(fd_); }
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;

  uint64_t size() const { return size_; }

  // Reads exactly `n` bytes at `offset` (the caller has checked the range).
  void read(void* out, uint64_t n, uint64_t offset) const {
    char* p = static_cast<char*>(out);
    while (n > 0) {
      const ssize_t got = ::pread(fd_, p, n, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      TS_CHECK(got > 0, "load_safetensors: '", path_, "': read failed at byte ", offset,
               (got == 0 ? ": unexpected end of file" : std::string(": ") + std::strerror(errno)));
      p += got;
      n -= static_cast<uint64_t>(got);
      offset += static_cast<uint64_t>(got);
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Thrown from the parser callback to stop a hostile header early.
struct HeaderRejected {
  std::string why;
};

// Parses the header, refusing deep nesting and duplicate top-level names
// (JSON allows them; nlohmann would silently keep one).
Json parse_header(const std::string& text, const std::string& path) {
  std::set<std::string> names;
  int object_depth = 0;  // 1 while inside the root object's members
  auto callback = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (depth > kMaxJsonDepth) throw HeaderRejected{"JSON nested more than 8 levels deep"};
    if (event == Json::parse_event_t::object_start) ++object_depth;
    if (event == Json::parse_event_t::object_end) --object_depth;
    if (event == Json::parse_event_t::key && object_depth == 1) {
      const std::string name = parsed.get<std::string>();
      if (!names.insert(name).second) throw HeaderRejected{"duplicate name '" + name + "'"};
    }
    return true;
  };
  try {
    return Json::parse(text, callback);
  } catch (const HeaderRejected& e) {
    TS_CHECK(false, "load_safetensors: '", path, "': bad header: ", e.why);
  } catch (const Json::exception& e) {
    TS_CHECK(false, "load_safetensors: '", path, "': header is not valid JSON: ", e.what());
  }
  return {};
}

// A non-negative integer JSON value, or an Error.
uint64_t unsigned_value(const Json& v, const std::string& path, const std::string& name,
                        const char* field) {
  TS_CHECK(v.is_number_unsigned(), "load_safetensors: '", path, "': entry '", name, "': ", field,
           " must hold non-negative integers, got ", v.dump());
  return v.get<uint64_t>();
}

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

Entry parse_entry(const std::string& name, const Json& info, const std::string& path,
                  uint64_t data_size) {
  auto fail_unless = [&](bool ok, const std::string& what) {
    TS_CHECK(ok, "load_safetensors: '", path, "': entry '", name, "': ", what);
  };
  fail_unless(info.is_object(), "expected an object, got " + info.dump());
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    fail_unless(info.contains(field), std::string("missing field '") + field + "'");
  }
  Entry e{name, DType::Float32, {}, 0, 0};
  const Json& dtype = info["dtype"];
  fail_unless(dtype.is_string() && dtype_from_code(dtype.get<std::string>(), e.dtype),
              "unsupported dtype " + dtype.dump() + " (supported: F32, F64, I64, BOOL, BF16, F16)");
  const Json& shape = info["shape"];
  fail_unless(shape.is_array(), "shape must be an array, got " + shape.dump());
  for (const Json& d : shape) {
    const uint64_t size = unsigned_value(d, path, name, "shape");
    fail_unless(size <= static_cast<uint64_t>(INT64_MAX), "shape dim too large");
    e.shape.push_back(static_cast<int64_t>(size));
  }
  // Element count, bytes and strides, all overflow-checked.
  const size_t bytes = detail::storage_bytes(
      e.shape, e.dtype, "load_safetensors: '" + path + "': entry '" + name + "'");
  const Json& offsets = info["data_offsets"];
  fail_unless(offsets.is_array() && offsets.size() == 2,
              "data_offsets must be [begin, end], got " + offsets.dump());
  e.begin = unsigned_value(offsets[0], path, name, "data_offsets");
  e.end = unsigned_value(offsets[1], path, name, "data_offsets");
  fail_unless(e.begin <= e.end && e.end <= data_size,
              "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                  "] out of range of the " + std::to_string(data_size) + "-byte data section");
  fail_unless(bytes == e.end - e.begin, "shape " + shape.dump() + " of " +
                                            dtype.get<std::string>() + " needs " +
                                            std::to_string(bytes) + " bytes, data_offsets give " +
                                            std::to_string(e.end - e.begin));
  return e;
}

}  // namespace

SafetensorsContents load_safetensors_with_metadata(const std::string& path) {
  const ReadOnlyFile file(path);
  TS_CHECK(file.size() >= 8, "load_safetensors: '", path, "' is ", file.size(),
           " bytes long, shorter than the 8-byte header length");
  unsigned char prefix[8];
  file.read(prefix, 8, 0);
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | prefix[i];
  TS_CHECK(header_size <= kMaxHeaderBytes, "load_safetensors: '", path, "': header length ",
           header_size, " is above the ", kMaxHeaderBytes, "-byte limit");
  TS_CHECK(header_size <= file.size() - 8, "load_safetensors: '", path, "': header length ",
           header_size, " runs past the end of the ", file.size(), "-byte file");
  std::string text(header_size, '\0');
  file.read(text.data(), header_size, 8);
  const Json header = parse_header(text, path);
  TS_CHECK(header.is_object(), "load_safetensors: '", path, "': header must be a JSON object, got ",
           header.type_name());

  const uint64_t data_start = 8 + header_size;
  const uint64_t data_size = file.size() - data_start;
  SafetensorsContents contents;
  std::vector<Entry> entries;
  for (const auto& [name, info] : header.items()) {
    if (name == kMetadataKey) {
      TS_CHECK(info.is_object(), "load_safetensors: '", path,
               "': __metadata__ must be an object of strings, got ", info.dump());
      for (const auto& [key, value] : info.items()) {
        TS_CHECK(value.is_string(), "load_safetensors: '", path, "': __metadata__ '", key,
                 "' must be a string, got ", value.dump());
        contents.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(name, info, path, data_size));
  }
  // The data section is the entries' bytes back to back: no holes, no
  // overlaps, nothing after the last one.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expected = 0;
  for (const Entry& e : entries) {
    TS_CHECK(e.begin == expected, "load_safetensors: '", path, "': entry '", e.name,
             "': data starts at byte ", e.begin, " of the data section, expected ", expected,
             e.begin < expected ? " (overlaps the previous entry)" : " (a hole before it)");
    expected = e.end;
  }
  TS_CHECK(expected == data_size, "load_safetensors: '", path, "': ", data_size - expected,
           " bytes after the last tensor's data (trailing garbage)");

  for (const Entry& e : entries) {
    Tensor t = empty(e.shape, e.dtype);
    if (e.end > e.begin) file.read(t.data_ptr(), e.end - e.begin, data_start + e.begin);
    if (e.dtype == DType::Bool) {
      // Any byte but 0 or 1 would be an invalid C++ bool.
      const unsigned char* bytes = static_cast<const unsigned char*>(t.data_ptr());
      const auto bad =
          std::find_if(bytes, bytes + t.numel(), [](unsigned char b) { return b > 1; });
      TS_CHECK(bad == bytes + t.numel(), "load_safetensors: '", path, "': entry '", e.name,
               "': BOOL byte ", static_cast<int>(*bad), " is not 0 or 1");
    }
    contents.tensors.insert(e.name, std::move(t));
  }
  return contents;
}

TensorDict load_safetensors(const std::string& path) {
  return load_safetensors_with_metadata(path).tensors;
}

namespace {

// The header is JSON, whose strings are UTF-8; checked before anything is
// written (nlohmann's dump would throw its own type_error part way).
void check_utf8(const std::string& text, const std::string& path, const char* what) {
  try {
    (void)Json(text).dump();
  } catch (const Json::type_error&) {
    const std::string shown = Json(text).dump(-1, ' ', true, Json::error_handler_t::replace);
    TS_CHECK(false, "save_safetensors: '", path, "': ", what, " ", shown,
             " is not valid UTF-8 (safetensors headers are JSON)");
  }
}

}  // namespace

void save_safetensors(const std::string& path, const TensorDict& tensors,
                      const SafetensorsMetadata& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [key, value] : metadata) {
      check_utf8(key, path, "metadata key");
      check_utf8(value, path, "metadata value");
      meta[key] = value;
    }
    header[kMetadataKey] = std::move(meta);
  }
  std::vector<Tensor> data;  // contiguous, in order
  data.reserve(tensors.size());
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    TS_CHECK(name != kMetadataKey, "save_safetensors: '", path, "': the name '", kMetadataKey,
             "' is reserved for metadata");
    check_utf8(name, path, "tensor name");
    TS_CHECK(t.defined(), "save_safetensors: '", path, "': tensor '", name, "' is undefined");
    TS_CHECK(t.device().is_cpu(), "save_safetensors: '", path, "': tensor '", name, "' is on ",
             t.device(), "; move it to the CPU first");
    data.push_back(native::contiguous(t));
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    Json shape = Json::array();
    for (int64_t d : t.shape()) shape.push_back(d);
    header[name] = {{"dtype", dtype_code(t.dtype())},
                    {"shape", std::move(shape)},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  // Pad with spaces so the data starts 8-byte aligned, as the Python
  // implementation does (readers may then map the data in place).
  text.append((8 - text.size() % 8) % 8, ' ');
  unsigned char prefix[8];
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<unsigned char>(text.size() >> (8 * i));

  AtomicFileWriter writer(path, "save_safetensors");
  writer.write(prefix, 8);
  writer.write(text);
  for (const Tensor& t : data) writer.write(t.data_ptr(), t.numel() * t.element_size());
  writer.commit();
}

}  // namespace toadstool
