#!/usr/bin/env python3
"""The PyTorch twin of examples/imdb's default recipe, for a side-by-side
comparison of accuracy and wall time on the same machine. A development-time
reference only (like tests/golden/): PyPI's torch in a virtual environment
outside the repository, or Debian's python3-torch (1.13); never a dependency
of Toadstool.

    python3 -m venv ~/venv-torch && ~/venv-torch/bin/pip install torch
    build/release/examples/imdb/imdb --out out/imdb        # writes validation_split.json
    ~/venv-torch/bin/python examples/imdb/pytorch_twin.py --threads 2 \
        --data ../shared/data/imdb/aclImdb_train.tar.gz --split out/imdb/validation_split.json

With Debian's torch, run /usr/bin/python3 with OPENBLAS_CORETYPE=SkylakeX
(Haswell on an AVX2-only CPU): its OpenBLAS (0.3.21) falls back to generic
kernels on CPUs it does not know, as this project's Xeons.

Everything the recipe fixes is the same as the C++ example's defaults (the
flags below have the same names and defaults): the validation reviews (read
from the example's validation_split.json), the tokenizer and vocabulary
rules (docs/imdb.md), 400 tokens (head), length-bucketed batches of 32 padded
to their longest, the model (d_model 128, 4 heads, 2 post-norm layers,
feed-forward 512, ReLU, dropout 0.2, sinusoidal positions, word dropout to
<unk>, a zero-initialised 16-wide embedding of the token bigrams hashed into
2^20 buckets with the same hash and projected to d_model, mean pooling over
the real tokens), AdamW (lr 1e-3, weight decay 0.05) on a one-cycle schedule
with 10% warm-up stepped per batch, gradient norm clipped at 1, 2 epochs,
the best epoch's validation accuracy reported. What differs: the random
numbers (initialisation, dropout, shuffling), which PyTorch draws from its
own generator.
"""
import argparse
import json
import math
import os
import random
import re
import tarfile
import time

import torch
from torch import nn

BR = re.compile(rb"<[bB][rR] */?>")


def tokenize(text):
    """toadstool-words-1 on bytes: <br /> -> space, ASCII lower case, word runs
    (letters, digits, bytes >= 0x80, inner apostrophes) or runs of one
    punctuation byte."""
    s = BR.sub(b" ", text).lower()  # bytes.lower() touches ASCII only
    tokens, i, n = [], 0, len(s)
    word = lambda c: (97 <= c <= 122) or (48 <= c <= 57) or c >= 0x80
    while i < n:
        c = s[i]
        if c <= 32 or c == 0x7F:
            i += 1
            continue
        j = i + 1
        if word(c):
            while j < n and (word(s[j]) or (s[j] == 39 and j + 1 < n and word(s[j + 1]))):
                j += 1
        else:
            while j < n and s[j] == c:
                j += 1
        tokens.append(s[i:j])
        i = j
    return tokens


def read_reviews(path):
    """(label, id, text) of every train/{pos,neg}/<id>_<rating>.txt member."""
    out = []
    with tarfile.open(path) as archive:
        for member in archive:
            parts = member.name.rstrip("/").split("/")
            if len(parts) >= 3 and parts[-3] == "train" and parts[-2] in ("pos", "neg"):
                review_id = int(parts[-1].split("_")[0])
                out.append((1 if parts[-2] == "pos" else 0, review_id,
                            archive.extractfile(member).read()))
    return sorted(out)


def build_vocabulary(texts, max_size=20000, min_count=2):
    counts = {}
    for t in texts:
        for tok in tokenize(t):
            counts[tok] = counts.get(tok, 0) + 1
    ranked = sorted((tok for tok, c in counts.items() if c >= min_count),
                    key=lambda tok: (-counts[tok], tok))
    return {tok: i + 2 for i, tok in enumerate(ranked[: max_size - 2])}


def _signed(c):
    """A 64-bit constant as the int64 of the same bits."""
    return c - (1 << 64) if c >= 1 << 63 else c


def _shr(x, k):
    """Logical right shift of int64 bit patterns."""
    return (x >> k) & ((1 << (64 - k)) - 1)


def hashed_bigrams(ids, buckets):
    """kernels/cpu/indexing.h bigram_bucket on a batch ids [B, L]: splitmix64's
    finaliser of (previous id, id) in wrapping int64 arithmetic, the first
    id pairing with <pad> (0), 1 + h mod (buckets - 1); padding gets 0."""
    prev = torch.cat([torch.zeros_like(ids[:, :1]), ids[:, :-1]], 1)
    h = prev * _signed(0x9E3779B97F4A7C15) + ids
    h = (h ^ _shr(h, 30)) * _signed(0xBF58476D1CE4E5B9)
    h = (h ^ _shr(h, 27)) * _signed(0x94D049BB133111EB)
    h = h ^ _shr(h, 31)
    m = buckets - 1
    unsigned_mod = ((_shr(h, 1) % m) * 2 + (h & 1)) % m  # h as unsigned, mod m
    return torch.where(ids == 0, torch.zeros_like(ids), 1 + unsigned_mod)


def bucketed_batches(lengths, batch, rng, pool_batches=50):
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = pool_batches * batch
    for b in range(0, len(order), pool):
        order[b:b + pool] = sorted(order[b:b + pool], key=lambda i: lengths[i])
    full = len(order) // batch
    batches = [order[k * batch:(k + 1) * batch] for k in range(full)]
    rng.shuffle(batches)
    if len(order) % batch:
        batches.append(order[full * batch:])
    return batches


def pad(seqs):
    longest = max(len(s) for s in seqs)
    x = torch.zeros(len(seqs), longest, dtype=torch.long)
    for r, s in enumerate(seqs):
        x[r, : len(s)] = torch.tensor(s)
    return x


class Classifier(nn.Module):
    def __init__(self, vocab, args):
        super().__init__()
        d = args.d_model
        self.buckets, self.token_dropout = args.bigrams, args.token_dropout
        self.embedding = nn.Embedding(vocab, d, padding_idx=0)
        self.bigram_embedding = nn.Embedding(args.bigrams, args.bigram_dim, padding_idx=0)
        nn.init.zeros_(self.bigram_embedding.weight)
        self.bigram_projection = nn.Linear(args.bigram_dim, d, bias=False)
        position = torch.arange(args.max_len).unsqueeze(1)
        div = torch.exp(torch.arange(0, d, 2) * (-math.log(10000.0) / d))
        pe = torch.zeros(args.max_len, d)
        pe[:, 0::2] = torch.sin(position * div)
        pe[:, 1::2] = torch.cos(position * div)
        self.register_buffer("pe", pe)
        self.dropout = nn.Dropout(args.dropout)
        layer = nn.TransformerEncoderLayer(d, args.heads, args.ff, args.dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, args.layers, enable_nested_tensor=False)
        self.head = nn.Linear(d, 2)

    def forward(self, ids):
        padding = ids == 0
        if self.training and self.token_dropout > 0:
            dropped = (torch.rand(ids.shape) < self.token_dropout) & ~padding
            ids = torch.where(dropped, torch.ones_like(ids), ids)  # <unk>
        bigrams = self.bigram_projection(self.bigram_embedding(hashed_bigrams(ids, self.buckets)))
        x = self.dropout(self.embedding(ids) + bigrams + self.pe[: ids.size(1)])
        x = self.encoder(x, src_key_padding_mask=padding)
        keep = (~padding).unsqueeze(2).to(x.dtype)
        return self.head((x * keep).sum(1) / keep.sum(1).clamp(min=1))


def accuracy(model, seqs, labels):
    model.eval()
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    correct = 0
    with torch.no_grad():
        for b in range(0, len(order), 128):
            idx = order[b:b + 128]
            logits = model(pad([seqs[i] for i in idx]))
            correct += (logits.argmax(1) == torch.tensor([labels[i] for i in idx])).sum().item()
    model.train()
    return correct / len(seqs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", required=True, help="the example's validation_split.json")
    # The recipe: the C++ example's defaults (examples/imdb/main.cpp).
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=float, default=0.1)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--label-smoothing", type=float, default=0.0)
    parser.add_argument("--clip", type=float, default=1.0)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--token-dropout", type=float, default=0.1)
    parser.add_argument("--vocab-size", type=int, default=20000)
    parser.add_argument("--min-count", type=int, default=2)
    parser.add_argument("--max-len", type=int, default=400)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--ff", type=int, default=512)
    parser.add_argument("--bigrams", type=int, default=1 << 20)
    parser.add_argument("--bigram-dim", type=int, default=16)
    parser.add_argument("--limit", type=int, help="train on at most this many reviews")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)

    start = time.time()
    reviews = read_reviews(args.data)
    valid_keys = {tuple(p) for p in json.load(open(args.split))}
    train = [r for r in reviews if (r[0], r[1]) not in valid_keys]
    if args.limit:  # a seeded sample: the list is ordered by label
        train = rng.sample(train, min(args.limit, len(train)))
    valid = [r for r in reviews if (r[0], r[1]) in valid_keys]
    vocab = build_vocabulary([r[2] for r in train], args.vocab_size, args.min_count)
    encode = lambda t: [vocab.get(tok, 1) for tok in tokenize(t)][: args.max_len]
    train_x, train_y = [encode(r[2]) for r in train], [r[0] for r in train]
    valid_x, valid_y = [encode(r[2]) for r in valid], [r[0] for r in valid]
    print(f"{len(train)} training, {len(valid)} validation reviews; data in {time.time() - start:.1f} s")

    model = Classifier(len(vocab) + 2, args)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps = math.ceil(len(train_x) / args.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, epochs=args.epochs,
                                                   steps_per_epoch=steps, pct_start=args.warmup)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    lengths = [len(s) for s in train_x]
    start = time.time()
    best = 0.0
    for epoch in range(args.epochs):
        total, epoch_start = 0.0, time.time()
        for batch in bucketed_batches(lengths, args.batch_size, rng):
            logits = model(pad([train_x[i] for i in batch]))
            loss = loss_fn(logits, torch.tensor([train_y[i] for i in batch]))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            schedule.step()
            total += loss.item()
        train_time = time.time() - epoch_start
        acc = accuracy(model, valid_x, valid_y)
        best = max(best, acc)
        print(f"epoch {epoch + 1}/{args.epochs}  train_loss {total / steps:.4f}  "
              f"valid accuracy {acc:.4f}  {train_time / steps * 1000:.0f} ms/step  "
              f"elapsed {time.time() - start:.0f} s", flush=True)
    print(f"best validation accuracy {best:.4f}; training {time.time() - start:.0f} s; "
          f"torch {torch.__version__}, {args.threads} threads")


if __name__ == "__main__":
    main()
