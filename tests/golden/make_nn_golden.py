#!/usr/bin/env python3
"""Writes tests/golden/data/nn_modules.txt, replayed by tests/golden/test_nn_parity.cpp:
PyTorch's own modules with their own weights, which the C++ test loads into
the matching Toadstool modules (same parameter names) to compare.

  encoder_layer/<n>: a torch.nn.TransformerEncoderLayer (batch_first) with a
    key-padding mask, dropout 0: input x, padding (bool [B, L], true = pad),
    projection r, out, then "param.<name>" and "grad.<name>" for every
    parameter (gradients of sum(out * r)). Options as 0-d tensors.
  classifier/<n>: the TransformerClassifier twin below, ten AdamW steps of
    cross-entropy on one fixed batch, dropout 0: ids, labels, the initial
    "param.<name>"s and "losses" [10].

  encoder_layer.safetensors: the first encoder layer's state dict, written by
    PyTorch's `safetensors` (needs the package: a venv outside the repo,
    `/usr/bin/python3 -m venv --system-site-packages /tmp/venv-st &&
    /tmp/venv-st/bin/pip install safetensors`). The C++ test loads it into a
    Toadstool layer and compares with encoder_layer/0's output.
  --check-ours BUILD_DIR: runs the unit test that saves a Toadstool
    TransformerEncoderLayer with save_safetensors, loads that file into
    torch.nn.TransformerEncoderLayer and checks that both give the same output.

    /tmp/venv-st/bin/python tests/golden/make_nn_golden.py [--check-ours build]
"""
import argparse
import os
import subprocess
import sys
import tempfile

import math

import torch
from torch import nn

from make_golden import Group


def scalars(**values):
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in values.items()}


def encoder_layer_case(g, B, L, d, heads, ff, activation, norm_first, safetensors_path=None):
    layer = nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0, activation=activation,
                                       batch_first=True, norm_first=norm_first)
    # Non-trivial norms and biases, so every parameter is exercised.
    with torch.no_grad():
        for name, p in layer.named_parameters():
            if "norm" in name or "bias" in name:
                p.add_(0.1 * torch.randn_like(p))
    x = torch.randn(B, L, d)
    padding = torch.zeros(B, L, dtype=torch.bool)
    for b in range(B):
        padding[b, L - b:] = True  # sequence b has its last b tokens padded
    r = torch.randn(B, L, d)
    out = layer(x, src_key_padding_mask=padding)
    (out * r).sum().backward()
    if safetensors_path:
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in layer.state_dict().items()}, safetensors_path)
    tensors = scalars(d_model=d, nhead=heads, dim_feedforward=ff,
                      gelu=activation == "gelu", norm_first=norm_first)
    tensors.update(x=x, padding=padding, r=r, out=out)
    for name, p in layer.named_parameters():
        tensors["param." + name] = p
    for name, p in layer.named_parameters():
        tensors["grad." + name] = p.grad
    g.add_named("encoder_layer", tensors)


class Sinusoidal(nn.Module):
    def __init__(self, d, max_len):
        super().__init__()
        pos = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
        i = torch.arange(d)
        freq = torch.exp(-math.log(10000.0) * (i - i % 2).double() / d)
        angle = pos * freq
        pe = torch.where(i % 2 == 0, torch.sin(angle), torch.cos(angle))
        self.register_buffer("pe", pe.float(), persistent=False)

    def forward(self, x):
        return x + self.pe[: x.shape[1]]


class Learned(nn.Module):
    def __init__(self, max_len, d):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(max_len, d))

    def forward(self, x):
        return x + self.weight[: x.shape[1]]


class TransformerClassifier(nn.Module):
    """The twin of nn/zoo/transformer_classifier.h."""

    def __init__(self, vocab, d, heads, layers, ff, max_len, classes, pooling, positional,
                 activation, norm_first):
        super().__init__()
        self.pooling = pooling
        self.embedding = nn.Embedding(vocab, d, padding_idx=0)
        self.pos_encoding = Sinusoidal(d, max_len) if positional == "sinusoidal" else Learned(max_len, d)
        self.dropout = nn.Dropout(0.0)
        layer = nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0, activation=activation,
                                           batch_first=True, norm_first=norm_first)
        self.encoder = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(d) if norm_first else None,
                                             enable_nested_tensor=False)
        self.head = nn.Linear(d, classes)
        if pooling == "cls":
            self.cls_token = nn.Parameter(0.02 * torch.randn(1, 1, d))

    def forward(self, ids):
        padding = ids == 0
        x = self.dropout(self.pos_encoding(self.embedding(ids)))
        if self.pooling == "cls":
            x = torch.cat([self.cls_token.expand(ids.shape[0], 1, -1), x], 1)
            padding = torch.cat([torch.zeros(ids.shape[0], 1, dtype=torch.bool), padding], 1)
        x = self.encoder(x, src_key_padding_mask=padding)
        if self.pooling == "cls":
            pooled = x[:, 0]
        else:
            keep = (~padding).float().unsqueeze(2)
            pooled = (x * keep).sum(1) / keep.sum(1).clamp(min=1)
        return self.head(pooled)


def classifier_case(g, pooling, positional, activation, norm_first):
    vocab, d, heads, layers, ff, max_len, classes, B, L = 50, 16, 2, 2, 32, 16, 3, 4, 12
    model = TransformerClassifier(vocab, d, heads, layers, ff, max_len, classes, pooling,
                                  positional, activation, norm_first)
    ids = torch.randint(1, vocab, (B, L))
    for b in range(B):
        ids[b, L - 2 * b:] = 0  # padding at the end of sequence b
    labels = torch.randint(0, classes, (B,))
    tensors = scalars(vocab_size=vocab, d_model=d, nhead=heads, num_layers=layers,
                      dim_feedforward=ff, max_len=max_len, num_classes=classes,
                      cls=pooling == "cls", learned=positional == "learned",
                      gelu=activation == "gelu", norm_first=norm_first,
                      lr=1e-2, weight_decay=0.01)
    tensors.update(ids=ids, labels=labels)
    for name, p in model.named_parameters():
        tensors["param." + name] = p.detach().clone()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
    losses = []
    for _ in range(10):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(ids), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    tensors["losses"] = torch.tensor(losses, dtype=torch.float64)
    g.add_named("classifier", tensors)


def check_ours(build_dir):
    """Toadstool writes a layer (NnParity.SavesALayerPyTorchLoads), PyTorch loads it."""
    from safetensors.torch import load_file
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "toadstool_layer.safetensors")
        subprocess.run([os.path.join(build_dir, "tests", "toadstool_nn_tests"),
                        "--gtest_filter=NnParity.SavesALayerPyTorchLoads"],
                       env=dict(os.environ, TOADSTOOL_SAVE_LAYER=path), check=True)
        state = load_file(path)
        layer = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True)
        layer.load_state_dict(state)  # strict: every name must match
        x = torch.arange(2 * 5 * 16, dtype=torch.float32).reshape(2, 5, 16).sin()
        out = layer(x)
        expected = load_file(path.replace(".safetensors", ".out.safetensors"))["out"]
        err = (out - expected).abs().max().item()
        print(f"check-ours: PyTorch output of the Toadstool-saved layer differs by {err:.2e}")
        if err > 1e-5:
            sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--check-ours", metavar="BUILD_DIR")
    args = parser.parse_args()
    if args.check_ours:
        check_ours(args.check_ours)
        return
    torch.manual_seed(0)
    g = Group("nn_modules.txt")
    try:
        import safetensors  # noqa: F401
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                            "encoder_layer.safetensors")
    except ImportError:
        print("no safetensors package: encoder_layer.safetensors is left as it is")
        path = None
    encoder_layer_case(g, 3, 7, 16, 4, 32, "relu", False, path)
    encoder_layer_case(g, 2, 9, 24, 3, 40, "gelu", True)
    classifier_case(g, "mean", "sinusoidal", "relu", False)
    classifier_case(g, "cls", "learned", "gelu", True)
    g.write()


if __name__ == "__main__":
    main()
