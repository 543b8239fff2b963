#!/usr/bin/env bash
# Coverage-guided fuzzing of the file readers with libFuzzer, ASan and UBSan
# (docs/fuzzing.md): builds the libFuzzer programs with clang in build/fuzz,
# then runs each target in turn, starting from its committed corpus
# (tests/fuzz/corpus/<target>, read only), and prints per target the
# executions, exec/s, coverage (cov: edges, ft: features) and any crash files.
#
#   scripts/fuzz.sh                          every target, 60 s each
#   scripts/fuzz.sh -t 600 idx tokenizer     those two, 10 minutes each
#   scripts/fuzz.sh -r 10000000 idx          until 10 million executions
#   scripts/fuzz.sh --no-build -t 30         without (re)building first
#
# New inputs collect in a scratch corpus outside the repository
# ($TOADSTOOL_FUZZ_WORK, default ${TMPDIR:-/tmp}/toadstool-fuzz/<target>/),
# kept between runs so that a second run goes on from the first; crash-*,
# leak-*, timeout-* and oom-* files land next to it. A target that finds
# something stops there; the script goes on with the next and exits 1 at the
# end. Extra libFuzzer flags: TOADSTOOL_FUZZ_FLAGS="-max_len=8192 ...".
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
runs=""
build=1
build_dir="build/fuzz"
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    -t | --time) seconds="$2"; shift 2 ;;
    -r | --runs) runs="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (--help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done

if [ "$build" = 1 ]; then
  # The build's packages, and clang with its libFuzzer runtime and its OpenMP
  # (scripts/setup.sh installs GCC's only without them).
  TOADSTOOL_SKIP_BUILD=1 TOADSTOOL_EXTRA_PACKAGES="clang libclang-rt-14-dev libomp-dev" \
    scripts/setup.sh
  # One CPU kernel variant and no CUDA: the readers are what is fuzzed.
  CC=clang CXX=clang++ cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTOADSTOOL_FUZZERS=ON -DTOADSTOOL_SANITIZE=ON -DTOADSTOOL_BUILD_BENCH=OFF \
    -DTOADSTOOL_BUILD_EXAMPLES=OFF -DTOADSTOOL_CPU_ISAS=avx2 -DTOADSTOOL_CUDA=OFF >/dev/null
  cmake --build "$build_dir" --target toadstool_fuzzers -j "${TOADSTOOL_FUZZ_JOBS:-$(nproc)}"
fi

programs="$build_dir/tests/fuzz"
# The one list of targets is tests/fuzz/fuzz_targets.h's; the tool prints it.
mapfile -t all < <("$programs/toadstool_fuzz_tool" list)
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $t "* ]] || { echo "fuzz.sh: no target '$t' (${all[*]})" >&2; exit 2; }
done

work="${TOADSTOOL_FUZZ_WORK:-${TMPDIR:-/tmp}/toadstool-fuzz}"
limit=(-max_total_time="$seconds")
[ -z "$runs" ] || limit=(-runs="$runs")
# A hang is an input that takes 25 s; an allocation over 512 MB from a few-KB
# input is a reader believing a size it should have checked.
flags=(-print_final_stats=1 -timeout=25 -rss_limit_mb=2048 -malloc_limit_mb=512)
# shellcheck disable=SC2206  # word splitting is wanted
flags+=(${TOADSTOOL_FUZZ_FLAGS:-})
# Recording every allocation's stack is ASan's largest cost here (15% of the
# checkpoint target's time); a crash file run again by hand shows the stacks.
export ASAN_OPTIONS="${ASAN_OPTIONS:-malloc_context_size=0}"

found=0
summary=()
for t in "${targets[@]}"; do
  corpus="$work/$t"
  mkdir -p "$corpus"
  log="$work/$t.log"
  echo "== fuzz_$t: ${limit[*]}, corpus $corpus, log $log"
  status=0
  "$programs/fuzz_$t" "${flags[@]}" "${limit[@]}" -artifact_prefix="$work/$t-" \
    "$corpus" "tests/fuzz/corpus/$t" >"$log" 2>&1 || status=$?
  # libFuzzer's last status line ("#N DONE cov: X ft: Y corp: ...") and final stats.
  last=$(grep -E '^#[0-9]+[[:space:]]' "$log" | tail -n 1 || true)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -n 1)
  rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log" | tail -n 1)
  took=$(sed -nE 's/^Done [0-9]+ runs in ([0-9]+) second.*/\1/p' "$log" | tail -n 1)
  files=$(grep -oE "(crash|leak|timeout|oom|slow-unit)-[0-9a-f]+" "$log" | sort -u |
          sed "s|^|$work/$t-|" | tr '\n' ' ' || true)
  line=$(printf '%-13s %9s execs in %5s s, %5s exec/s, cov %-5s ft %-6s corpus %-5s %s' "$t" \
    "${execs:-?}" "${took:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" \
    "$(find "$corpus" -type f | wc -l)" "${files:-no findings}")
  echo "$line"
  summary+=("$line")
  if [ "$status" != 0 ] || [ -n "$files" ]; then
    found=1
    grep -E "ERROR|SUMMARY|runtime error|terminate called|what\(\)" "$log" | head -n 5 || true
  fi
done

echo "== summary ($(date -u +%Y-%m-%dT%H:%MZ), ${limit[*]})"
printf '%s\n' "${summary[@]}"
exit "$found"
