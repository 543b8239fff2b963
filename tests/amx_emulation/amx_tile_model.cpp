#include "amx_tile_model.h"

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace toadstool::amx_model {

namespace {

// Palette 1: 8 tiles of at most 16 rows x 64 bytes.
constexpr int kTiles = 8;
constexpr int kMaxRows = 16;
constexpr int kMaxBytes = 64;

struct Tile {
  int rows = 0;
  int colsb = 0;
  alignas(64) unsigned char data[kMaxRows][kMaxBytes] = {};
};

struct TileState {
  bool configured = false;
  Tile tiles[kTiles];
};

thread_local TileState t_state;
std::atomic<int64_t> g_dpbf16ps{0};

[[noreturn]] void fault(const char* instruction, int tile, const char* what) {
  std::fprintf(stderr, "AMX model: %s (tile %d): %s\n", instruction, tile, what);
  std::abort();
}

// A configured tile of this thread, or a fault naming the instruction.
Tile& tile_of(const char* instruction, int tile) {
  if (!t_state.configured) fault(instruction, tile, "no tile configuration on this thread");
  if (tile < 0 || tile >= kTiles) fault(instruction, tile, "no such tile in palette 1");
  Tile& t = t_state.tiles[tile];
  if (t.rows == 0) fault(instruction, tile, "tile not configured (0 rows)");
  return t;
}

float bits_to_float(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// A bfloat16 as float32, denormals read as zero (DAZ).
float bf16_daz(uint16_t bits) {
  if ((bits & 0x7f80u) == 0) bits &= 0x8000u;
  return bits_to_float(uint32_t{bits} << 16);
}

// A float32 result, denormals flushed to zero (FTZ).
float ftz(float x) { return std::fpclassify(x) == FP_SUBNORMAL ? std::copysign(0.0f, x) : x; }

// One pair k of a row of A (a0, a1) times pair row k of B (brow: words of
// two bfloat16 per column) into the row's sums acc [cols]. The model's hot
// loop, cloned for FMA where the CPU has it (GCC's target_clones): std::fma
// is then one instruction, not a call into libm (half the tests' time under
// ASan before); the default clone keeps the model running on any x86-64.
__attribute__((target_clones("fma", "default"))) void add_pair_products(float* acc, float a0,
                                                                        float a1,
                                                                        const uint16_t* brow,
                                                                        int cols) {
  for (int n = 0; n < cols; ++n) {
    acc[n] = ftz(std::fma(a0, bf16_daz(brow[2 * n]), acc[n]));
    acc[n] = ftz(std::fma(a1, bf16_daz(brow[2 * n + 1]), acc[n]));
  }
}

}  // namespace

void load_config(const void* config) {
  TileConfig c;
  std::memcpy(&c, config, sizeof c);
  if (c.palette_id == 0) {
    release();
    return;
  }
  if (c.palette_id != 1) fault("LDTILECFG", -1, "palette other than 0 or 1");
  for (uint8_t byte : c.reserved) {
    if (byte != 0) fault("LDTILECFG", -1, "reserved bytes not zero");
  }
  TileState state;
  for (int t = 0; t < 16; ++t) {
    const int rows = c.rows[t], colsb = c.colsb[t];
    if ((rows == 0) != (colsb == 0)) fault("LDTILECFG", t, "rows or bytes per row zero, not both");
    if (t >= kTiles) {
      if (rows != 0) fault("LDTILECFG", t, "palette 1 has 8 tiles");
      continue;
    }
    if (rows > kMaxRows || colsb > kMaxBytes) fault("LDTILECFG", t, "over 16 rows or 64 bytes");
    state.tiles[t].rows = rows;
    state.tiles[t].colsb = colsb;
  }
  state.configured = true;
  t_state = state;
}

void release() { t_state = TileState{}; }

void zero(int tile) { std::memset(tile_of("TILEZERO", tile).data, 0, sizeof(Tile::data)); }

void load(int tile, const void* base, int64_t stride) {
  Tile& t = tile_of("TILELOADD", tile);
  std::memset(t.data, 0, sizeof t.data);  // rows and bytes past the configuration read as zero
  const auto* src = static_cast<const unsigned char*>(base);
  for (int r = 0; r < t.rows; ++r) std::memcpy(t.data[r], src + r * stride, t.colsb);
}

void store(int tile, void* base, int64_t stride) {
  const Tile& t = tile_of("TILESTORED", tile);
  auto* dst = static_cast<unsigned char*>(base);
  for (int r = 0; r < t.rows; ++r) std::memcpy(dst + r * stride, t.data[r], t.colsb);
}

void dpbf16ps(int dst, int src1, int src2) {
  Tile& c = tile_of("TDPBF16PS", dst);
  const Tile& a = tile_of("TDPBF16PS", src1);
  const Tile& b = tile_of("TDPBF16PS", src2);
  if (dst == src1 || dst == src2 || src1 == src2) fault("TDPBF16PS", dst, "tiles not distinct");
  if (c.colsb % 4 != 0 || a.colsb % 4 != 0 || b.colsb % 4 != 0) {
    fault("TDPBF16PS", dst, "bytes per row not whole float32 / bfloat16 pairs");
  }
  if (c.rows != a.rows) fault("TDPBF16PS", dst, "dst rows != src1 rows");
  if (a.colsb / 4 != b.rows) fault("TDPBF16PS", dst, "src1 pairs per row != src2 rows");
  if (c.colsb != b.colsb) fault("TDPBF16PS", dst, "dst bytes per row != src2 bytes per row");
  const int pairs = a.colsb / 4, cols = c.colsb / 4;
  for (int m = 0; m < c.rows; ++m) {
    float acc[kMaxBytes / 4];
    std::memcpy(acc, c.data[m], sizeof acc);
    uint16_t arow[kMaxBytes / 2];
    std::memcpy(arow, a.data[m], sizeof arow);
    for (int k = 0; k < pairs; ++k) {
      uint16_t brow[kMaxBytes / 2];
      std::memcpy(brow, b.data[k], sizeof brow);
      add_pair_products(acc, bf16_daz(arow[2 * k]), bf16_daz(arow[2 * k + 1]), brow, cols);
    }
    std::memset(c.data[m], 0, kMaxBytes);
    std::memcpy(c.data[m], acc, c.colsb);
  }
  g_dpbf16ps.fetch_add(1, std::memory_order_relaxed);
}

int64_t dpbf16ps_count() { return g_dpbf16ps.load(std::memory_order_relaxed); }

}  // namespace toadstool::amx_model
