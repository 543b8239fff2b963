#pragma once
// Per-row and per-element math of the fused attention op, shared by the CPU
// kernel (kernels/cpu/attention.cpp) and a future CUDA one.
//
// Online softmax (Milakov & Gimelshein 2018; FlashAttention, Dao et al.
// 2022): a row of scores arrives one key tile at a time; the row keeps its
// running max m and running sum l = sum exp(s - m), and when a tile raises
// the max to m', everything accumulated so far (l and the output row) is
// rescaled by exp(m - m'). At the end out /= l and lse = m + log l.
#include <cmath>
#include <cstdint>
#include <limits>

#include "toadstool/kernels/host_device.h"
#include "toadstool/kernels/philox.h"

namespace toadstool::kernels {

// The factor that moves sums taken against max `m_old` to max `m_new`
// (m_new >= m_old). A row that has seen only masked keys has m_old = -inf
// and nothing accumulated: factor 0 (exp(-inf - finite)), never NaN, since
// the caller does not call this while m_new is still -inf.
template <class T>
TS_HOST_DEVICE T online_softmax_rescale(T m_old, T m_new) {
  return m_old == -std::numeric_limits<T>::infinity() ? T(0) : std::exp(m_old - m_new);
}

// The saved log-sum-exp of a finished row. A row whose every key was masked
// (l == 0) gets +inf, so that the backward's exp(s - lse) is 0 for all of
// its keys and its gradients are 0, like its output.
template <class T>
TS_HOST_DEVICE T attention_lse(T m, T l) {
  return l > T(0) ? m + std::log(l) : std::numeric_limits<T>::infinity();
}

// Dropout of the probability at flat index `index` of the [..., L, S]
// probabilities: kept when that element's dropout draw (RandomKind::
// DropoutKeep: draw index % 8 of block offset + index / 8) is below
// `threshold`, dropout_threshold(1 - p). So the mask is the one dropout()
// draws over the [..., L, S] probabilities from the same generator state,
// and the backward can regenerate it from (seed, offset) without storing it.
TS_HOST_DEVICE bool attention_keep(const Philox4x32& block, uint64_t index, uint32_t threshold) {
  return dropout_draw(block, static_cast<int>(index % 8)) < threshold;
}
TS_HOST_DEVICE Philox4x32 attention_dropout_block(uint64_t index, uint64_t seed, uint64_t offset) {
  return philox4x32_10(offset + index / 8, 0, seed);
}

}  // namespace toadstool::kernels
