#!/usr/bin/env python3
"""The PyTorch twin of examples/imdb's default recipe, for a side-by-side
comparison of accuracy and wall time on the same machine. A development-time
reference only (like tests/golden/): Debian's python3-torch (1.13), or PyPI's
torch in a virtual environment outside the repository; never a dependency of
Toadstool.

    apt-get install python3-torch                          # or: pip install torch (a venv)
    build/release/examples/imdb/imdb --out out/imdb        # writes validation_split.json
    OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 /usr/bin/python3 \\
        examples/imdb/pytorch_twin.py --threads 2 \\
        --data ../shared/data/imdb/aclImdb_train.tar.gz --split out/imdb/validation_split.json

Debian's OpenBLAS (0.3.21) falls back to its generic kernels on CPUs it does
not know, as this project's Xeons: OPENBLAS_CORETYPE pins the AVX-512 ones
(SkylakeX; Haswell on an AVX2-only CPU), as scripts/bench.sh does.

Everything the recipe fixes is the same as the C++ example's defaults: the
validation reviews (read from the example's validation_split.json), the
tokenizer rule and the vocabulary rule (docs/imdb.md), 256 tokens (head),
400 tokens (head), length-bucketed batches of 32 padded to their longest, the
model (d_model 128, 4 heads, 2 post-norm layers, feed-forward 512, ReLU,
dropout 0.2, sinusoidal positions, a zero-initialised embedding of the
token bigrams hashed into 32768 buckets with the same hash, mean pooling over
the real tokens), AdamW (lr 1e-3, weight decay 0.05) on a one-cycle schedule
with 10% warm-up stepped per batch, gradient norm clipped at 1, 3 epochs,
the best epoch's validation accuracy reported. What differs: the random numbers (initialisation,
dropout, shuffling), which PyTorch draws from its own generator.
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


MASK64 = (1 << 64) - 1


def bigram_bucket(prev, cur, buckets):
    """kernels/cpu/indexing.h bigram_bucket: splitmix64's finaliser of the pair."""
    h = (prev * 0x9E3779B97F4A7C15 + cur) & MASK64
    h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & MASK64
    h ^= h >> 31
    return 1 + h % (buckets - 1)


def hashed_bigrams(ids, buckets=32768):
    """The bucket of each (previous id, id) of one sequence, the first id
    pairing with <pad> (0): computed once per review here (in Python it would
    dominate a step), in the model's forward in the C++ example."""
    return [bigram_bucket(prev, cur, buckets) for prev, cur in zip([0] + ids[:-1], ids)]


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
    def __init__(self, vocab, d=128, heads=4, layers=2, ff=512, dropout=0.2, max_len=400,
                 buckets=32768):
        super().__init__()
        self.embedding = nn.Embedding(vocab, d, padding_idx=0)
        self.bigram_embedding = nn.Embedding(buckets, d, padding_idx=0)
        nn.init.zeros_(self.bigram_embedding.weight)
        position = torch.arange(max_len).unsqueeze(1)
        div = torch.exp(torch.arange(0, d, 2) * (-math.log(10000.0) / d))
        pe = torch.zeros(max_len, d)
        pe[:, 0::2] = torch.sin(position * div)
        pe[:, 1::2] = torch.cos(position * div)
        self.register_buffer("pe", pe)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(d, heads, ff, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d, 2)

    def forward(self, ids, bigrams):
        padding = ids == 0
        x = self.embedding(ids) + self.bigram_embedding(bigrams)
        x = self.dropout(x + self.pe[: ids.size(1)])
        x = self.encoder(x, src_key_padding_mask=padding)
        keep = (~padding).unsqueeze(2).to(x.dtype)
        return self.head((x * keep).sum(1) / keep.sum(1).clamp(min=1))


def accuracy(model, seqs, bigrams, labels):
    model.eval()
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    correct = 0
    with torch.no_grad():
        for b in range(0, len(order), 128):
            idx = order[b:b + 128]
            logits = model(pad([seqs[i] for i in idx]), pad([bigrams[i] for i in idx]))
            correct += (logits.argmax(1) == torch.tensor([labels[i] for i in idx])).sum().item()
    model.train()
    return correct / len(seqs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", required=True, help="the example's validation_split.json")
    parser.add_argument("--epochs", type=int, default=3)
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
    valid = [r for r in reviews if (r[0], r[1]) in valid_keys]
    vocab = build_vocabulary([r[2] for r in train])
    encode = lambda t: [vocab.get(tok, 1) for tok in tokenize(t)][:400]
    train_x, train_y = [encode(r[2]) for r in train], [r[0] for r in train]
    valid_x, valid_y = [encode(r[2]) for r in valid], [r[0] for r in valid]
    train_b, valid_b = [hashed_bigrams(s) for s in train_x], [hashed_bigrams(s) for s in valid_x]
    print(f"{len(train)} training, {len(valid)} validation reviews; data in {time.time() - start:.1f} s")

    model = Classifier(len(vocab) + 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    steps = math.ceil(len(train_x) / 32)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-3, epochs=args.epochs,
                                                   steps_per_epoch=steps, pct_start=0.1)
    loss_fn = nn.CrossEntropyLoss()
    lengths = [len(s) for s in train_x]
    start = time.time()
    best = 0.0
    for epoch in range(args.epochs):
        total = 0.0
        for batch in bucketed_batches(lengths, 32, rng):
            logits = model(pad([train_x[i] for i in batch]), pad([train_b[i] for i in batch]))
            loss = loss_fn(logits, torch.tensor([train_y[i] for i in batch]))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            total += loss.item()
        acc = accuracy(model, valid_x, valid_b, valid_y)
        best = max(best, acc)
        print(f"epoch {epoch + 1}/{args.epochs}  train_loss {total / steps:.4f}  "
              f"valid accuracy {acc:.4f}  elapsed {time.time() - start:.0f} s", flush=True)
    print(f"best validation accuracy {best:.4f}; training {time.time() - start:.0f} s; "
          f"torch {torch.__version__}, {args.threads} threads")


if __name__ == "__main__":
    main()
