#!/usr/bin/env python3
"""Ours against PyTorch on one workload, measured in alternation.

scripts/bench.sh measures every Toadstool workload, then every PyTorch one,
minutes apart; on a shared VM whose speed drifts within minutes that can move
a ratio near 1 either way. This runs the two sides of ONE workload in
turns, ROUNDS times each, and prints each side's best time and their ratio,
so both see the same machine.

    python3 bench/interleaved.py mlp_step --threads 1 --rounds 5
    python3 bench/interleaved.py lstm --threads 1 --python /work/venv-torch/bin/python

WORKLOAD may be a comma-separated list, and --theirs names PyTorch's
workloads when they differ from ours (default: the same names); every one
of ours is then compared with every one of theirs. Issue 16's comparison,
our bf16-mixed step against PyTorch's float32 and autocast steps:

    python3 bench/interleaved.py transformer_step,transformer_step_bf16 \
        --theirs transformer_step,transformer_step_bf16 --threads 2

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


def ours(workloads, threads, out):
    """Seconds per call of each of our workloads, one run of the benchmark binary."""
    names = "|".join(workloads)
    subprocess.run([os.path.join(ROOT, "build/release/bench/toadstool_bench"),
                    f"--benchmark_filter=^({names})/{threads}/",
                    f"--benchmark_out={out}", "--benchmark_out_format=json"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(out) as f:
        rows = json.load(f)["benchmarks"]
    seconds = {}
    for workload in workloads:
        best = [r["real_time"] for r in rows if r.get("aggregate_name") == "min"
                and r["run_name"].startswith(f"{workload}/{threads}/")]
        if not best:
            sys.exit(f"no Toadstool benchmark named {workload}/{threads}")
        seconds[workload] = best[0] * 1e-9  # ns -> s
    return seconds


def openblas_coretype():
    """The kernel scripts/bench.sh pins: OpenBLAS 0.3.21 falls back to generic
    kernels on CPUs it does not know."""
    if os.environ.get("OPENBLAS_CORETYPE"):
        return os.environ["OPENBLAS_CORETYPE"]
    with open("/proc/cpuinfo") as f:
        flags = f.read().split()
    return "SkylakeX" if "avx512f" in flags else "Haswell" if "avx2" in flags else ""


def theirs(workloads, threads, out, python):
    """Seconds per call of each of PyTorch's workloads, one run of pytorch_workloads.py."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               OPENBLAS_CORETYPE=openblas_coretype())
    names = "|".join(workloads)
    subprocess.run([python, os.path.join(ROOT, "bench/pytorch_workloads.py"),
                    "--threads", str(threads), "--out", out, "--filter", f"^({names})/"],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    with open(out) as f:
        seconds = json.load(f)["seconds"]
    result = {}
    for workload in workloads:
        key = f"{workload}/{threads}"
        if key not in seconds:
            sys.exit(f"no PyTorch workload named {key}")
        result[workload] = seconds[key]
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("workload", help="ours, comma-separated")
    parser.add_argument("--theirs", help="PyTorch's, comma-separated (default: ours)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--python", default="/usr/bin/python3",
                        help="an interpreter with torch (e.g. /work/venv-torch/bin/python)")
    args = parser.parse_args()
    our_names = args.workload.split(",")
    their_names = (args.theirs or args.workload).split(",")
    best_ours, best_theirs = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        a, b = os.path.join(tmp, "ours.json"), os.path.join(tmp, "theirs.json")
        for r in range(args.rounds):
            mine = ours(our_names, args.threads, a)
            yours = theirs(their_names, args.threads, b, args.python)
            for best, times in ((best_ours, mine), (best_theirs, yours)):
                for name, t in times.items():
                    best[name] = min(t, best.get(name, t))
            print(f"round {r + 1}: " + ", ".join(
                [f"Toadstool {n} {t * 1e3:.2f} ms" for n, t in mine.items()] +
                [f"PyTorch {n} {t * 1e3:.2f} ms" for n, t in yours.items()]))
    print(f"{args.threads} thread(s), best of {args.rounds} rounds:")
    for mine, t in best_ours.items():
        for yours, u in best_theirs.items():
            print(f"  Toadstool {mine} {t * 1e3:.2f} ms, PyTorch {yours} {u * 1e3:.2f} ms, "
                  f"time vs PyTorch {t / u:.2f}x")


if __name__ == "__main__":
    main()
