#pragma once
// all_gather_rows: every rank's tensor concatenated along dim 0, when the
// ranks hold different numbers of rows (a pass's predictions, for metrics
// over the whole validation set). A collective: every rank calls it.
#include "toadstool/distributed/process_group.h"
#include "toadstool/tensor/tensor.h"

namespace toadstool::distributed {

// local [n_r, d1, ...] on rank r -> [sum of n_r, d1, ...] on every rank,
// rank 0's rows first. The trailing shape and the dtype must agree across
// ranks (an Error naming both ranks' otherwise, on every rank); n_r may be
// 0. Two all_gathers: the shapes, then the rows padded to the longest. The
// rows travel on the group's device (local is copied there if it lives
// elsewhere), where the result is.
Tensor all_gather_rows(ProcessGroup& group, const Tensor& local);

}  // namespace toadstool::distributed
