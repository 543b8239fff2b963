#pragma once
// The fuzz targets' verdict on one call (fuzz_targets.h's contract).
#include "toadstool/tensor/error.h"

namespace toadstool::fuzz {

// True if `call` returns, false if it throws toadstool::Error; any other
// exception escapes.
template <class Call>
bool accepts(const Call& call) {
  try {
    call();
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace toadstool::fuzz
