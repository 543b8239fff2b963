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

# Each build is a preset of CMakePresets.json, which holds its flags, its
# binary dir (build/test-release, build/test-asan), the `unit` label and,
# for asan, the sanitizer options (ASAN_OPTIONS: LeakSanitizer on, a report
# fails the test that caused it, an impossible allocation returns null as
# malloc does without ASan so the out-of-memory Errors can be tested).
run_suite() {
  local preset="$1"
  echo "=== configure + build: preset $preset"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  echo "=== unit tests: preset $preset"
  ctest --preset "$preset" -j "$jobs"
}

for b in $builds; do
  case "$b" in
    release|asan) run_suite "$b" ;;
    *) echo "unknown build '$b' (expected release or asan)"; exit 2 ;;
  esac
done
