#!/usr/bin/env bash
# The CUDA tests without a GPU: builds the library with TOADSTOOL_CUDA=EMULATED
# (the `cuda-emulated` preset, build/cuda-emulated: the CUDA sources compiled
# as C++ over the warp emulator of tests/cuda_emulation/, one emulated device
# whose memory is host memory and whose streams run behind the host, as a
# GPU's do) and runs tests/cuda/ there, so that every CUDA
# path of the front-end, autograd, the optimizers and the trainer runs, and
# the CUDA kernels with them. docs/cuda.md says what this can and cannot show.
#
#   scripts/cuda_emulated.sh            # build, then every test it can run
#   scripts/cuda_emulated.sh 'CudaRows.*'   # a GoogleTest filter
#
# With MPI found, the NCCL process group is built over the NCCL model of
# tests/cuda_emulation/shim/nccl.h, and its tests run too: one rank
# (tests/cuda/nccl/test_nccl.cpp), then 2 and 3 ranks under mpirun
# (test_nccl_ranks.cpp), each process with an emulated device of its own,
# then the failure launches (test_nccl_failures.cpp, each an mpirun of 2).
#
# Not in scripts/test.sh (CI time: the library's build takes 8 CPU-minutes
# on a 2-core VM, the tests then about 4 minutes). Left out: the one test
# sized for a GPU (a tensor of 2^26 elements); a few others are sized down
# here (TOADSTOOL_TEST_EMULATED_CUDA).
set -euo pipefail
cd "$(dirname "$0")/.."

excluded=(
  CudaElementwise.LargeTensorsRunThroughTheGridStrideLoop
)
filter="${1:-*}-$(IFS=:; echo "${excluded[*]}")"

build=build/cuda-emulated
cmake --preset cuda-emulated >/dev/null
targets=(toadstool_cuda_tests)
nccl=$(grep -c '^#define TOADSTOOL_WITH_NCCL 1' $build/include/toadstool/config.h || true)
if [ "$nccl" = 1 ]; then targets+=(toadstool_nccl_tests toadstool_nccl_rank_tests); fi
cmake --build $build --target "${targets[@]}" -j"$(nproc)"
$build/tests/toadstool_cuda_tests --gtest_filter="$filter"
if [ "$nccl" = 1 ]; then
  $build/tests/toadstool_nccl_tests --gtest_filter="$filter"
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  for np in 2 3; do
    mpirun --oversubscribe -np $np --mca pml ob1 --mca btl self,vader \
      $build/tests/toadstool_nccl_rank_tests --gtest_filter="$filter:NcclFailureLaunch.*"
  done
  $build/tests/toadstool_nccl_rank_tests --gtest_filter="${1:-NcclFailureLaunch.*}"
fi
