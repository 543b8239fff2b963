#!/usr/bin/env bash
# The GPU check (issue 15), in two halves, because the GPU machine has the
# CUDA driver and libraries but no network and none of our build
# dependencies:
#
#   scripts/device_check.sh prepare   # here: build with CUDA, pack build/device-kit
#   scripts/device_check.sh run       # on the GPU machine, build/device-kit carried
#
# The kit holds the CUDA test binary, the NCCL group's test binary (when
# the build has NCCL), the CUDA benchmarks, each gzipped (the carry limit is
# 64 MiB; a binary is 23 MB, 5 MB gzipped), and the C++ runtime libraries
# they were linked against (libstdc++, libgomp, libgcc_s: the GPU machine's
# may be older); glibc, the CUDA driver and cuBLAS come from that machine,
# and NCCL too (libnccl.so.2 of PyTorch's nvidia-nccl package: ours is
# 218 MB). `run` unpacks the binaries, runs the `cuda` tests (their
# GoogleTest binaries directly: no ctest there), then the benchmarks, and
# writes device_report.md and bench.json into $OUT (or out/device). Through
# the device tool:
#
#   run(command="bash scripts/device_check.sh run", carry=["build/device-kit"], timeout_s=400)
#
# The steps' own limits (150 s tests, 60 s NCCL, 120 s benchmarks) fit in
# that, so a hung step still leaves device time for a rerun.
set -euo pipefail
cd "$(dirname "$0")/.."

kit=build/device-kit
# Where `run` unpacks the kit's binaries.
bin=build/device-run

prepare() {
  TOADSTOOL_SKIP_BUILD=1 scripts/setup.sh  # the packages
  # sm_90 machine code only: the lent GPUs are H100 / H200, and the carry
  # limit is 64 MiB (with sm_80 and PTX too each binary is 34 MB).
  cmake -S . -B build/device -G Ninja -DCMAKE_BUILD_TYPE=Release -DTOADSTOOL_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90-real -DTOADSTOOL_BUILD_BENCH=ON -DTOADSTOOL_BUILD_EXAMPLES=OFF
  local targets=(toadstool_cuda_tests toadstool_cuda_bench)
  local binaries=(build/device/tests/toadstool_cuda_tests build/device/bench/cuda/toadstool_cuda_bench)
  # The NCCL group's tests exist in a build that found NCCL (TOADSTOOL_NCCL).
  if grep -q '#define TOADSTOOL_WITH_NCCL 1' build/device/include/toadstool/config.h; then
    targets+=(toadstool_nccl_tests)
    binaries+=(build/device/tests/toadstool_nccl_tests)
  fi
  cmake --build build/device --target "${targets[@]}" -j "$(nproc)"
  rm -rf "$kit"
  mkdir -p "$kit/lib"
  cp "${binaries[@]}" "$kit/"
  strip "$kit"/toadstool_*
  for binary in "$kit"/toadstool_*; do
    ldd "$binary" | awk '/libstdc\+\+|libgomp|libgcc_s/ {print $3}'
  done | sort -u | xargs -I{} cp -L {} "$kit/lib/"
  gzip -9 "$kit"/toadstool_*
  echo "$(git rev-parse HEAD)$(git diff --quiet HEAD || echo ' (with uncommitted changes)')" >"$kit/commit"
  du -sh "$kit"
  local kib
  kib=$(du -sk "$kit" | cut -f1)
  [ "$kib" -lt $((60 * 1024)) ] || { echo "device_check: the kit is over 60 MiB (carry limit 64 MiB)"; exit 1; }
  echo "device_check: kit ready in $kit (commit $(cat "$kit/commit"))"
}

# The directory of a libnccl.so.2 on this machine (PyTorch's nvidia-nccl
# package, else a system copy), or nothing.
find_nccl() {
  local dir
  dir=$(python3 -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "lib"))' 2>/dev/null || true)
  if [ -n "$dir" ] && [ -e "$dir/libnccl.so.2" ]; then echo "$dir"; return; fi
  dir=$(find /usr /opt -name libnccl.so.2 2>/dev/null | head -n 1 || true)
  [ -z "$dir" ] || dirname "$dir"
}

# The exit status of a test binary whose log is $1 and status $2: skipped
# GPU tests on the GPU machine are a failure (3): the binary saw no device
# (a driver older than the CUDA 13 runtime it links, say).
fail_skipped() {
  if grep -q "no CUDA device available" "$1"; then
    echo "device_check: the GPU tests skipped: the binary sees no CUDA device" | tee -a "$1" >&2
    [ "$2" -ne 0 ] && echo "$2" || echo 3
  else
    echo "$2"
  fi
}

# Appends a section to the report: title $1, the last 60 lines of log $2.
report_log() {
  {
    echo
    echo "## $1"
    echo '```'
    tail -n 60 "$2"
    echo '```'
  } >>"$report"
}

run() {
  [ -f "$kit/toadstool_cuda_tests.gz" ] || { echo "device_check: no $kit (run prepare, carry it)"; exit 2; }
  local out="${OUT:-out/device}"
  rm -rf "$bin"  # a warm machine may hold an earlier kit's binaries
  mkdir -p "$out" "$bin"
  for packed in "$kit"/toadstool_*.gz; do
    gunzip -c "$packed" >"$bin/$(basename "$packed" .gz)"
    chmod +x "$bin/$(basename "$packed" .gz)"
  done
  export LD_LIBRARY_PATH="$PWD/$kit/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # cuBLAS (and the CUDA runtime's companions) from the machine: its loader
  # cache, else the toolkit's usual folders or PyTorch's nvidia packages.
  local dir
  for dir in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
    $(python3 -c 'import nvidia, os; print(" ".join(os.path.join(p, "cu13", "lib") for p in nvidia.__path__))' 2>/dev/null); do
    [ -e "$dir/libcublas.so.13" ] && LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$dir"
  done
  local report="$out/device_report.md"
  {
    echo "# Device check, commit $(cat "$kit/commit"), $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo '```'
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || true
    echo
    # A library the binaries cannot find stops them before any test (exit 127).
    ldd "$bin"/toadstool_* 2>&1 | grep -E 'cublas|nccl|not found' || true
    echo '```'
  } >"$report"
  local tests_rc=0 bench_rc=0
  echo "device_check: cuda tests"
  # Not --gtest_brief: after a crash or a kill the log must say which test ran.
  timeout -k 10 150 "$bin/toadstool_cuda_tests" >"$out/tests.log" 2>&1 || tests_rc=$?
  tests_rc=$(fail_skipped "$out/tests.log" "$tests_rc")
  report_log "ctest -L cuda equivalent: toadstool_cuda_tests (exit $tests_rc)" "$out/tests.log"
  # The NCCL group (one rank), with the machine's libnccl.so.2; NCCL's own
  # warnings go to the log. Skipped tests fail here too.
  local nccl_rc=0
  if [ -x "$bin/toadstool_nccl_tests" ]; then
    echo "device_check: nccl tests"
    local nccl_dir
    nccl_dir=$(find_nccl)
    if [ -z "$nccl_dir" ]; then
      echo "device_check: no libnccl.so.2 on this machine: the NCCL tests cannot run" | tee "$out/nccl_tests.log"
      nccl_rc=4
    else
      echo "device_check: libnccl.so.2 from $nccl_dir" >"$out/nccl_tests.log"
      LD_LIBRARY_PATH="$nccl_dir:$LD_LIBRARY_PATH" NCCL_DEBUG=WARN timeout -k 10 60 \
        "$bin/toadstool_nccl_tests" >>"$out/nccl_tests.log" 2>&1 || nccl_rc=$?
      nccl_rc=$(fail_skipped "$out/nccl_tests.log" "$nccl_rc")
    fi
    report_log "toadstool_nccl_tests (exit $nccl_rc)" "$out/nccl_tests.log"
  fi
  echo "device_check: benchmarks"
  timeout -k 10 120 "$bin/toadstool_cuda_bench" "$out/bench.json" >"$out/bench.log" 2>&1 || bench_rc=$?
  {
    echo
    echo "## toadstool_cuda_bench (exit $bench_rc)"
    echo '```'
    cat "$out/bench.log"
    echo '```'
  } >>"$report"
  cat "$report"
  [ "$tests_rc" -eq 0 ] && [ "$nccl_rc" -eq 0 ] && [ "$bench_rc" -eq 0 ]
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: scripts/device_check.sh prepare|run"; exit 2 ;;
esac
