#!/usr/bin/env bash
# The `models` test of examples/imdb_lm: a short training run of a small
# language model on 3,000 reviews (the validation next-word loss must fall
# below --max-loss from about 9.9 untrained), then --generate from the saved
# model must print the prompt and the words it adds.
#
#   short_run_test.sh PROGRAM OUT_DIR      (exit 77: no IMDB data, skipped)
set -euo pipefail
program="$1"
out="$2"
rm -rf "$out"
status=0
"$program" --limit 3000 --valid-size 200 --epochs 2 --block 64 --vocab-size 5000 --lr 3e-3 \
  --d-model 64 --heads 2 --layers 1 --ff 128 --max-loss 6.0 --words 12 --out "$out" || status=$?
[ "$status" -eq 0 ] || exit "$status"
text=$("$program" --out "$out" --generate "the film was" --words 8)
echo "$text"
words=$(echo "$text" | wc -w)
[ "$words" -eq 11 ] || { echo "expected the prompt and 8 words, got $words words"; exit 1; }
