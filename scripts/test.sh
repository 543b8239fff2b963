#!/usr/bin/env bash
# The test command (CI runs it through .ci/run): set-up, then a Release build
# and an AddressSanitizer + UndefinedBehaviorSanitizer build, running the
# `unit` suite in both.
#
#   scripts/test.sh              # both builds
#   TOADSTOOL_TEST_BUILDS=release scripts/test.sh   # one of: release asan
set -euo pipefail
cd "$(dirname "$0")/.."

TOADSTOOL_SKIP_BUILD=1 scripts/setup.sh
builds="${TOADSTOOL_TEST_BUILDS:-release asan}"
jobs="$(nproc)"

run_suite() {
  local dir="$1"; shift
  echo "=== configure + build: $dir ($*)"
  cmake -S . -B "$dir" -G Ninja "$@" -DTOADSTOOL_BUILD_BENCH=OFF >/dev/null
  cmake --build "$dir" -j "$jobs"
  echo "=== unit tests: $dir"
  (cd "$dir" && ctest -L unit --output-on-failure -j "$jobs")
}

for b in $builds; do
  case "$b" in
    release) run_suite build/test-release -DCMAKE_BUILD_TYPE=Release ;;
    asan)
      # halt_on_error: a sanitizer report fails the test that caused it.
      # allocator_may_return_null: an impossible allocation returns null, as
      # malloc does without ASan, so the out-of-memory Errors can be tested.
      export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=1:allocator_may_return_null=1"
      export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
      # -O1 -g1 (line tables): sanitizer reports keep file:line stack traces,
      # and the build takes about 40% less time than -O2 -g.
      run_suite build/test-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOADSTOOL_SANITIZE=ON \
        "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG"
      ;;
    *) echo "unknown build '$b' (expected release or asan)"; exit 2 ;;
  esac
done
