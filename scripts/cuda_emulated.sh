#!/usr/bin/env bash
# The CUDA tests without a GPU: builds the library with TOADSTOOL_CUDA=EMULATED
# (the `cuda-emulated` preset, build/cuda-emulated: the CUDA sources compiled
# as C++ over the warp emulator of tests/cuda_emulation/, one emulated device
# whose memory is host memory) and runs tests/cuda/ there, so that every CUDA
# path of the front-end, autograd, the optimizers and the trainer runs, and
# the CUDA kernels with them. docs/cuda.md says what this can and cannot show.
#
#   scripts/cuda_emulated.sh            # build, then every test it can run
#   scripts/cuda_emulated.sh 'CudaRows.*'   # a GoogleTest filter
#
# Not in scripts/test.sh (CI time: the build takes 8 CPU-minutes and the
# tests about half an hour on a 2-core VM, every CUDA thread being a
# std::thread). Left out: the tests sized for a GPU (4096^3 products, a
# tensor of 2^26 elements) and those that need the device to run behind the
# host (a copy still pending while the host frees its buffer): the emulated
# device finishes every call before it returns.
set -euo pipefail
cd "$(dirname "$0")/.."

excluded=(
  CudaElementwise.LargeTensorsRunThroughTheGridStrideLoop
  CudaStreams.AnEventMeasuresAKernel
  CudaPinnedMemory.APinnedBlockIsNotReusedBeforeItsCopyHasRun
  CudaAllocator.RecordStreamDelaysReuseUntilTheOtherStreamIsDone
)
filter="${1:-*}-$(IFS=:; echo "${excluded[*]}")"

cmake --preset cuda-emulated >/dev/null
cmake --build build/cuda-emulated --target toadstool_cuda_tests -j"$(nproc)"
exec build/cuda-emulated/tests/toadstool_cuda_tests --gtest_filter="$filter"
