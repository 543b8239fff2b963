#pragma once
// What data parallel does to a model's tensors before training: check that
// every rank holds the same parameters and buffers (names, shapes, dtypes),
// and copy rank 0's values to every rank. Both are collectives: every rank
// calls them, in the same order (DistributedDataParallel and
// ZeroRedundancyOptimizer do at construction).
#include <string>
#include <utility>
#include <vector>

#include "toadstool/distributed/process_group.h"
#include "toadstool/tensor/tensor.h"

namespace toadstool::distributed {

using NamedTensorList = std::vector<std::pair<std::string, Tensor>>;

// Throws the same toadstool::Error on every rank when some rank's list
// differs from rank 0's: the message names `who` and `kind` ("parameter",
// "buffer"), the first differing entry (number, name, shape, dtype, and for
// parameters whether it is frozen: requires_grad off) on rank 0
// and on the lowest differing rank, or the two counts. Two all_gathers (the
// descriptions' lengths, then the descriptions); returns when they match.
void check_same_tensors(ProcessGroup& pg, const NamedTensorList& tensors, const std::string& who,
                        const std::string& kind);

// Every tensor <- rank 0's values (one broadcast each, issued together, then
// waited). Written in place, outside autograd (a parameter stays the same
// leaf); a non-contiguous tensor goes through a contiguous copy.
void broadcast_from_rank0(ProcessGroup& pg, const std::vector<Tensor>& tensors);

}  // namespace toadstool::distributed
