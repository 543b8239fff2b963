#!/usr/bin/env python3
"""Runs the workloads of bench/bench_tensor.cpp in PyTorch, at one thread count.

Development-time reference only (PyTorch is never a dependency of Toadstool).
Run it with an interpreter that has torch, once per thread count, with
OPENBLAS_NUM_THREADS set to the same count before the interpreter starts:

    OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/pytorch_workloads.py --threads 2 --out t2.json

Names match the Google Benchmark names (op/args.../threads) so that
bench/report.py can pair them.
"""
import argparse
import ctypes
import json
import math
import re
import time

import torch

ELEMENTWISE_N = 16 * 1024 * 1024
ROWS, COLS = 8192, 256
GEMM_SHAPES = [(4096, 256, 256), (4096, 1024, 256), (4096, 256, 1024), (256, 256, 4096),
               (1024, 1024, 1024)]


def calls_per_batch(fn, min_time=0.2):
    """How many calls make one timed batch long enough to measure (min_time / 5)."""
    fn()
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        if time.perf_counter() - start >= min_time / 5:
            return calls
        calls *= 2


def best_seconds_per_call(named_fns, rounds=5):
    """Best of `rounds` timed batches per workload, the workloads taken in turn
    each round: each workload's batches are spread over the whole run, so a
    stretch in which the machine is slow (a shared VM) does not decide one
    workload's figure. bench.sh runs Toadstool's side the same way (Google
    Benchmark's random interleaving)."""
    calls = {name: calls_per_batch(fn) for name, fn in named_fns}
    best = {name: float("inf") for name, _ in named_fns}
    for _ in range(rounds):
        for name, fn in named_fns:
            start = time.perf_counter()
            for _ in range(calls[name]):
                fn()
            best[name] = min(best[name], (time.perf_counter() - start) / calls[name])
    return best


def seconds_per_call(fn):
    """Best of five timed batches of one workload."""
    return best_seconds_per_call([("fn", fn)])["fn"]


def operand(rows, cols, transposed):
    return torch.randn(cols, rows).t() if transposed else torch.randn(rows, cols)


def workloads(threads):
    for m, n, k in GEMM_SHAPES:
        for ta in (0, 1):
            for tb in (0, 1):
                a, b = operand(m, k, ta), operand(k, n, tb)
                yield f"sgemm/{m}/{n}/{k}/{ta}/{tb}/{threads}", lambda a=a, b=b: torch.matmul(a, b)
    for batch, m, n, k in [(128, 128, 128, 64), (128, 128, 64, 128)]:
        a, b = torch.randn(batch, m, k), torch.randn(batch, k, n)
        yield f"batched_gemm/{batch}/{m}/{n}/{k}/{threads}", lambda a=a, b=b: torch.matmul(a, b)
    x, y = torch.randn(ELEMENTWISE_N), torch.randn(ELEMENTWISE_N)
    yield f"add/{threads}", lambda: torch.add(x, y)
    yield f"mul/{threads}", lambda: torch.mul(x, y)
    yield f"gelu/{threads}", lambda: torch.nn.functional.gelu(x)
    yield f"gelu_backward/{threads}", lambda: torch.ops.aten.gelu_backward(y, x)
    rows = torch.randn(ROWS, COLS)
    w, b = torch.randn(COLS), torch.randn(COLS)
    yield f"row_sum/{threads}", lambda: rows.sum(1)
    yield f"softmax/{threads}", lambda: torch.softmax(rows, -1)
    yield f"layer_norm/{threads}", lambda: torch.nn.functional.layer_norm(rows, (COLS,), w, b)
    one_a, one_b = torch.ones(1), torch.ones(1)
    yield f"tiny_add/{threads}", lambda: torch.add(one_a, one_b)


def mlp_step_workload(threads):
    """One SGD step of the MLP 784-1024-1024-10 of bench/bench_autograd.cpp
    (weights [in, out], x @ w), with autograd on."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(128, 784, generator=g)
    y = torch.randint(0, 10, (128, 1), generator=g)
    params = []
    for n_in, n_out in [(784, 1024), (1024, 1024), (1024, 10)]:
        params.append((torch.randn(n_in, n_out, generator=g) / n_in ** 0.5).requires_grad_())
        params.append(torch.zeros(n_out, requires_grad=True))

    def step():
        h = torch.relu(x @ params[0] + params[1])
        h = torch.relu(h @ params[2] + params[3])
        logits = h @ params[4] + params[5]
        loss = -torch.log_softmax(logits, 1).gather(1, y).mean()
        loss.backward()
        with torch.no_grad():
            for p in params:
                p.sub_(p.grad, alpha=0.01)
                p.grad = None

    yield f"mlp_step/{threads}", step


def attention_workload(threads):
    """Forward + backward of attention at the IMDB Transformer shape, q, k, v
    [32, 4, 256, 32] with a key-padding mask, as in bench/bench_attention.cpp.
    PyTorch 1.13 has no F.scaled_dot_product_attention: its composite is the
    reference for both the fused and the composite Toadstool rows."""
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(32, 4, 256, 32, generator=g).requires_grad_() for _ in range(3))
    grad_out = torch.randn(32, 4, 256, 32, generator=g)
    lengths = 256 - 4 * torch.arange(32).view(32, 1, 1, 1)
    padded = torch.arange(256).view(1, 1, 1, 256) >= lengths
    scale = 1 / 32 ** 0.5

    def step():
        scores = (q @ k.transpose(-1, -2) * scale).masked_fill(padded, -float("inf"))
        out = torch.softmax(scores, -1) @ v
        out.backward(grad_out)
        for t in (q, k, v):
            t.grad = None

    yield f"attention_fused/{threads}", step
    yield f"attention_composite/{threads}", step


def conv2d_workload(threads):
    """nn.Conv2d(64, 64, 3, padding=1) forward + backward on x [32, 64, 56, 56]
    (a ResNet stage), the gradients of input, weight and bias, as
    BM_conv2d_resnet in bench/bench_nn.cpp."""
    torch.manual_seed(7)
    conv = torch.nn.Conv2d(64, 64, 3, padding=1)
    g = torch.Generator().manual_seed(8)
    x = torch.randn(32, 64, 56, 56, generator=g).requires_grad_()
    grad_out = torch.randn(32, 64, 56, 56, generator=g)

    def step():
        conv(x).backward(grad_out)
        x.grad = None
        conv.zero_grad(set_to_none=True)

    yield f"conv2d_resnet/{threads}", step


def lstm_workload(threads):
    """nn.LSTM forward + backward (one layer, batch 32, sequence 256, input
    256, hidden 256, batch_first), as BM_lstm in bench/bench_nn.cpp: the
    gradients of the input and every parameter from a fixed projection of
    the output."""
    torch.manual_seed(7)
    lstm = torch.nn.LSTM(256, 256, batch_first=True)
    g = torch.Generator().manual_seed(8)
    x = torch.randn(32, 256, 256, generator=g).requires_grad_()
    grad_out = torch.randn(32, 256, 256, generator=g)

    def step():
        lstm(x)[0].backward(grad_out)
        x.grad = None
        lstm.zero_grad(set_to_none=True)

    yield f"lstm/{threads}", step


def cross_entropy_workload(threads):
    """F.cross_entropy forward + backward on float32 logits [2048, 8192], as
    BM_cross_entropy in bench/bench_autograd.cpp."""
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(2048, 8192, generator=g).requires_grad_()
    target = torch.randint(0, 8192, (2048,), generator=g)

    def step():
        torch.nn.functional.cross_entropy(logits, target).backward()
        logits.grad = None

    yield f"cross_entropy/{threads}", step


def adamw_workload(threads):
    """One AdamW step over 16M float32 parameters (bench/bench_optim.cpp), with
    the per-tensor loop (foreach=False, what Toadstool's fused step is compared
    with) and with PyTorch's default for CPU tensors."""
    param = torch.randn(ELEMENTWISE_N, requires_grad=True)
    param.grad = torch.randn(ELEMENTWISE_N)
    for name, kwargs in [("adamw_step", {"foreach": False}), ("adamw_step_default", {})]:
        opt = torch.optim.AdamW([param], lr=1e-3, **kwargs)
        opt.step()  # creates the state
        yield f"{name}/{threads}", opt.step


def proc_status_kb(key):
    with open("/proc/self/status") as f:
        return int(re.search(key + r":\s+(\d+)", f.read()).group(1))


def peak_rss_growth(fn):
    """Peak RSS growth over one call of fn, in bytes, measured as
    bench/bench_nn.cpp does: glibc's free memory is returned to the system
    first (malloc_trim, as Toadstool empties its allocator's cache), the
    high-water mark is reset (clear_refs 5), then VmHWM - VmRSS before."""
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = proc_status_kb("VmRSS")
    fn()
    return 1024 * (proc_status_kb("VmHWM") - before)


class Sinusoidal(torch.nn.Module):
    def __init__(self, d, max_len):
        super().__init__()
        pos = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
        i = torch.arange(d)
        angle = pos * torch.exp(-math.log(10000.0) * (i - i % 2).double() / d)
        pe = torch.where(i % 2 == 0, torch.sin(angle), torch.cos(angle))
        self.register_buffer("pe", pe.float(), persistent=False)

    def forward(self, x):
        return x + self.pe[: x.shape[1]]


class TransformerClassifier(torch.nn.Module):
    """nn/zoo/transformer_classifier.h with its default (IMDB) options, as in
    tests/golden/make_nn_golden.py: mean pooling, sinusoidal, ReLU, post-norm."""

    def __init__(self, vocab=20000, d=128, heads=4, layers=2, ff=512, dropout=0.1, max_len=512,
                 classes=2):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, d, padding_idx=0)
        self.pos_encoding = Sinusoidal(d, max_len)
        self.dropout = torch.nn.Dropout(dropout)
        layer = torch.nn.TransformerEncoderLayer(d, heads, ff, dropout=dropout, batch_first=True)
        self.encoder = torch.nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = torch.nn.Linear(d, classes)

    def forward(self, ids):
        padding = ids == 0
        x = self.dropout(self.pos_encoding(self.embedding(ids)))
        x = self.encoder(x, src_key_padding_mask=padding)
        keep = (~padding).float().unsqueeze(2)
        pooled = (x * keep).sum(1) / keep.sum(1).clamp(min=1)
        return self.head(pooled)


def transformer_step_workload(threads):
    """The training step of bench/bench_nn.cpp: zero_grad (to none, as
    Toadstool's default), forward, F.cross_entropy, backward, AdamW, on a
    batch of 32 x 256 token ids where sequence b has its last 4 b tokens
    padded. Also the peak RSS growth over one step after warm-up."""
    torch.manual_seed(0)
    model = TransformerClassifier()
    model.train()
    optimizer = torch.optim.AdamW(model.parameters())
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(1, 20000, (32, 256), generator=g)
    ids[torch.arange(256).view(1, 256) >= 256 - 4 * torch.arange(32).view(32, 1)] = 0
    labels = torch.randint(0, 2, (32,), generator=g)

    def step():
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(ids), labels).backward()
        optimizer.step()

    def step_bf16():  # torch.autocast("cpu", bfloat16) around forward and loss
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = torch.nn.functional.cross_entropy(model(ids), labels)
        loss.backward()
        optimizer.step()

    step()
    step()
    memory[f"transformer_step/{threads}"] = peak_rss_growth(step)
    yield f"transformer_step/{threads}", step
    step_bf16()
    yield f"transformer_step_bf16/{threads}", step_bf16


memory = {}  # name -> peak RSS growth over one step, bytes


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--filter", default="", help="run only workloads whose name matches")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    results = {}
    with torch.no_grad():
        results.update(best_seconds_per_call(
            [(name, fn) for name, fn in workloads(args.threads) if re.search(args.filter, name)]))
    for workload in (mlp_step_workload, attention_workload, cross_entropy_workload,
                     adamw_workload, transformer_step_workload, conv2d_workload,
                     lstm_workload):
        for name, fn in workload(args.threads):
            if re.search(args.filter, name):
                results[name] = seconds_per_call(fn)
    info = {"torch_version": torch.__version__, "threads": args.threads,
            "config": torch.__config__.show()}
    with open(args.out, "w") as f:
        json.dump({"info": info, "seconds": results, "peak_rss_growth_bytes": memory}, f, indent=1)


if __name__ == "__main__":
    main()
