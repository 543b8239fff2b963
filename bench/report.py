#!/usr/bin/env python3
"""Combines one run of toadstool_bench with the PyTorch run of the same
workloads into the table of scripts/bench.sh (printed as Markdown, written as
JSON). Standard library only.

    bench/report.py --toadstool ours.json [--pytorch t1.json t2.json] --out report.json
"""
import argparse
import json
import re


def canonical(name):
    """'sgemm/4096/256/256/0/0/1/min_time:0.200/real_time' -> 'sgemm/4096/256/256/0/0/1'."""
    return "/".join(p for p in name.split("/") if not re.match(r"^(min_time|real_time|manual_time|iterations|repeats)", p))


def seconds(bench):
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[bench["time_unit"]]
    return bench["real_time"] * scale


def describe(name):
    """Human label and thread count from a canonical name."""
    parts = name.split("/")
    op, threads = parts[0], int(parts[-1])
    args = parts[1:-1]
    if op == "sgemm":
        m, n, k, ta, tb = args
        label = f"sgemm {m}x{n}x{k} {'T' if ta == '1' else 'N'}{'T' if tb == '1' else 'N'}"
    elif op.startswith("bf16_gemm_"):
        m, n, k, ta, tb = args
        label = (f"bf16 gemm ({op[len('bf16_gemm_'):]} path) {m}x{n}x{k} "
                 f"{'T' if ta == '1' else 'N'}{'T' if tb == '1' else 'N'}")
    elif op == "batched_gemm":
        b, m, n, k = args
        label = f"batched gemm {b} x ({m}x{n}x{k})"
    elif op in ("add", "mul", "gelu", "gelu_backward"):
        label = f"{op} 16M floats"
    elif op in ("row_sum", "softmax", "layer_norm"):
        label = f"{op} [8192, 256]"
    else:
        label = {"tiny_add": "tiny op: 1-element add",
                 "chain_grad": "100-multiply chain on 1 element, forward + backward",
                 "chain_no_grad": "100-multiply chain on 1 element, forward without grad",
                 "backward_one_node": "backward() of a one-node graph",
                 "mlp_step": "MLP 784-1024-1024-10 SGD step, batch 128",
                 "attention_fused": "attention fwd+bwd [32, 4, 256, 32], key padding, fused",
                 "attention_composite": "attention fwd+bwd [32, 4, 256, 32], key padding, composite",
                 "cross_entropy": "cross_entropy forward + backward [2048, 8192]",
                 "adamw_step": "AdamW step, 16M float32 params (PyTorch foreach=False)",
                 "steady_state": "repeated matmul+gelu+softmax+sum [4096, 256]",
                 "transformer_step": "TransformerClassifier AdamW step, batch 32 x 256 (IMDB config)",
                 "transformer_step_bf16": "the same step in bf16-mixed (CPU autocast to bfloat16)",
                 "transformer_gemms": "  its Linear matmuls alone, fwd + bwd",
                 "transformer_attention": "  its attention op alone, fwd + bwd, 2 layers",
                 "transformer_adamw": "  its AdamW step alone",
                 "conv2d_resnet": "Conv2d 64->64 3x3 fwd+bwd, x [32, 64, 56, 56] (ResNet stage)",
                 "lstm": "LSTM 256->256 fwd+bwd, x [32, 256, 256] batch first, 1 layer",
                 "imdb_tokenize_encode": "IMDB: tokenise + encode the 25,000 training reviews"}.get(op, op)
    return op, label, threads


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--toadstool", required=True)
    parser.add_argument("--pytorch", nargs="*", default=[])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    with open(args.toadstool) as f:
        ours = json.load(f)
    context = ours["context"]
    peak = {t: float(context[f"fma_peak_gflops_t{t}"]) for t in (1, 2)}
    stream = {t: float(context[f"stream_triad_gbs_t{t}"]) for t in (1, 2)}
    torch_seconds, torch_info, torch_rss = {}, [], {}
    for path in args.pytorch:
        with open(path) as f:
            data = json.load(f)
        torch_seconds.update(data["seconds"])
        torch_rss.update(data.get("peak_rss_growth_bytes", {}))
        torch_info.append(data["info"]["torch_version"])

    # Each benchmark ran five times; keep the best: its "min" time and the
    # "max" of its rate counters.
    best = {}
    # Registration order (bench.sh runs the benchmarks randomly interleaved).
    ordered = sorted(ours["benchmarks"],
                     key=lambda b: (b.get("family_index", 0), b.get("per_family_instance_index", 0)))
    for bench in ordered:
        kind = bench.get("aggregate_name")
        if kind not in ("min", "max"):
            continue
        entry = best.setdefault(canonical(bench["run_name"]), {})
        if kind == "min":
            entry.update({"real_time": bench["real_time"], "time_unit": bench["time_unit"]})
        else:
            entry.update({k: v for k, v in bench.items()
                          if k in ("GFLOPs", "GBs", "of_adjacent_peak", "of_path_peak",
                                   "page_faults_per_iter",
                                   "system_allocs_per_iter", "peak_rss_growth_MB",
                                   "allocator_peak_MB")})

    rows = []
    for name, bench in best.items():
        op, label, threads = describe(name)
        t = seconds(bench)
        row = {"name": name, "workload": label, "threads": threads, "seconds": t}
        if "GFLOPs" in bench:
            row["gflops"] = bench["GFLOPs"]
            row["fraction_of_fma_peak"] = bench["GFLOPs"] / peak[threads]
        if "of_adjacent_peak" in bench:
            row["fraction_of_adjacent_fma_peak"] = bench["of_adjacent_peak"]
        if "of_path_peak" in bench:  # bf16 GEMM: of its path's own peak (VDPBF16PS, AMX or FMA)
            row["fraction_of_adjacent_path_peak"] = bench["of_path_peak"]
        if "GBs" in bench:
            row["gbs"] = bench["GBs"]
            row["fraction_of_stream"] = bench["GBs"] / stream[threads]
        for counter in ("page_faults_per_iter", "system_allocs_per_iter"):
            if counter in bench:
                row[counter] = bench[counter]
        for counter in ("peak_rss_growth_MB", "allocator_peak_MB"):
            if counter in bench:
                row[counter] = bench[counter]
        if name in torch_rss:
            row["pytorch_peak_rss_growth_MB"] = torch_rss[name] / 2**20
        if name in torch_seconds:
            row["pytorch_seconds"] = torch_seconds[name]
            row["time_vs_pytorch"] = t / torch_seconds[name]
        rows.append(row)
        # The AdamW step against PyTorch's default (foreach) too.
        default = name.replace("adamw_step/", "adamw_step_default/")
        if op == "adamw_step" and default in torch_seconds:
            rows.append(dict(row, name=default, pytorch_seconds=torch_seconds[default],
                             time_vs_pytorch=t / torch_seconds[default],
                             workload="AdamW step, 16M float32 params (PyTorch default)"))

    # The autograd cost per node: the chain with grad minus without, per multiply.
    for threads in (1, 2):
        with_grad = next((r for r in rows if r["name"] == f"chain_grad/{threads}"), None)
        without = next((r for r in rows if r["name"] == f"chain_no_grad/{threads}"), None)
        if with_grad and without:
            rows.append({"name": f"autograd_per_node/{threads}",
                         "workload": "autograd cost per node (chain with grad - without) / 100",
                         "threads": threads,
                         "seconds": (with_grad["seconds"] - without["seconds"]) / 100})

    # Where the time of the Transformer step goes: its pieces timed alone.
    breakdown = []
    for threads in (1, 2):
        parts = {r["name"].split("/")[0]: r["seconds"] for r in rows
                 if r["threads"] == threads and r["name"].startswith("transformer_")}
        if {"transformer_step", "transformer_gemms", "transformer_attention",
                "transformer_adamw"} <= parts.keys():
            total = parts["transformer_step"]
            pieces = {"GEMM": parts["transformer_gemms"],
                      "attention": parts["transformer_attention"],
                      "optimizer": parts["transformer_adamw"]}
            pieces["element-wise/other"] = total - sum(pieces.values())
            breakdown.append({"threads": threads, "step_seconds": total,
                              "seconds": pieces})

    print(f"Machine (measured in this run): FMA peak {peak[1]:.1f} GFLOP/s (1 thread), "
          f"{peak[2]:.1f} (2 threads); STREAM triad {stream[1]:.1f} GB/s (1 thread), "
          f"{stream[2]:.1f} (2 threads)")
    print(f"PyTorch: {', '.join(sorted(set(torch_info))) or 'not run'}\n")
    print("| workload | threads | Toadstool | of machine peak | PyTorch | time vs PyTorch |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        if "gflops" in r and "peak_rss_growth_MB" in r:
            ours_txt = f"{r['seconds'] * 1e3:.1f} ms, {r['gflops']:.1f} GFLOP/s"
            frac = (f"{100 * r['fraction_of_fma_peak']:.0f}% FMA; "
                    f"{r['page_faults_per_iter']:.2f} page faults, "
                    f"{r['system_allocs_per_iter']:.2f} system allocations per step")
        elif "gflops" in r:
            ours_txt, frac = f"{r['gflops']:.1f} GFLOP/s", f"{100 * r['fraction_of_fma_peak']:.0f}% FMA"
            if "fraction_of_adjacent_fma_peak" in r:
                frac += f" ({100 * r['fraction_of_adjacent_fma_peak']:.0f}% adjacent)"
            if "fraction_of_adjacent_path_peak" in r:
                frac += f"; {100 * r['fraction_of_adjacent_path_peak']:.0f}% of its path's peak"
        elif "gbs" in r:
            ours_txt, frac = f"{r['gbs']:.1f} GB/s", f"{100 * r['fraction_of_stream']:.0f}% STREAM"
        elif "page_faults_per_iter" in r:
            ours_txt = f"{r['seconds'] * 1e6:.0f} us"
            frac = (f"{r['page_faults_per_iter']:.2f} page faults, "
                    f"{r['system_allocs_per_iter']:.2f} system allocations per iteration")
        else:
            ours_txt, frac = f"{r['seconds'] * 1e6:.3f} us", ""
        if r["seconds"] >= 0.01 and "gflops" not in r and "gbs" not in r:
            ours_txt = f"{r['seconds'] * 1e3:.1f} ms"
        torch_txt = f"{r['pytorch_seconds'] * 1e6:.1f} us" if "pytorch_seconds" in r else "-"
        ratio = f"{r['time_vs_pytorch']:.2f}x" if "time_vs_pytorch" in r else "-"
        print(f"| {r['workload']} | {r['threads']} | {ours_txt} | {frac} | {torch_txt} | {ratio} |")

    memory_rows = [r for r in rows if "peak_rss_growth_MB" in r]
    if memory_rows:
        print("\n| peak memory over one step | threads | Toadstool RSS growth | Toadstool "
              "allocator peak | PyTorch RSS growth | RSS vs PyTorch |")
        print("|---|---:|---:|---:|---:|---:|")
        for r in memory_rows:
            ours_mb, theirs = r["peak_rss_growth_MB"], r.get("pytorch_peak_rss_growth_MB")
            theirs_txt = f"{theirs:.0f} MiB" if theirs else "-"
            ratio = f"{ours_mb / theirs:.2f}x" if theirs else "-"
            print(f"| {r['workload']} | {r['threads']} | {ours_mb:.0f} MiB | "
                  f"{r['allocator_peak_MB']:.0f} MiB | {theirs_txt} | {ratio} |")
    for b in breakdown:
        print(f"\nTransformer step at {b['threads']} thread(s), {b['step_seconds'] * 1e3:.0f} ms: " +
              ", ".join(f"{k} {v * 1e3:.0f} ms ({100 * v / b['step_seconds']:.0f}%)"
                        for k, v in b["seconds"].items()))

    trainer = trainer_rows(ours["benchmarks"])
    if trainer:
        print("\nTrainer: its own cost per optimizer step, against a hand-written loop over the "
              "same loader (medians over interleaved rounds, CPU time, 1 thread; "
              "docs/benchmarks_trainer.md)\n")
        print("| workload | hand loop | Trainer::fit | overhead | target | per-round quartiles "
              "| wall-time overhead | + 5 empty callbacks |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in trainer:
            print(f"| {r['workload']} | {r['hand_us']:.2f} us | {r['trainer_us']:.2f} us | "
                  f"{r['overhead_pct']:+.2f}% ({r['overhead_us']:+.2f} us) | {r['target']} | "
                  f"{r['overhead_pct_q1']:+.1f}% .. {r['overhead_pct_q3']:+.1f}% | "
                  f"{r['wall_overhead_pct']:+.2f}% | {r['callbacks_overhead_us']:+.2f} us |")

    with open(args.out, "w") as f:
        json.dump({"machine": {"fma_peak_gflops": peak, "stream_triad_gbs": stream},
                   "pytorch": sorted(set(torch_info)), "rows": rows,
                   "transformer_breakdown": breakdown, "trainer": trainer}, f, indent=1)


def trainer_rows(benchmarks):
    """bench/bench_trainer.cpp's entries: one run each (no repetitions), the
    figures in its counters."""
    labels = {"trainer_mlp": ("Fashion-MNIST MLP 784-512-256-10, Adam, batch 128", "<= 1%"),
              "trainer_tiny": ("Linear(4, 1), SGD, batch 8", "<= 2 us")}
    rows = []
    for bench in benchmarks:
        op = bench["name"].split("/")[0]
        if op not in labels or bench.get("run_type") == "aggregate":
            continue
        workload, target = labels[op]
        rows.append({"name": canonical(bench["name"]), "workload": workload, "target": target,
                     **{k: bench[k] for k in ("hand_us", "trainer_us", "overhead_pct",
                                              "overhead_pct_q1", "overhead_pct_q3",
                                              "overhead_us", "wall_overhead_pct",
                                              "callbacks_overhead_us", "rounds",
                                              "steps_per_epoch")}})
    return rows


if __name__ == "__main__":
    main()
