"""Low-precision kernels against a reference: false alarms and misses of the rule
``|fn − ref64| > k·|stick − ref64| + c·eps·(|ref64| + mean|ref64|)`` for k = 1, 2, 4.

A hand-written attention ``autograd.Function`` (``tests/attention_kernel.py``: forward and
backward written out, float32 accumulation) in float16 and bfloat16, against torch's
``scaled_dot_product_attention`` in float64 (from the same low-precision inputs) and in the low
dtype (the measuring stick). Seeded shapes: batch 1–3, heads 4–8, sequence 4–96, head dim
8–64, causal or not. Each shape checked with the right kernel (any FAIL is a false alarm) and
with each planted bug (a PASS is a miss): the 1/√d scale forgotten in head 3's dq, one row of p
dropped from head 1's dv, head 2's dk sign-flipped.

Run:  python benchmarks/bench_reference.py [--shapes 200] [--out benchmarks/results/reference]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import gradcheck
from tests import attention_kernel as A

torch.set_num_threads(1)
BUGS = (
    "scale in one head",
    "dv term dropped in one head",
    "sign in one block",
    "5 % in one head",
    "1 % in one head",
)
KS = (1.0, 2.0, 4.0)


def shapes(count: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    for i in range(count):
        yield {
            "b": int(rng.integers(1, 4)),
            "h": int(rng.integers(4, 9)),
            "n": int(rng.integers(4, 97)),
            "d": int(rng.choice([8, 16, 32, 64])),
            "causal": bool(rng.integers(0, 2)),
            "seed": i,
        }


def one(shape, dtype, bug, k):
    gen = torch.Generator().manual_seed(shape["seed"])
    q, kk, v = (
        torch.randn(shape["b"], shape["h"], shape["n"], shape["d"], generator=gen) for _ in range(3)
    )
    report = gradcheck.check_against_reference(
        A.attention(bug, shape["causal"]), A.reference(shape["causal"]), [q, kk, v],
        dtype=dtype, names=["q", "k", "v"], split_dim=1, k=k, repeats=1,
    )  # fmt: skip
    return report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", type=int, default=200)
    ap.add_argument("--out", default="benchmarks/results/reference")
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows = []
    for dtype in (torch.float16, torch.bfloat16):
        for shape in shapes(args.shapes):
            for bug in (None, *BUGS):
                for k in KS:
                    r = one(shape, dtype, bug, k)
                    fails = [(d.kind, d.block) for d in r.diagnoses if d.severity == "fail"]
                    rows.append({**shape, "dtype": str(dtype)[6:], "bug": bug, "k": k,
                                 "ok": r.ok, "fails": fails[:3]})  # fmt: skip
    seconds = time.perf_counter() - t0
    title = (
        f"{args.shapes} shapes × 2 dtypes × (right kernel + {len(BUGS)} bugs) × k in "
        f"{list(KS)}, {seconds:.0f} s"
    )
    head = " | ".join(f"missed: {b}" for b in BUGS)
    lines = [title, "", f"| dtype | k | false alarms (right kernel) | {head} | kind and block right |",
             "|---|---|---|" + "---|" * len(BUGS) + "---|"]  # fmt: skip
    expected = {
        "scale in one head": ("scale", "dq[:, 3]"),
        "dv term dropped in one head": (None, "dv[:, 1]"),
        "sign in one block": ("sign", "dk[:, 2]"),
        "5 % in one head": ("scale", "dq[:, 0]"),
        "1 % in one head": ("scale", "dq[:, 0]"),
    }
    for dtype in ("float16", "bfloat16"):
        for k in KS:
            sel = [r for r in rows if r["dtype"] == dtype and r["k"] == k]
            fa = sum(not r["ok"] for r in sel if r["bug"] is None)
            missed = [sum(r["ok"] for r in sel if r["bug"] == b) for b in BUGS]
            named = sum(
                bool(r["fails"]) and r["fails"][0][1] == expected[r["bug"]][1]
                and expected[r["bug"]][0] in (None, r["fails"][0][0])
                for r in sel if r["bug"] is not None and not r["ok"]
            )  # fmt: skip
            caught = sum(not r["ok"] for r in sel if r["bug"] is not None)
            lines.append(f"| {dtype} | {k:g} | {fa} / {args.shapes} | "
                         + " | ".join(f"{m} / {args.shapes}" for m in missed)
                         + f" | {named} / {caught} |")  # fmt: skip
    text = "\n".join(lines)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(text + "\n")
    out.with_suffix(".json").write_text(json.dumps(rows))


if __name__ == "__main__":
    main()
