#!/usr/bin/env python3
"""Writes tests/golden/data/attention.txt, replayed by Golden.Attention in
tests/tensor/test_attention.cpp: scaled-dot-product attention in float32,
its output and the gradients of sum(out * r) with respect to q, k and v.

PyTorch 1.13 (Debian's, /usr/bin/python3) has no
F.scaled_dot_product_attention, so the reference is its composite in the
semantics of PyTorch 2.x: softmax(q k^T * scale + mask) v, a bool mask true
where the key takes part, is_causal = keys j <= query i.

    /usr/bin/python3 tests/golden/make_attention_golden.py

Labels: q, k, v, r (float32), mask (bool or float32, absent when none),
is_causal (0-d bool), scale (0-d float64, absent for 1/sqrt(E)), out,
grad_q, grad_k, grad_v. Format: tests/golden/README.md.
"""
import math

import torch

from make_golden import Group


def composite(q, k, v, mask, is_causal, scale):
    L, S = q.shape[-2], k.shape[-2]
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = q @ k.transpose(-1, -2) * scale
    if is_causal:
        scores = scores.masked_fill(~torch.ones(L, S, dtype=torch.bool).tril(), -math.inf)
    if mask is not None:
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, -math.inf)
        else:
            scores = scores + mask
    return torch.softmax(scores, -1) @ v


def case(g, batch, L, S, E, Ev, mask=None, is_causal=False, scale=None):
    q, k, v = (torch.randn(*batch, n, d).requires_grad_() for n, d in ((L, E), (S, E), (S, Ev)))
    r = torch.randn(*batch, L, Ev)
    out = composite(q, k, v, mask, is_causal, scale)
    (out * r).sum().backward()
    tensors = {"q": q, "k": k, "v": v, "r": r}
    if mask is not None:
        tensors["mask"] = mask
    tensors["is_causal"] = torch.tensor(is_causal)
    if scale is not None:
        tensors["scale"] = torch.tensor(scale, dtype=torch.float64)
    tensors.update(out=out, grad_q=q.grad, grad_k=k.grad, grad_v=v.grad)
    g.add_named("attention", tensors)


def key_padding(batch, S):
    """[B, 1, 1, S], true for real keys: sequence b has its last b + 1 keys padded."""
    keep = torch.ones(batch, 1, 1, S, dtype=torch.bool)
    for b in range(batch):
        keep[b, ..., S - 1 - b:] = False
    return keep


def main():
    torch.manual_seed(0)
    g = Group("attention.txt")
    case(g, (2, 3), 6, 6, 8, 8, mask=key_padding(2, 6))
    case(g, (2, 2), 5, 7, 4, 6, is_causal=True)
    case(g, (2, 2), 5, 7, 4, 4, mask=torch.randn(5, 7), scale=0.3)
    case(g, (1, 2), 4, 4, 3, 3, mask=torch.rand(1, 2, 4, 4) < 0.8, is_causal=False)
    # Several tiles both ways (64 queries, 128 keys per tile).
    case(g, (1, 1), 70, 140, 4, 3, mask=key_padding(1, 140))
    g.write()
    print(f"PyTorch {torch.__version__}")


if __name__ == "__main__":
    main()
