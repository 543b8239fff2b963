#!/usr/bin/env bash
# Charts of a run (PNG and SVG) from a CSV log: loss, score and learning
# rate per epoch from a CSVLogger log, or the LR finder's curve with its
# suggestion marked from an LR finder CSV. Builds tools/plot_csv (in
# build/release, as the other scripts; TOADSTOOL_BUILD_DIR to choose) the
# first time.
#
#   scripts/plot.sh out/imdb/log.csv               # charts beside the log
#   scripts/plot.sh lr_find.csv --out charts/
#   scripts/plot.sh --help
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="${TOADSTOOL_BUILD_DIR:-$root/build/release}"

if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  TOADSTOOL_SKIP_BUILD=1 "$root/scripts/setup.sh"  # the packages (cairo among them)
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DTOADSTOOL_BUILD_TESTS=OFF -DTOADSTOOL_BUILD_BENCH=OFF >&2
fi
cmake --build "$build_dir" --target plot_csv >&2
exec "$build_dir/tools/plot_csv" "$@"
