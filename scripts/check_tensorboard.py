#!/usr/bin/env python3
"""Checks a run's TensorBoard event files with TensorBoard's own reader.

Development time only (docs/tensorboard.md): needs PyPI's `tensorboard` in a
virtual environment, never a build or run-time dependency of Toadstool.

    python3 -m venv /tmp/venv-tb && /tmp/venv-tb/bin/pip install tensorboard
    /tmp/venv-tb/bin/python scripts/check_tensorboard.py LOG_DIR [--csv LOG_DIR/log.csv]

LOG_DIR is where TensorBoardCallback wrote (with the CSVLogger log beside
it, as the examples' --log-dir leaves them). It reads every event file
there with tensorboard's EventAccumulator, then checks:
  - the files are version 2 ("brain.Event:2");
  - each CSV column has its scalar tag at exactly the CSV's epochs (so the
    epochs a resumed run replaced were dropped, by the SessionLog START
    events), each value equal to the CSV's as a 32-bit float
    (simple_value is a float); the epoch's wall time, measured by each
    callback on its own, within 0.1 s + 5%;
  - every histogram's bucket counts add up to its count, min <= max;
  - a copy of the files whose last record is torn (a crash in the middle
    of a write) still loads, with what came before it.
Prints the counts; exits 1 on the first mismatch.
"""
import argparse
import csv
import math
import os
import shutil
import struct
import sys
import tempfile

from tensorboard.backend.event_processing import event_accumulator

# CSVLogger column -> TensorBoardCallback tag (toadstool/train/callbacks/tensorboard.h).
EXACT = {"train_loss": "loss/train", "valid_loss": "loss/valid", "score": "metrics/score",
         "lr": "optim/lr"}
TIMED = {"time_s": "time/epoch_s"}


def load(log_dir):
    acc = event_accumulator.EventAccumulator(
        log_dir, size_guidance={event_accumulator.SCALARS: 0, event_accumulator.HISTOGRAMS: 0})
    acc.Reload()
    return acc


def as_float32(value):
    return struct.unpack("<f", struct.pack("<f", value))[0]


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def check_scalars(acc, rows):
    tags = set(acc.Tags()["scalars"])
    compared = 0
    for column, tag in {**EXACT, **TIMED}.items():
        expected = {int(r["epoch"]): float(r[column]) for r in rows if r[column] != ""}
        if not expected:
            if tag in tags:
                fail(f"{tag} is in the events but {column} is empty in every CSV row")
            continue
        if tag not in tags:
            fail(f"{tag} is missing (CSV column {column} has {len(expected)} values)")
        # A list, not a dict: an epoch read twice (the orphan of a resumed run
        # that was not dropped) must fail.
        steps = [e.step for e in acc.Scalars(tag)]
        if sorted(steps) != sorted(expected):
            fail(f"{tag} at steps {sorted(steps)}, the CSV has {column} at epochs "
                 f"{sorted(expected)}")
        events = {e.step: e.value for e in acc.Scalars(tag)}
        for epoch, value in expected.items():
            got = events[epoch]
            if column in EXACT:
                if got != as_float32(value) and not (math.isnan(got) and math.isnan(value)):
                    fail(f"{tag} at epoch {epoch}: {got!r}, the CSV has {value!r} "
                         f"(float32 {as_float32(value)!r})")
            elif abs(got - value) > 0.1 + 0.05 * value:
                fail(f"{tag} at epoch {epoch}: {got} s, the CSV has {value} s")
            compared += 1
    others = tags - set(EXACT.values()) - set(TIMED.values())
    return compared, others


def check_histograms(acc):
    count = 0
    for tag in acc.Tags()["histograms"]:
        for event in acc.Histograms(tag):
            h = event.histogram_value
            if sum(h.bucket) != h.num or h.min > h.max or len(h.bucket) != len(h.bucket_limit):
                fail(f"histogram {tag} at step {event.step}: num {h.num}, buckets sum to "
                     f"{sum(h.bucket)}, min {h.min}, max {h.max}")
            count += 1
    return count


def check_torn_tail(log_dir, acc):
    """A copy whose newest file loses its last 5 bytes still loads."""
    files = sorted(f for f in os.listdir(log_dir) if "tfevents" in f)
    with tempfile.TemporaryDirectory() as copy:
        for f in files:
            shutil.copy(os.path.join(log_dir, f), copy)
        last = os.path.join(copy, files[-1])
        os.truncate(last, os.path.getsize(last) - 5)
        torn = load(copy)
        kept = lost = 0
        for tag in acc.Tags()["scalars"]:
            full = [(e.step, e.value) for e in acc.Scalars(tag)]
            part = [(e.step, e.value) for e in torn.Scalars(tag)] if tag in torn.Tags()[
                "scalars"] else []
            if part != full[:len(part)]:
                fail(f"after tearing the last record, {tag} reads {part}, not a prefix of {full}")
            kept += len(part)
            lost += len(full) - len(part)
    return kept, lost


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("log_dir")
    parser.add_argument("--csv", help="the CSVLogger log (default: LOG_DIR/log.csv)")
    args = parser.parse_args()
    csv_path = args.csv or os.path.join(args.log_dir, "log.csv")
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    files = sorted(f for f in os.listdir(args.log_dir) if "tfevents" in f)
    if not files:
        fail(f"no event file in {args.log_dir}")

    acc = load(args.log_dir)
    if acc.file_version != 2.0:
        fail(f"file_version {acc.file_version}, expected 2 (brain.Event:2)")
    compared, others = check_scalars(acc, rows)
    histograms = check_histograms(acc)
    kept, lost = check_torn_tail(args.log_dir, acc)
    print(f"{len(files)} event file(s), {len(rows)} CSV rows: {compared} scalars equal to the "
          f"CSV's ({sum(1 for c in EXACT for r in rows if r[c] != '')} exactly as float32), "
          f"other scalar tags {sorted(others)}; {histograms} histograms "
          f"({len(acc.Tags()['histograms'])} tags) consistent; torn last record: "
          f"{kept} scalars still read, {lost} lost")


if __name__ == "__main__":
    main()
