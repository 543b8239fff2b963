#include "toadstool/tensor/threads.h"

#include <omp.h>

#include "toadstool/tensor/error.h"

namespace toadstool {

void set_num_threads(int n) {
  TS_CHECK(n >= 1, "set_num_threads: expected a positive thread count, got ", n);
  omp_set_num_threads(n);
}

int get_num_threads() { return omp_get_max_threads(); }

}  // namespace toadstool
