#!/usr/bin/env bash
# The benchmarks: set-up, then the benchmarks. Prints one table and writes it
# as JSON to out/bench/report.json.
# The PyTorch comparison uses Debian's PyTorch (installed here as a
# benchmark reference only; Toadstool itself never uses it).
#
#   scripts/bench.sh [google-benchmark flags, e.g. --benchmark_filter=sgemm]
#   TOADSTOOL_BENCH_PYTORCH=0 scripts/bench.sh    # skip the PyTorch side
#   TOADSTOOL_BENCH_PYTORCH_FILTER=transformer scripts/bench.sh --benchmark_filter=transformer
#                                                   # one workload on both sides
#   TOADSTOOL_BENCH_PYTORCH=0 scripts/bench.sh --benchmark_filter=trainer
#                                                   # the trainer's own cost only
#                                                   # (docs/benchmarks_trainer.md)
set -euo pipefail
cd "$(dirname "$0")/.."

# The cache of CMakePresets.json's `bench` preset (kept equal to it).
scripts/setup.sh build/release -DTOADSTOOL_BUILD_TESTS=OFF -DTOADSTOOL_BUILD_BENCH=ON
out=out/bench
mkdir -p "$out"

pytorch_files=()
if [ "${TOADSTOOL_BENCH_PYTORCH:-1}" = "1" ]; then
  # libopenblas0-pthread: without it Debian's PyTorch falls back to the reference BLAS.
  if ! dpkg-query -W -f='${Status}' python3-torch libopenblas0-pthread 2>/dev/null |
      grep -q "install ok installed.*install ok installed"; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-torch libopenblas0-pthread >/dev/null
  fi
  # OpenBLAS 0.3.21 does not recognise every recent CPU and then runs its
  # generic (Prescott) kernels: pick the best kernel the CPU supports, unless
  # the caller chose one.
  if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    if grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX
    elif grep -qw avx2 /proc/cpuinfo; then export OPENBLAS_CORETYPE=Haswell; fi
  fi
  for t in 1 2; do
    echo "bench: PyTorch workloads, $t thread(s)"
    OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t /usr/bin/python3 bench/pytorch_workloads.py \
      --threads "$t" --out "$out/pytorch_t$t.json" --filter "${TOADSTOOL_BENCH_PYTORCH_FILTER:-}"
    pytorch_files+=("$out/pytorch_t$t.json")
  done
fi

echo "bench: Toadstool workloads"
# Random interleaving: the five repetitions of each benchmark are spread
# over the whole run, as pytorch_workloads.py spreads PyTorch's, so a slow
# stretch of this shared machine does not decide one workload's figure.
build/release/bench/toadstool_bench --benchmark_out="$out/toadstool.json" \
  --benchmark_out_format=json --benchmark_enable_random_interleaving=true "$@" >/dev/null
python3 bench/report.py --toadstool "$out/toadstool.json" --pytorch "${pytorch_files[@]}" \
  --out "$out/report.json" | tee "$out/report.md"
