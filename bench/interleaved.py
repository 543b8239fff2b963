#!/usr/bin/env python3
"""Ours against PyTorch on one workload, measured in alternation.

scripts/bench.sh measures every Toadstool workload, then every PyTorch one,
minutes apart; on a shared VM whose speed drifts within minutes that can move
a ratio near 1 either way. This runs the two sides of ONE workload in
turns, ROUNDS times each, and prints each side's best time and their ratio,
so both see the same machine.

    python3 bench/interleaved.py mlp_step --threads 1 --rounds 5
    python3 bench/interleaved.py lstm --threads 1 --python /work/venv-torch/bin/python

Needs build/release/bench/toadstool_bench (scripts/bench.sh builds it) and
Debian's PyTorch (/usr/bin/python3); OpenBLAS is configured as
scripts/bench.sh does.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ours(workload, threads, out):
    subprocess.run([os.path.join(ROOT, "build/release/bench/toadstool_bench"),
                    f"--benchmark_filter=^{workload}/{threads}/",
                    f"--benchmark_out={out}", "--benchmark_out_format=json"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(out) as f:
        rows = json.load(f)["benchmarks"]
    best = [r["real_time"] for r in rows if r.get("aggregate_name") == "min"]
    if not best:
        sys.exit(f"no Toadstool benchmark named {workload}/{threads}")
    return best[0] * 1e-9  # ns -> s


def openblas_coretype():
    """The kernel scripts/bench.sh pins: OpenBLAS 0.3.21 falls back to generic
    kernels on CPUs it does not know."""
    if os.environ.get("OPENBLAS_CORETYPE"):
        return os.environ["OPENBLAS_CORETYPE"]
    with open("/proc/cpuinfo") as f:
        flags = f.read().split()
    return "SkylakeX" if "avx512f" in flags else "Haswell" if "avx2" in flags else ""


def theirs(workload, threads, out, python):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               OPENBLAS_CORETYPE=openblas_coretype())
    subprocess.run([python, os.path.join(ROOT, "bench/pytorch_workloads.py"),
                    "--threads", str(threads), "--out", out, "--filter", workload],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    with open(out) as f:
        seconds = json.load(f)["seconds"]
    key = f"{workload}/{threads}"
    if key not in seconds:
        sys.exit(f"no PyTorch workload named {key}")
    return seconds[key]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("workload")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--python", default="/usr/bin/python3",
                        help="an interpreter with torch (e.g. /work/venv-torch/bin/python)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        a, b = os.path.join(tmp, "ours.json"), os.path.join(tmp, "theirs.json")
        ours_times, their_times = [], []
        for r in range(args.rounds):
            ours_times.append(ours(args.workload, args.threads, a))
            their_times.append(theirs(args.workload, args.threads, b, args.python))
            print(f"round {r + 1}: Toadstool {ours_times[-1] * 1e3:.2f} ms, "
                  f"PyTorch {their_times[-1] * 1e3:.2f} ms, "
                  f"ratio {ours_times[-1] / their_times[-1]:.2f}x")
    best_ours, best_theirs = min(ours_times), min(their_times)
    print(f"{args.workload}, {args.threads} thread(s), best of {args.rounds} rounds: "
          f"Toadstool {best_ours * 1e3:.2f} ms, PyTorch {best_theirs * 1e3:.2f} ms, "
          f"time vs PyTorch {best_ours / best_theirs:.2f}x")


if __name__ == "__main__":
    main()
