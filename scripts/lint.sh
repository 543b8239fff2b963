#!/usr/bin/env bash
# The lint step (scripts/test.sh runs it once the release build is
# configured, so CI runs it):
#   1. formatting: every tracked *.h, *.cpp and *.cu file against
#      .clang-format (clang-format --dry-run --Werror);
#   2. clang-tidy (.clang-tidy, every warning an error) on the .cpp files that
#      differ from a base commit (the working tree's changes and new untracked
#      files included), with build/test-release's compile_commands.json (the
#      `release` preset; configured here when it is missing).
#
#   scripts/lint.sh          # base: git merge-base HEAD origin/main, or HEAD~1
#                            #   where there is no origin/main or HEAD is on it
#   scripts/lint.sh BASE     # base: any commit (main, HEAD~3, a hash)
#   TOADSTOOL_LINT_TIDY=0 scripts/lint.sh    # formatting only
#
# Fix the formatting with `clang-format -i FILE`. Exit status: 0 clean,
# 1 a file is misformatted or clang-tidy found something, 2 the step could
# not run (a tool or the base commit missing).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

db_dir=build/test-release
jobs="$(nproc)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

for tool in clang-format clang-tidy; do
  command -v "$tool" >/dev/null || { echo "lint: $tool not found (scripts/setup.sh installs it)"; exit 2; }
done

# ---- 1. formatting -----------------------------------------------------------
files=()
while IFS= read -r -d '' f; do
  [ -f "$f" ] && files+=("$f")  # a tracked file deleted in the working tree is skipped
done < <(git ls-files -z -- '*.h' '*.cpp' '*.cu')
format_status=0
: >"$tmp/format.log"
if [ ${#files[@]} -gt 0 ]; then
  printf '%s\0' "${files[@]}" |
    xargs -0 -n 32 -P "$jobs" clang-format --dry-run --Werror 2>"$tmp/format.log" ||
    format_status=1
fi
if [ "$format_status" -eq 0 ]; then
  echo "lint: format: ${#files[@]} files clean"
else
  bad="$(grep -oE '^[^:]+:[0-9]+:[0-9]+: error: code should be clang-formatted' "$tmp/format.log" |
         cut -d: -f1 | sort | uniq -c)"
  if [ -z "$bad" ]; then  # clang-format failed for another reason: show it
    echo "lint: format: clang-format failed:"; cat "$tmp/format.log"
  else
    echo "lint: format: $(wc -l <<<"$bad") of ${#files[@]} files need clang-format -i (places):"
    awk '{ printf "  %s (%d)\n", $2, $1 }' <<<"$bad"
  fi
fi

# ---- 2. clang-tidy on the changed .cpp files ---------------------------------
tidy_status=0
if [ "${TOADSTOOL_LINT_TIDY:-1}" = "1" ]; then
  if [ $# -ge 1 ]; then
    base="$(git rev-parse --verify --quiet "$1^{commit}")" ||
      { echo "lint: tidy: '$1' is not a commit"; exit 2; }
  else
    # A branch: what it adds to origin/main. On origin/main itself (or with
    # no origin/main, as in CI's checkout here): the last commit.
    base="$(git merge-base HEAD origin/main 2>/dev/null)" || base=""
    if [ -z "$base" ] || [ "$base" = "$(git rev-parse HEAD)" ]; then
      base="$(git rev-parse --verify --quiet 'HEAD~1^{commit}')" ||
        { echo "lint: tidy: no base (HEAD~1 missing); pass one: scripts/lint.sh BASE"; exit 2; }
    fi
  fi
  if [ ! -f "$db_dir/compile_commands.json" ]; then
    echo "lint: tidy: configuring $db_dir (cmake --preset release) for its compile_commands.json"
    cmake --preset release >/dev/null || exit 2
  fi
  changed=()
  while IFS= read -r f; do
    [ -f "$f" ] && changed+=("$f")
  done < <({ git diff --name-only --diff-filter=d "$base" -- '*.cpp'
             git ls-files --others --exclude-standard -- '*.cpp'; } | sort -u)
  # Only what the release build compiles has a compile command: the rest
  # (benchmarks, the install-consumer project) is named and skipped.
  # clang-tidy reads a copy of the compile commands without the precompiled
  # headers (GCC's, which clang cannot read: it would load one in place of
  # the header, CMakeLists.txt and tests/CMakeLists.txt), and with a command
  # for each source of a unity file (the presets' unity build,
  # cmake/toadstool_unity.cmake): the unity file's command on the source.
  python3 - "$db_dir/compile_commands.json" "$tmp" "${changed[@]}" <<'EOF' || exit 2
import json, os, re, sys
db, tmp, changed = sys.argv[1], sys.argv[2], sys.argv[3:]
entries = []
for e in json.load(open(db)):
    e["command"] = re.sub(r" -Winvalid-pch -include \S+/cmake_pch\.hxx", "", e["command"])
    unity = os.path.join(e["directory"], e["file"])
    if "/Unity/unity_" not in unity:
        entries.append(e)
        continue
    for source in re.findall(r'^#include "([^"]+)"$', open(unity).read(), re.M):
        entries.append(dict(e, file=source, command=e["command"].replace(unity, source)))
os.makedirs(os.path.join(tmp, "db"))
json.dump(entries, open(os.path.join(tmp, "db", "compile_commands.json"), "w"))
known = {os.path.realpath(os.path.join(e["directory"], e["file"])) for e in entries}
with open(os.path.join(tmp, "in_db"), "w") as yes, open(os.path.join(tmp, "not_in_db"), "w") as no:
    for f in changed:
        print(f, file=yes if os.path.realpath(f) in known else no)
EOF
  mapfile -t tidy_files <"$tmp/in_db"
  base_name="$(git rev-parse --short "$base")"
  echo "lint: tidy: ${#tidy_files[@]} changed .cpp file(s) since $base_name"
  while IFS= read -r f; do echo "  skipped (not in $db_dir/compile_commands.json): $f"; done <"$tmp/not_in_db"
  if [ ${#tidy_files[@]} -gt 0 ]; then
    # In parallel, one log per file, printed in order once all are done.
    i=0
    for f in "${tidy_files[@]}"; do i=$((i + 1)); printf '%s\0%s\0' "$i" "$f"; done >"$tmp/jobs"
    # shellcheck disable=SC2016  # $0, $1 and the LINT_ variables: the inner bash's
    LINT_TMP="$tmp" LINT_DB="$tmp/db" xargs -0 -n 2 -P "$jobs" bash -c \
      'clang-tidy -p "$LINT_DB" --quiet --warnings-as-errors="*" \
         --extra-arg=-Wno-unknown-warning-option "$1" >"$LINT_TMP/$0.log" 2>&1
       echo $? >"$LINT_TMP/$0.rc"' <"$tmp/jobs"
    i=0
    for f in "${tidy_files[@]}"; do
      i=$((i + 1))
      if [ "$(cat "$tmp/$i.rc" 2>/dev/null)" = "0" ]; then
        echo "  ok: $f"
      else
        tidy_status=1
        echo "  FAILED: $f"
        grep -vE '^[0-9]+ (warnings?|errors?)( and [0-9]+ errors?)? generated\.$' "$tmp/$i.log" | sed 's/^/    /'
      fi
    done
  fi
fi

[ "$format_status" -eq 0 ] && [ "$tidy_status" -eq 0 ] && exit 0
exit 1
