#!/usr/bin/env bash
# The `models` test of examples/imdb: a short training run on 4,000 reviews
# with a small model (it must reach 70% validation accuracy; about 75% in
# 15 s), then the
# predict path with the saved model: a clearly positive and a clearly
# negative review must land on the right sides of 0.5.
#
#   short_run_test.sh PROGRAM OUT_DIR      (exit 77: no IMDB data, skipped)
set -euo pipefail
program="$1"
out="$2"
rm -rf "$out"
status=0
"$program" --limit 4000 --valid-size 500 --epochs 6 --patience 6 --lr 3e-3 --max-len 128 \
  --d-model 64 --heads 2 --layers 1 --ff 128 --bigrams 65536 --bigram-dim 16 --min-accuracy 0.70 \
  --out "$out" || status=$?
[ "$status" -eq 0 ] || exit "$status"

printf '%s\n%s\n' \
  "An excellent, moving film: wonderful acting and a great story. I loved it." \
  "Terrible, boring and stupid. The worst movie I have ever seen, a waste of time." |
  "$program" --out "$out" --predict - | tee "$out/predictions.tsv"
awk -F'\t' 'NR == 1 && !($1 > 0.5) { bad = 1 } NR == 2 && !($1 < 0.5) { bad = 1 }
            END { if (NR != 2 || bad) { print "predictions on the wrong side of 0.5"; exit 1 } }' \
  "$out/predictions.tsv"
