#!/usr/bin/env bash
# The test command (CI runs it through .ci/run): set-up, then a Release build
# and an AddressSanitizer + UndefinedBehaviorSanitizer build, running the
# `unit` label in both (every test but the examples' `models`: the per-layer
# suites, the fuzz smoke test, the install test), and the lint step
# (formatting, clang-tidy on the changed files) once the Release build is
# configured.
#
#   scripts/test.sh              # both builds and the lint step (scripts/lint.sh)
#   TOADSTOOL_TEST_BUILDS=release scripts/test.sh   # one of: release asan
#   TOADSTOOL_LINT=0 scripts/test.sh                # without the lint step
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
# Once the release build is configured (its compile_commands.json is what
# clang-tidy reads), scripts/lint.sh checks the formatting and tidies the
# changed files; a lint failure fails the command after the tests have run.
lint_status=0
for b in $builds; do
  case "$b" in
    release|asan) ;;
    *) echo "unknown build '$b' (expected release or asan)"; exit 2 ;;
  esac
  echo "=== configure: preset $b"
  cmake --preset "$b" >/dev/null
  if [ "$b" = release ] && [ "${TOADSTOOL_LINT:-1}" = "1" ]; then
    echo "=== lint"
    scripts/lint.sh || lint_status=$?
  fi
  echo "=== build: preset $b"
  cmake --build --preset "$b" -j "$jobs"
  echo "=== unit tests: preset $b (CPU kernels chosen from this CPU)"
  ctest --preset "$b" -j "$jobs"
  # The release suite again on each lesser build of the CPU kernels, forced
  # (docs/design.md, "CPU kernels chosen at run time"): the AVX2 path and
  # the baseline one that any x86-64 runs. Not the `distributed` tests: MPI
  # moves the bytes, no CPU kernel of ours runs in them (CI time). Nor the
  # checkpoint kill test: it tests file writes and killed processes, not kernels.
  if [ "$b" = release ]; then
    for isa in avx2 baseline; do
      if [ "$isa" = avx2 ] && ! grep -qw avx2 /proc/cpuinfo; then continue; fi
      echo "=== unit tests: preset $b, TOADSTOOL_CPU_ISA=$isa"
      TOADSTOOL_CPU_ISA="$isa" ctest --preset "$b" -j "$jobs" -LE distributed -E '^CheckpointKill[.]'
    done
  fi
done
if [ "$lint_status" -ne 0 ]; then
  echo "=== lint failed (scripts/lint.sh exit $lint_status, output above)"
  exit "$lint_status"
fi
