#pragma once
// The LSTM step on the CPU (kernels/lstm_cell.h has the math): rows of the
// batch split across the team when the step is big enough to repay it.
#include <algorithm>
#include <cstdint>

#include "toadstool/kernels/cpu/parallel.h"
#include "toadstool/kernels/lstm_cell.h"

namespace toadstool::kernels::cpu {

template <class T>
void lstm_cell_forward(const LstmCellForward& a) {
  const int64_t grain = std::max<int64_t>(1, kDefaultGrain / std::max<int64_t>(4 * a.hidden, 1));
  parallel_for(0, a.batch, grain, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      for (int64_t j = 0; j < a.hidden; ++j) lstm_cell_forward_element<T>(a, b, j);
    }
  });
}

template <class T>
void lstm_cell_backward(const LstmCellBackward& a) {
  const int64_t grain = std::max<int64_t>(1, kDefaultGrain / std::max<int64_t>(4 * a.hidden, 1));
  parallel_for(0, a.batch, grain, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      for (int64_t j = 0; j < a.hidden; ++j) lstm_cell_backward_element<T>(a, b, j);
    }
  });
}

}  // namespace toadstool::kernels::cpu
