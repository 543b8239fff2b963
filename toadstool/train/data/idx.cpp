// read_idx: the header is checked before any data is read, and the data is
// read in chunks into a buffer that grows only as bytes arrive, so a header
// that claims more than the file holds costs an Error, not a huge allocation.
#include "toadstool/train/data/idx.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <iomanip>
#include <sstream>
#include <type_traits>
#include <vector>

#include "toadstool/kernels/math.h"
#include "toadstool/tensor/error.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool::train {

namespace {

// Reads with zlib, which passes plain files through unchanged (its
// "transparent" mode), so one path handles .gz and uncompressed files.
class InputFile {
 public:
  explicit InputFile(const std::string& path) : path_(path) {
    struct stat st {};
    TS_CHECK(::stat(path.c_str(), &st) == 0, "read_idx: cannot open '", path,
             "': ", std::strerror(errno));
    TS_CHECK(S_ISREG(st.st_mode), "read_idx: '", path, "' is not a regular file");
    errno = 0;
    file_ = gzopen(path.c_str(), "rb");
    TS_CHECK(file_ != nullptr, "read_idx: cannot open '", path,
             "': ", errno != 0 ? std::strerror(errno) : "out of memory");
  }
  ~InputFile() { gzclose(file_); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // Reads up to n bytes and returns how many came: fewer only at the end of
  // the data. Corrupt gzip data (a bad CRC, an invalid block) is an Error.
  size_t read(void* out, size_t n) {
    size_t done = 0;
    while (done < n) {
      // gzread takes an unsigned count and returns an int.
      const auto chunk = static_cast<unsigned>(std::min<size_t>(n - done, size_t{1} << 30));
      const int got = gzread(file_, static_cast<char*>(out) + done, chunk);
      if (got < 0) {
        int code = Z_OK;
        const char* message = gzerror(file_, &code);
        TS_CHECK(false, "read_idx: '", path_, "' is corrupt (gzip: ", message, ")");
      }
      if (got == 0) break;
      done += static_cast<size_t>(got);
    }
    return done;
  }

  // After the last read: a gzip stream that stopped before its end (no CRC
  // trailer) is a truncated file even when all the data came through.
  void check_complete() {
    int code = Z_OK;
    const char* message = gzerror(file_, &code);
    TS_CHECK(code == Z_OK, "read_idx: '", path_, "' is truncated or corrupt (gzip: ", message, ")");
  }

 private:
  std::string path_;
  gzFile file_ = nullptr;
};

std::string hex(uint32_t value) {
  std::ostringstream out;
  out << "0x" << std::hex << std::setw(8) << std::setfill('0') << value;
  return out.str();
}

uint32_t big_endian_u32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

struct ElementType {
  uint8_t code;
  const char* name;
  size_t size;
  bool floating;
};

constexpr ElementType kTypes[] = {{0x08, "ubyte", 1, false}, {0x09, "sbyte", 1, false},
                                  {0x0B, "short", 2, false}, {0x0C, "int", 4, false},
                                  {0x0D, "float", 4, true},  {0x0E, "double", 8, true}};

// Element i of big-endian data of IDX type `code`, as S.
template <uint8_t kCode>
auto load(const uint8_t* data, int64_t i) {
  if constexpr (kCode == 0x08) {
    return data[i];
  } else if constexpr (kCode == 0x09) {
    return static_cast<int8_t>(data[i]);
  } else if constexpr (kCode == 0x0B) {
    const uint8_t* p = data + 2 * i;
    return static_cast<int16_t>((p[0] << 8) | p[1]);
  } else if constexpr (kCode == 0x0C) {
    return static_cast<int32_t>(big_endian_u32(data + 4 * i));
  } else if constexpr (kCode == 0x0D) {
    return std::bit_cast<float>(big_endian_u32(data + 4 * i));
  } else {
    const uint8_t* p = data + 8 * i;
    const uint64_t bits = (uint64_t{big_endian_u32(p)} << 32) | big_endian_u32(p + 4);
    return std::bit_cast<double>(bits);
  }
}

template <uint8_t kCode, class T>
void convert(const uint8_t* data, int64_t n, T* out) {
  for (int64_t i = 0; i < n; ++i) {
    const auto v = load<kCode>(data, i);
    if constexpr (kernels::is_16bit_float_v<T>) {
      out[i] = T(static_cast<float>(v));
    } else {
      // NOLINTNEXTLINE(bugprone-signed-char-misuse): sbyte data is signed by definition
      out[i] = static_cast<T>(v);
    }
  }
}

template <class T>
void convert(uint8_t code, const uint8_t* data, int64_t n, T* out) {
  switch (code) {
    case 0x08: return convert<0x08>(data, n, out);
    case 0x09: return convert<0x09>(data, n, out);
    case 0x0B: return convert<0x0B>(data, n, out);
    case 0x0C: return convert<0x0C>(data, n, out);
    case 0x0D: return convert<0x0D>(data, n, out);
    default: return convert<0x0E>(data, n, out);
  }
}

}  // namespace

Tensor read_idx(const std::string& path, DType dtype) {
  TS_CHECK(dtype != kBool, "read_idx: cannot read '", path, "' as bool");
  InputFile file(path);

  uint8_t magic[4];
  const size_t got_magic = file.read(magic, 4);
  TS_CHECK(got_magic == 4, "read_idx: '", path, "' is truncated: ", got_magic,
           " bytes, shorter than the 4-byte magic number");
  const uint32_t magic_value = big_endian_u32(magic);
  TS_CHECK(magic[0] == 0 && magic[1] == 0, "read_idx: '", path,
           "' is not an IDX file: its magic number is ", hex(magic_value),
           ", expected 0x0000TTDD (TT the element type, DD the number of dims)");
  const ElementType* type = nullptr;
  for (const ElementType& t : kTypes) {
    if (t.code == magic[2]) type = &t;
  }
  TS_CHECK(type != nullptr, "read_idx: '", path, "' has magic number ", hex(magic_value),
           " with an unknown element type 0x", hex(magic[2]).substr(8),
           " (expected 08, 09, 0B, 0C, 0D or 0E)");
  TS_CHECK(!type->floating || is_floating(dtype), "read_idx: '", path, "' holds ", type->name,
           " values, which cannot be read as ", dtype_name(dtype));
  const int ndims = magic[3];
  TS_CHECK(ndims >= 1, "read_idx: '", path, "' has magic number ", hex(magic_value),
           " with 0 dimensions");

  std::vector<uint8_t> header(static_cast<size_t>(4 * ndims));
  const size_t got_header = file.read(header.data(), header.size());
  TS_CHECK(got_header == header.size(), "read_idx: '", path, "' is truncated: its header of ",
           ndims, " sizes needs ", header.size(), " bytes after the magic number, the file has ",
           got_header);
  Shape shape(static_cast<size_t>(ndims));
  // numel * element size stays below 2^62: an int64 count, and no overflow.
  uint64_t bytes = type->size;
  for (int d = 0; d < ndims; ++d) {
    const uint32_t size = big_endian_u32(header.data() + 4 * d);
    shape[static_cast<size_t>(d)] = size;
    TS_CHECK(!__builtin_mul_overflow(bytes, uint64_t{size}, &bytes) && bytes < (uint64_t{1} << 62),
             "read_idx: '", path, "' has an impossible size in its header: dim ", d, " of ", size);
  }
  if (detail::shape_numel(shape) == 0) bytes = 0;
  // The tensor's own sizes (its dtype's bytes, its strides: a size-0 dim
  // does not stop the others from overflowing them), before any data is read.
  detail::storage_bytes(shape, dtype, "read_idx: '" + path + "'");

  // The data, in chunks that double from 1 MiB up to 64 MiB: the buffer
  // grows only as far as the file goes, so a header that claims gigabytes
  // costs a short file no more than its own size (the fuzz smoke test reads
  // thousands of such files).
  constexpr size_t kFirstChunk = size_t{1} << 20;
  constexpr size_t kChunk = size_t{64} << 20;
  std::vector<uint8_t> data;
  while (data.size() < bytes) {
    const size_t old = data.size();
    const size_t chunk = std::min({kChunk, std::max(kFirstChunk, old), bytes - old});
    data.resize(old + chunk);
    const size_t got = file.read(data.data() + old, chunk);
    TS_CHECK(got == chunk, "read_idx: '", path, "' is truncated: its header says ", shape, " ",
             type->name, ", ", bytes, " bytes of data, the file has ", old + got);
  }
  uint8_t extra = 0;
  TS_CHECK(file.read(&extra, 1) == 0, "read_idx: '", path, "' is longer than its header says (",
           shape, " ", type->name, ", ", bytes, " bytes of data): trailing bytes");
  file.check_complete();

  Tensor out = detail::make_tensor(shape, dtype);
  const int64_t n = out.numel();
  dispatch_all(dtype, "read_idx", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, bool>) {
      convert(type->code, data.data(), n, static_cast<T*>(out.data_ptr()));
    }
  });
  return out;
}

}  // namespace toadstool::train
