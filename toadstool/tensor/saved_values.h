#pragma once
// Integers read back from saved state (a state dict entry, a JSON field):
// a file is outside input, so every one is range-checked before it is
// converted or used (a restored step of INT64_MAX would overflow at the next
// ++step; a float wait of 1e300 has no integer value at all).
#include <cstdint>
#include <string_view>

#include "toadstool/tensor/checked_math.h"
#include "toadstool/tensor/tensor.h"

namespace toadstool {

// n itself when lo <= n <= hi; otherwise Error "<what> should be a whole
// number in [lo, hi], got n". The one range check behind every reader below
// and the JSON reader (train/json_file.h).
int64_t saved_integer_in(int64_t n, std::string_view what, int64_t lo, int64_t hi);

// The whole number that a one-element tensor of any real dtype holds (int64,
// or a float such as PyTorch's float32 Adam step) when it lies in [lo, hi];
// Error naming `what` for anything else: NaN, infinities, fractions, values
// out of range, a bool, more than one element.
int64_t saved_integer(const Tensor& t, std::string_view what, int64_t lo,
                      int64_t hi = kMaxSavedCount);

}  // namespace toadstool
