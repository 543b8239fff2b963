#!/usr/bin/env python3
"""safetensors interop with the reference implementation (PyPI `safetensors`).

1. Writes tests/golden/data/all_dtypes.safetensors with Python's safetensors:
   one tensor per dtype Toadstool has, plus a 0-d and an empty tensor, and
   metadata. tests/tensor/test_safetensors.cpp (Safetensors.ReadsPythonFile)
   checks that our loader reads the same values.
2. With --check-ours BUILD_DIR: runs the unit test that writes the same
   tensors with Toadstool's save_safetensors into a temporary folder and
   loads that file with Python's safetensors, checking every value.

Needs a venv outside the repository (the build never needs Python):

    /usr/bin/python3 -m venv --system-site-packages /tmp/venv-st   # Debian python: has torch
    /tmp/venv-st/bin/pip install safetensors
    /tmp/venv-st/bin/python tests/golden/make_golden_safetensors.py --check-ours build

The values are a formula of the element index, the same one the C++ test
uses (expected_tensors there): floats (i - 2.5) * 0.75 (exact in every float
dtype), int64 i * 10^12 - 3, bool i % 3 == 0, scalar 1/3, empty [0, 4].
"""
import argparse
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file
from safetensors import safe_open

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
METADATA = {"format": "pt", "producer": "make_golden_safetensors.py"}


def expected_tensors():
    i = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    floats = (i - 2.5) * 0.75
    return {
        "f32": floats.float(),
        "f64": floats,
        "bf16": floats.bfloat16(),
        "f16": floats.half(),
        "i64": (torch.arange(6, dtype=torch.int64) * 10**12 - 3).reshape(2, 3),
        "bool": (torch.arange(6) % 3 == 0).reshape(2, 3),
        "scalar": torch.tensor(1.0 / 3.0, dtype=torch.float64),
        "empty": torch.zeros(0, 4, dtype=torch.float32),
    }


def check(path, want_metadata):
    got = load_file(path)
    want = expected_tensors()
    assert sorted(got) == sorted(want), (sorted(got), sorted(want))
    for name, t in want.items():
        g = got[name]
        assert g.dtype == t.dtype and g.shape == t.shape, (name, g.dtype, g.shape)
        assert torch.equal(g, t), (name, g, t)
    with safe_open(path, framework="pt") as f:
        assert f.metadata() == want_metadata, f.metadata()
    print(f"{path}: {len(want)} tensors and the metadata match")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--check-ours", metavar="BUILD_DIR",
                        help="also check a file written by Toadstool (built in BUILD_DIR)")
    args = parser.parse_args()
    path = os.path.join(DATA, "all_dtypes.safetensors")
    save_file(expected_tensors(), path, metadata=METADATA)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    check(path, METADATA)
    if args.check_ours:
        with tempfile.TemporaryDirectory() as tmp:
            ours = os.path.join(tmp, "toadstool.safetensors")
            binary = os.path.join(args.check_ours, "tests", "toadstool_tensor_tests")
            env = dict(os.environ, TOADSTOOL_SAFETENSORS_KEEP=ours)
            subprocess.run([binary, "--gtest_filter=Safetensors.RoundTripEveryDtype"],
                           env=env, check=True, stdout=subprocess.DEVNULL)
            check(ours, {"format": "pt", "producer": "toadstool"})


if __name__ == "__main__":
    sys.exit(main())
