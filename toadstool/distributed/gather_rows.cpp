#include "toadstool/distributed/gather_rows.h"

#include <algorithm>
#include <vector>

#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/native_ops.h"

namespace toadstool::distributed {

namespace {
// Shapes travel as int64 rows of this width: dtype, rank, then the sizes
// padded with -1.
constexpr int64_t kMaxDims = 8;
}  // namespace

Tensor all_gather_rows(ProcessGroup& group, const Tensor& local) {
  TS_CHECK(local.defined() && local.dim() >= 1 && local.dim() <= kMaxDims, "all_gather_rows (rank ",
           group.rank(), " of ", group.size(), "): needs a tensor of 1 to ", kMaxDims,
           " dims, got ", local.defined() ? local.shape() : Shape{});
  const int64_t n = group.size();
  const int64_t width = kMaxDims + 2;
  Tensor mine = full({width}, int64_t{-1}, kInt64);
  int64_t* m = mine.data_ptr<int64_t>();
  m[0] = static_cast<int64_t>(local.dtype());
  m[1] = local.dim();
  for (int64_t d = 0; d < local.dim(); ++d) m[2 + d] = local.size(d);
  // The rows travel on the group's device (the result lives there too);
  // the shapes are read on the CPU.
  const Device device = group.device();
  mine = mine.to(device);
  Tensor shapes = empty({n, width}, TensorOptions(kInt64).device(device));
  group.all_gather(shapes, mine)->wait();
  shapes = shapes.to(kCPU);
  const int64_t* all = shapes.data_ptr<int64_t>();
  std::vector<int64_t> rows(n);
  for (int64_t r = 0; r < n; ++r) {
    const int64_t* s = all + r * width;
    // Every rank compares every rank with rank 0: the same Error everywhere.
    bool same = s[0] == all[0] && s[1] == all[1];
    for (int64_t d = 1; same && d < s[1]; ++d) same = s[2 + d] == all[2 + d];
    TS_CHECK(same, "all_gather_rows (rank ", group.rank(), " of ", group.size(), "): rank ", r,
             "'s tensor differs from rank 0's beyond dim 0 or in dtype; every rank must gather "
             "rows of one trailing shape and dtype");
    rows[r] = s[2];
  }
  const int64_t longest = *std::max_element(rows.begin(), rows.end());
  Shape padded_shape = local.shape();
  padded_shape[0] = longest;
  Tensor padded = zeros(padded_shape, TensorOptions(local.dtype()).device(device));
  if (local.size(0) > 0) padded.narrow(0, 0, local.size(0)).copy_(local);
  Shape gathered_shape = padded_shape;
  gathered_shape[0] = n * longest;
  Tensor gathered = empty(gathered_shape, TensorOptions(local.dtype()).device(device));
  group.all_gather(gathered, padded)->wait();
  std::vector<Tensor> parts;
  for (int64_t r = 0; r < n; ++r) {
    if (rows[r] > 0) parts.push_back(gathered.narrow(0, r * longest, rows[r]));
  }
  if (parts.empty()) return gathered.narrow(0, 0, 0).contiguous();
  return native::cat(parts, 0);
}

}  // namespace toadstool::distributed
