"""gradcheck on PyTorch's own operator database (``op_db``), beside torch.autograd.gradcheck.

Code nobody here wrote, with gradients known to be right: every OpInfo op that supports autograd,
the first two samples each whose first differentiable input has 1–1000 entries, in float64 and
float32. Each sample becomes a scalar ``L(z) = Σ w·out`` of the op's first floating output (w
seeded, in the op's dtype) as a function of that input, flattened; its gradient is autograd's,
in the op's dtype (so gradcheck sees float32 where the op computes in float32).

Checked, in the same run:
- gradcheck, ``mode='full'`` (the default for these sizes) and ``mode='directional'``;
- ``torch.autograd.gradcheck`` slow and fast mode, on the same L (float64 and float32);
- at every gradcheck FAIL, a third method decides who is right: Richardson-extrapolated
  differences of L computed in float64 from the same input (central, or one-sided where a side
  leaves the domain), at several steps, against autograd's float64 gradient. A FAIL where the
  arbiter agrees with autograd is a **false alarm**; one where it does not is a disagreement the
  arbiter confirms (a kink, a pole at the sample, or an op whose gradient is not the derivative).

Plants (float64, default mode): one entry of a correct gradient scaled by 1.01, sign-flipped,
zeroed, or moved by 1e-3·|g_i|; caught when that entry is named; a miss counts only when the
planted error exceeds the entry's stated tolerance (the resolution gradcheck reports). Plants
go only into samples whose right gradient passes in default mode: where autograd's gradient is
not the derivative (the arbiter confirms the FAIL), a plant says nothing.

Needs torch and expecttest (pip install -e ".[dev,bench]"), which op_db imports.

Run:  python benchmarks/opinfo.py [--ops NAME,NAME] [--limit N] [--out benchmarks/results/opinfo]
      (about 15 minutes on 2 vCPUs for the whole database)
"""

from __future__ import annotations

import argparse
import json
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import torch

import gradcheck

torch.set_num_threads(1)
MAX_ENTRIES = 1000
SAMPLES = 2


def first_input(sample):
    """The first differentiable floating tensor of a sample: ('input'|arg position, tensor)."""
    candidates = [("input", sample.input)] + [(k, a) for k, a in enumerate(sample.args)]
    for where, t in candidates:
        if isinstance(t, torch.Tensor) and t.is_floating_point() and t.requires_grad:
            return where, t
    return None, None


class Sample:
    """One OpInfo sample as a scalar function of its first differentiable input."""

    def __init__(self, op, sample, where, tensor, dtype, seed):
        self.op, self.sample, self.where, self.dtype = op, sample, where, dtype
        self.shape = tuple(tensor.shape)
        self.x = tensor.detach().to(torch.float64).numpy().ravel().copy()
        self.weights = {}  # per output dtype, seeded
        self.seed = seed

    def _inputs(self, t):
        """The sample's arguments with ``t`` in place of the input checked; the other floating
        tensors in the dtype of ``t`` (the float64 reference computes in float64 throughout)."""
        s = self.sample

        def cast(a):
            if isinstance(a, torch.Tensor) and a.is_floating_point() and a.dtype != t.dtype:
                return a.detach().to(t.dtype)
            if isinstance(a, (list, tuple)):
                return type(a)(cast(b) for b in a)
            return a

        args = [cast(a) for a in s.args]
        inp = cast(s.input)
        if self.where == "input":
            inp = t
        else:
            args[self.where] = t
        return inp, args, {k: cast(v) for k, v in s.kwargs.items()}

    def _out(self, t):
        inp, args, kwargs = self._inputs(t)
        torch.manual_seed(0)  # ops that sample (dropout, rrelu) draw the same every call
        out = self.op(inp, *args, **kwargs)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        for o in outs:
            if isinstance(o, torch.Tensor) and o.is_floating_point():
                return o
        raise RuntimeError("no floating output")

    def _loss(self, t):
        o = self._out(t)
        key = (tuple(o.shape), o.dtype)
        if key not in self.weights:
            g = torch.Generator().manual_seed(self.seed)
            self.weights[key] = torch.randn(o.shape, generator=g, dtype=torch.float64).to(o.dtype)
        return (o * self.weights[key]).sum()

    def tensor(self, z, dtype=None, requires_grad=False):
        t = torch.tensor(np.asarray(z).reshape(self.shape), dtype=dtype or self.dtype)
        return t.requires_grad_(requires_grad)

    def cost(self, z):
        with torch.no_grad():
            v = self._loss(self.tensor(z))
        return np.float32(v.item()) if self.dtype == torch.float32 else float(v.item())

    def grad(self, z, dtype=None):
        t = self.tensor(z, dtype=dtype, requires_grad=True)
        (g,) = torch.autograd.grad(self._loss(t), t, allow_unused=True)
        if g is None:
            return np.zeros(self.x.size, np.float64 if dtype == torch.float64 else np.float32)
        return g.detach().numpy().ravel().copy()

    def cost64(self, z):
        with torch.no_grad():
            return float(self._loss(self.tensor(z, dtype=torch.float64)).item())


def arbiter(s, entries, x):
    """Richardson-extrapolated differences of L in float64 on ``entries`` (central, else
    one-sided), the best of several steps: (estimate, spread) per entry."""
    out = []
    for j in entries:
        best = (np.nan, np.inf)
        for h0 in (1e-2, 1e-3, 1e-4, 1e-5):
            h = h0 * max(1.0, abs(x[j]))
            for kind in ("central", "forward", "backward"):

                def d(step, kind=kind, j=j):
                    p, m = x.copy(), x.copy()
                    if kind == "central":
                        p[j] += step
                        m[j] -= step
                        return (s.cost64(p) - s.cost64(m)) / (2 * step)
                    sign = 1.0 if kind == "forward" else -1.0
                    p[j] += sign * step
                    p2 = x.copy()
                    p2[j] += 2 * sign * step
                    f0, f1, f2 = s.cost64(x), s.cost64(p), s.cost64(p2)
                    return sign * (-3 * f0 + 4 * f1 - f2) / (2 * step)

                d1, d2 = d(h), d(h / 2)
                if not (np.isfinite(d1) and np.isfinite(d2)):
                    continue
                r = (4 * d2 - d1) / 3
                spread = abs(d2 - d1)
                if spread < best[1]:
                    best = (r, spread)
                break  # central worked at this step: no one-sided needed
        out.append(best)
    return out


def arbitrate(s, report, x):
    """Who is right at a FAIL: 'false alarm' when autograd agrees with the arbiter on every
    entry named wrong (or none were named), 'confirmed' otherwise."""
    g64 = s.grad(x, torch.float64)
    entries = [int(j) for j in report.mismatched[:20]]
    scale = float(np.max(np.abs(g64))) if g64.size else 0.0
    tol_rel = 1e-3 if s.dtype == torch.float32 else 1e-5
    if not entries:
        return "false alarm", []
    details, agree = [], True
    for j, (r, spread) in zip(entries, arbiter(s, entries, x), strict=True):
        analytic = float(report.analytic[j])
        ok = np.isfinite(r) and abs(analytic - r) <= tol_rel * max(abs(r), 1e-3 * scale) + 10 * (
            spread if np.isfinite(spread) else 0
        )
        agree &= bool(ok)
        details.append((j, analytic, float(g64[j]), float(r), float(spread)))
    return ("false alarm" if agree else "confirmed"), details


def torch_verdicts(s, x, dtype):
    """torch.autograd.gradcheck slow and fast on the same L: True/False/'error'."""
    res = {}
    for fast in (False, True):
        t = s.tensor(x, dtype=dtype, requires_grad=True)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res["fast" if fast else "slow"] = bool(
                    torch.autograd.gradcheck(
                        lambda z: s._loss(z), (t,), fast_mode=fast, raise_exception=False
                    )
                )
        except Exception as exc:  # an op torch's own checker cannot run
            res["fast" if fast else "slow"] = f"error: {type(exc).__name__}"
    return res


def samples(limit_ops, names):
    from torch.testing._internal.common_methods_invocations import op_db

    count = 0
    for op in op_db:
        if not op.supports_autograd or (names and op.name not in names):
            continue
        for dtype in (torch.float64, torch.float32):
            if dtype not in op.supported_backward_dtypes("cpu"):
                continue
            taken = 0
            try:
                gen = op.sample_inputs("cpu", dtype, requires_grad=True)
                for k, sample in enumerate(gen):
                    where, t = first_input(sample)
                    if t is None or not 1 <= t.numel() <= MAX_ENTRIES:
                        continue
                    yield op, Sample(op, sample, where, t, dtype, seed=k)
                    taken += 1
                    if taken == SAMPLES:
                        break
            except Exception as exc:
                print(f"  {op.name} {dtype}: samples not made ({type(exc).__name__})")
        count += 1
        if limit_ops and count >= limit_ops:
            return


PLANTS = {
    "x1.01": lambda g: 1.01 * g,
    "sign": lambda g: -g,
    "zero": lambda g: 0.0 * g,
    "+1e-3|g|": lambda g: g + 1e-3 * abs(g),
}


def run_one(op, s, do_torch, do_plants):
    x = s.x
    rec = {"op": op.name, "variant": op.variant_test_name, "dtype": str(s.dtype)[6:], "n": x.size}
    try:
        s.cost(x)
        s.grad(x)
    except Exception as exc:
        rec["skipped"] = f"sample does not run: {type(exc).__name__}"
        return rec
    if not np.isfinite(s.cost(x)):
        rec["skipped"] = "L is not finite at the sample"
        return rec
    for mode in ("full", "directional"):
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rep = gradcheck.check(s.cost, x, grad=s.grad, mode=mode)
        except Exception as exc:
            rec[mode] = {"crash": f"{type(exc).__name__}: {exc}"[:300]}
            rec[mode]["tb"] = traceback.format_exc()[-1500:]
            continue
        r = {
            "ok": rep.ok,
            "calls": rep.evaluations,
            "seconds": time.perf_counter() - t0,
            "kinds": [f"{d.kind}:{d.severity}" for d in rep.diagnoses],
        }
        if not rep.ok:
            try:
                r["verdict"], r["details"] = arbitrate(s, rep, x)
            except Exception as exc:  # the float64 reference cannot run: say so
                r["verdict"], r["details"] = "no arbiter", f"{type(exc).__name__}: {exc}"[:200]
            r["headline"] = str(rep).splitlines()[0][:300]
        rec[mode] = r
    if do_torch:
        rec["torch"] = torch_verdicts(s, x, s.dtype)
    if do_plants and s.dtype == torch.float64 and rec.get("full", {}).get("ok"):
        # Only where the right gradient passes: where it already disagrees with the derivative
        # (as_strided_scatter's overlaps, max_unpool's repeated indices, a cast to bfloat16),
        # a plant in it says nothing about what gradcheck catches.
        rec["plants"] = plants(s, x)
    return rec


def plants(s, x):
    g = s.grad(x)
    nonzero = np.flatnonzero(np.abs(g) > 1e-6 * max(np.max(np.abs(g)), 1e-300))
    if not nonzero.size:
        return {}
    j = int(np.random.default_rng(x.size).choice(nonzero))
    out = {}
    for name, plant in PLANTS.items():

        def grad(z, plant=plant):
            gz = s.grad(z)
            gz[j] = plant(gz[j])
            return gz

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rep = gradcheck.check(s.cost, x, grad=grad)
        except Exception as exc:
            out[name] = f"crash: {type(exc).__name__}"
            continue
        err = abs(plant(g[j]) - g[j])
        tol = float(rep.tolerance[j]) if np.isfinite(rep.tolerance[j]) else np.nan
        if j in rep.mismatched:
            out[name] = "caught"
        elif not rep.ok:
            out[name] = "failed, entry not named"
        elif np.isfinite(tol) and err <= tol:
            out[name] = "below resolution"
        else:
            out[name] = "missed"
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ops", default="")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--no-plants", action="store_true")
    ap.add_argument("--out", default="benchmarks/results/opinfo")
    a = ap.parse_args()
    names = set(a.ops.split(",")) if a.ops else set()
    records = []
    t0 = time.perf_counter()
    for op, s in samples(a.limit, names):
        rec = run_one(op, s, not a.no_torch, not a.no_plants)
        records.append(rec)
        for mode in ("full", "directional"):
            r = rec.get(mode, {})
            if "crash" in r or r.get("verdict") == "false alarm":
                what = r.get("crash") or r.get("headline")
                print(f"{rec['op']} {rec['dtype']} n={rec['n']} {mode}: {what}", flush=True)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out + ".json").write_text(json.dumps(records, default=str))
    summary = summarise(records, time.perf_counter() - t0)
    Path(a.out + ".md").write_text(summary)
    print(summary)


def summarise(records, seconds):
    done = [r for r in records if "skipped" not in r]
    lines = [
        (
            f"{len(records)} samples ({len(records) - len(done)} skipped: they do not run or L "
            f"is not finite), {len({r['op'] for r in done})} ops, {seconds:.0f} s"
        ),
        "",
        (
            "| dtype | samples | mode | FAIL | false alarms | confirmed by the arbiter | crashes "
            "| torch slow fails | torch fast fails |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for dt in ("float64", "float32"):
        rs = [r for r in done if r["dtype"] == dt]
        for mode in ("full", "directional"):
            ms = [r.get(mode, {}) for r in rs]
            fails = [m for m in ms if m.get("ok") is False]
            fa = sum(m.get("verdict") == "false alarm" for m in fails)
            conf = sum(m.get("verdict") == "confirmed" for m in fails)
            crashes = sum("crash" in m for m in ms)
            ts = sum(r.get("torch", {}).get("slow") is not True for r in rs)
            tf = sum(r.get("torch", {}).get("fast") is not True for r in rs)
            lines.append(
                f"| {dt} | {len(rs)} | {mode} | {len(fails)} | {fa} | {conf} | {crashes} "
                f"| {ts} | {tf} |"
            )
    pl = [r["plants"] for r in done if r.get("plants")]
    if pl:
        lines += ["", "| plant (float64, default mode) | caught | below resolution | missed |"]
        lines.append("|---|---|---|---|")
        for name in PLANTS:
            vals = [p.get(name) for p in pl]
            lines.append(
                f"| {name} | {vals.count('caught')} | {vals.count('below resolution')} "
                f"| {sum(v not in ('caught', 'below resolution') for v in vals)} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
