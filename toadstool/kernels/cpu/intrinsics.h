#pragma once
// <immintrin.h> for the CPU kernels whose intrinsics trip GCC 12's false
// -Wuninitialized: its _mm512_undefined_epi32 (the pass-through operand of
// _mm512_mul_epu32, _mm512_unpacklo_epi32, ...) initialises a variable with
// itself, reported once per use (GCC bug 105593, fixed in 12.3). Silenced
// for the header only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
