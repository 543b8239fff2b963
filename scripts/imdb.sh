#!/usr/bin/env bash
# The main job: set-up (packages, a Release build), the IMDB data, then
# examples/imdb: a Transformer trained from scratch with the Toadstool
# trainer to classify movie reviews, validated on 2,500 held-out training
# reviews, and scored on the test split when the data has one.
#
#   scripts/imdb.sh [example flags, e.g. --epochs 2 --resume]
#   scripts/imdb.sh --predict "A wonderful film"      # with the trained model
#   scripts/imdb.sh --help
#
# The data: --data PATH, else $TOADSTOOL_IMDB, else the usual places (the
# shared train-only archive among them); when none exists, the official
# archive is downloaded (scripts/get_imdb.sh, checksum-checked).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh build/release -DTOADSTOOL_BUILD_TESTS=OFF -DTOADSTOOL_BUILD_BENCH=OFF
program=build/release/examples/imdb/imdb
status=0
"$program" "$@" || status=$?
if [ "$status" -eq 77 ]; then  # no data found: download it, then run again
  scripts/get_imdb.sh >/dev/null
  exec "$program" "$@"
fi
exit "$status"
