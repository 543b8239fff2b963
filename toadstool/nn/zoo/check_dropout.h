#pragma once
// The zoo's blocks take a dropout probability in [0, 1): the check and its
// message, shared.
#include "toadstool/tensor/error.h"

namespace toadstool::nn {

// `name`: the module, for the message.
inline void check_dropout(const char* name, double dropout) {
  TS_CHECK(dropout >= 0.0 && dropout < 1.0, name, ": dropout must be in [0, 1), got ", dropout);
}

}  // namespace toadstool::nn
