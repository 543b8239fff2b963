#pragma once
// The compiler's <immintrin.h>, with the AMX tile intrinsics replaced by the
// software model (../amx_tile_model.h): on the include path before the
// system headers, for the sources of the emulated AMX kernel only
// (tests/CMakeLists.txt). Every other intrinsic is the compiler's own, so the
// kernel's AVX-512 epilogue runs on this CPU's instructions.
#include_next <immintrin.h>

#include "../amx_tile_model.h"

// GCC defines the tile loads, stores, zeroing and products as macros (the
// tile number is an immediate), LDTILECFG and TILERELEASE as functions: a
// function-like macro of the same name takes over either.
#undef _tile_loadd
#undef _tile_stored
#undef _tile_zero
#undef _tile_dpbf16ps
#define _tile_loadconfig(config) ::toadstool::amx_model::load_config(config)
#define _tile_release() ::toadstool::amx_model::release()
#define _tile_zero(tile) ::toadstool::amx_model::zero(tile)
#define _tile_loadd(tile, base, stride) ::toadstool::amx_model::load(tile, base, stride)
#define _tile_stored(tile, base, stride) ::toadstool::amx_model::store(tile, base, stride)
#define _tile_dpbf16ps(dst, src1, src2) ::toadstool::amx_model::dpbf16ps(dst, src1, src2)
