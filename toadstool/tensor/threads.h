#pragma once
namespace toadstool {
// Size of the one OpenMP team every parallel kernel uses (default: the
// machine's cores). Eigen is kept single-threaded inside that team.
void set_num_threads(int n);
int get_num_threads();
}  // namespace toadstool
