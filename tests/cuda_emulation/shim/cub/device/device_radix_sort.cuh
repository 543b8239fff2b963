#pragma once
// CUB's DeviceRadixSort::SortPairs for the warp emulator, as CUB documents
// it: the pairs sorted by the bits [begin_bit, end_bit) of their keys,
// stably (equal keys keep their input order), queued on the stream; a null
// temporary storage asks for its size. A model of the contract, not of
// CUB's algorithm.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

#include "../../cuda_runtime.h"

namespace cub {

struct DeviceRadixSort {
  template <class Key, class Value>
  static cudaError_t SortPairs(void* temp_storage, size_t& temp_storage_bytes, const Key* keys_in,
                               Key* keys_out, const Value* values_in, Value* values_out,
                               int num_items, int begin_bit, int end_bit,
                               cudaStream_t stream = nullptr) {
    if (temp_storage == nullptr) {
      temp_storage_bytes = 16;  // any size: the caller must allocate and pass it
      return cudaSuccess;
    }
    // The queued sort writes its temporary storage (as CUB's does), so that
    // storage freed or reused before the sort runs shows.
    emu::Device::get().submit(
        stream, emu::work([=, bytes = temp_storage_bytes] {
          std::memset(temp_storage, 0xff, bytes);
          const auto n = static_cast<size_t>(num_items);
          const uint64_t width = static_cast<uint64_t>(end_bit - begin_bit);
          const uint64_t mask = width >= 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1;
          const auto bits = [&](size_t i) {
            return (static_cast<uint64_t>(keys_in[i]) >> begin_bit) & mask;
          };
          std::vector<size_t> order(n);
          std::iota(order.begin(), order.end(), size_t{0});
          std::stable_sort(order.begin(), order.end(),
                           [&](size_t a, size_t b) { return bits(a) < bits(b); });
          std::vector<Key> keys(n);
          std::vector<Value> values(n);
          for (size_t i = 0; i < n; ++i) {
            keys[i] = keys_in[order[i]];
            values[i] = values_in[order[i]];
          }
          std::copy(keys.begin(), keys.end(), keys_out);
          std::copy(values.begin(), values.end(), values_out);
        }));
    return cudaSuccess;
  }
};

}  // namespace cub
