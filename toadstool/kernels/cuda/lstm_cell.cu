// The LSTM step on CUDA (kernels/lstm_cell.h has the math the CPU shares):
// one thread per state unit (b, j), a grid-stride loop over B x H.
#include "toadstool/kernels/cuda/common.cuh"
#include "toadstool/kernels/cuda/registry.h"
#include "toadstool/kernels/lstm_cell.h"

namespace toadstool::kernels::cuda {

namespace {

template <class T>
__global__ void lstm_cell_forward_kernel(LstmCellForward a, int64_t total) {
  for (int64_t e = first_index(); e < total; e += index_step()) {
    lstm_cell_forward_element<T>(a, e / a.hidden, e % a.hidden);
  }
}

template <class T>
__global__ void lstm_cell_backward_kernel(LstmCellBackward a, int64_t total) {
  for (int64_t e = first_index(); e < total; e += index_step()) {
    lstm_cell_backward_element<T>(a, e / a.hidden, e % a.hidden);
  }
}

void lstm_cell_forward(DType dtype, const LstmCellForward& a) {
  const int64_t total = a.batch * a.hidden;
  if (total <= 0) return;
  for_dtype<TypeSet::Float>(dtype, "lstm_cell_forward", [&](auto zero) {
    launch_kernel("lstm_cell_forward", lstm_cell_forward_kernel<decltype(zero)>, blocks_for(total),
                  kThreads, 0, a, total);
  });
}

void lstm_cell_backward(DType dtype, const LstmCellBackward& a) {
  const int64_t total = a.batch * a.hidden;
  if (total <= 0) return;
  for_dtype<TypeSet::Float>(dtype, "lstm_cell_backward", [&](auto zero) {
    launch_kernel("lstm_cell_backward", lstm_cell_backward_kernel<decltype(zero)>,
                  blocks_for(total), kThreads, 0, a, total);
  });
}

}  // namespace

void register_lstm_cell(Backend& b) {
  b.lstm_cell_forward = lstm_cell_forward;
  b.lstm_cell_backward = lstm_cell_backward;
}

}  // namespace toadstool::kernels::cuda
