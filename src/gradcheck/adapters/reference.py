"""Low-precision kernels judged against a reference: the check finite differences cannot make.

At bfloat16 a finite difference is all rounding, so a custom backward in low precision (a fused
attention, a Triton kernel, a hand-written ``autograd.Function`` for mixed precision) is checked
against the same maths done right. ``reference`` runs twice, from the *low-precision* inputs
(attention-gym: a float64 reference built from float64 inputs hides the kernel's input rounding):

- in float64 (the inputs cast up): the truth, ``ref64``;
- in the low dtype itself: the **measuring stick**, ``lowprec`` — how much error the maths has at
  that precision when done the plain way.

Outputs and every input's gradient (autograd, with a seeded Gaussian cotangent per output) of
``fn`` are compared with ``ref64``; an entry is wrong when

    |fn − ref64| > k·|lowprec − ref64| + c·eps·(|ref64| + mean|ref64|)

with ``k = 2`` (flash-attention's rule: the kernel may be at most twice as wrong as the plain
maths in the same precision) and ``c = 4`` units of the dtype's eps, relative to the entry and
to the tensor's typical size (an entry that the plain maths happens to get exactly right still
gets a few ulps). The constants were measured (``benchmarks/bench_reference.py``, RESULTS.md):
k = 1 gives false alarms on correct kernels, k = 2 none on 200+ shapes per dtype while every
planted bug is caught.

What is wrong is then diagnosed by gradcheck's hypotheses (``scale``, ``sign``, ``zero``,
``localized``) on named blocks: one per output and per input gradient (``dq``), split along a
heads dimension when ``split_dim`` is given (``dq[:, 3]``: head 3 of every batch).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..compare import relative_difference
from ..diagnose import explain_entries
from ..layout import Layout
from ..report import Diagnosis, Report
from .torch import to_numpy

K_STICK = 2.0
C_ULPS = 4.0


def _torch() -> Any:
    import torch

    return torch


def _run(
    fn: Callable[..., Any], inputs: Sequence[Any], cotangents: Sequence[Any] | None, seed: int
) -> tuple[list[Any], list[Any], list[Any]]:
    """fn's outputs, the gradients of its floating inputs (autograd with the cotangents, drawn
    from ``seed`` in each output's dtype when not given) and the cotangents used."""
    torch = _torch()
    leaves = [
        t.detach().clone().requires_grad_(t.is_floating_point())
        if isinstance(t, torch.Tensor)
        else t
        for t in inputs
    ]
    out = fn(*leaves)
    outputs = list(out) if isinstance(out, (tuple, list)) else [out]
    outputs = [o for o in outputs if isinstance(o, torch.Tensor) and o.is_floating_point()]
    if cotangents is None:
        gen = torch.Generator().manual_seed(seed)
        cotangents = [torch.randn(o.shape, generator=gen, dtype=torch.float64) for o in outputs]
    used = [c.to(o.dtype).to(o.device) for c, o in zip(cotangents, outputs, strict=True)]
    floating = [t for t in leaves if isinstance(t, torch.Tensor) and t.requires_grad]
    grads = torch.autograd.grad(outputs, floating, used, allow_unused=True)
    grads = [torch.zeros_like(t) if g is None else g for g, t in zip(grads, floating, strict=True)]
    return [o.detach() for o in outputs], list(grads), list(cotangents)


def check_against_reference(
    fn: Callable[..., Any],
    reference: Callable[..., Any],
    inputs: Sequence[Any],
    *,
    dtype: Any = None,
    cotangents: Sequence[Any] | None = None,
    names: Sequence[str] | None = None,
    split_dim: int | None = None,
    k: float = K_STICK,
    c: float = C_ULPS,
    seed: int = 0,
    repeats: int = 2,
    tf32: str | None = None,
) -> Report:
    """Check a low-precision ``fn`` (forward and its own backward) against ``reference``.

    Parameters
    ----------
    fn : callable
        ``fn(*inputs)`` → a tensor or a tuple of tensors, differentiable by autograd (a
        custom ``autograd.Function``'s ``apply``, a kernel wrapper).
    reference : callable
        The same maths, in plain torch: run in float64 and in the low dtype.
    inputs : sequence of tensors (and other arguments, passed as they are)
        Floating tensors are cast to ``dtype`` (or kept in theirs); their gradients are checked.
    dtype : torch dtype, optional
        The low precision (torch.bfloat16, torch.float16, torch.float32); default: the inputs'.
    cotangents : sequence of tensors, optional
        One per output; default: seeded standard normal.
    names : sequence of str, optional
        The inputs' names (``q, k, v``): blocks ``dq``, ``dk``…; default ``input0``….
    split_dim : int, optional
        A dimension to cut every tensor along (the heads of ``(batch, heads, seq, dim)``):
        blocks ``dq[:, 3]``.
    k, c : float
        The rule's constants (see the module notes).
    repeats : int
        Runs of fn compared with each other: a spread (atomics in a backward) is reported,
        a failure only beyond the measuring stick.
    tf32 : {None, 'off'}
        'off' runs everything with TF32 matmuls and convolutions off (restored afterwards): a
        float32 check on a GPU then measures the kernel, not TF32's rounding.

    Returns
    -------
    Report
        Per entry: ``numeric`` = the float64 reference, ``analytic`` = fn, ``tolerance`` = the
        rule's; diagnoses by block; notes with the precision context (dtypes, TF32, device).
    """
    torch = _torch()
    if tf32 not in (None, "off"):
        raise ValueError(f"tf32 must be None or 'off', got {tf32!r}.")
    if tf32 == "off":
        saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        try:
            return check_against_reference(
                fn, reference, inputs, dtype=dtype, cotangents=cotangents, names=names,
                split_dim=split_dim, k=k, c=c, seed=seed, repeats=repeats,
            )  # fmt: skip
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
    clock = time.perf_counter()
    low = (
        dtype
        if dtype is not None
        else next(t.dtype for t in inputs if isinstance(t, torch.Tensor) and t.is_floating_point())
    )
    cast = [t.to(low) if _floating(t) else t for t in inputs]
    out_fn, grad_fn, cot = _run(fn, cast, cotangents, seed)
    spread = _spread(fn, cast, cot, seed, out_fn, grad_fn, repeats)
    up = [t.double() if _floating(t) else t for t in cast]
    out64, grad64, _ = _run(reference, up, [x.double() for x in cot], seed)
    out_lp, grad_lp, _ = _run(reference, cast, cot, seed)
    labels = list(names) if names is not None else [f"input{i}" for i in range(len(cast))]
    floating = [n for n, t in zip(labels, cast, strict=False) if _floating(t)]
    tensors = {
        **{("out" if len(out64) == 1 else f"out{i}"): (o, r, s) for i, (o, r, s) in
           enumerate(zip(out_fn, out64, out_lp, strict=True))},
        **{f"d{n}": (g, r, s) for n, g, r, s in zip(floating, grad_fn, grad64, grad_lp, strict=True)},
    }  # fmt: skip
    eps = float(torch.finfo(low).eps)
    return _report(tensors, split_dim, eps, k, c, low, spread, clock)


def _floating(t: Any) -> bool:
    torch = _torch()
    return isinstance(t, torch.Tensor) and t.is_floating_point()


def _spread(
    fn: Callable[..., Any],
    cast: list[Any],
    cot: list[Any],
    seed: int,
    out_fn: list[Any],
    grad_fn: list[Any],
    repeats: int,
) -> float:
    """The largest difference between repeated runs of fn (0: deterministic)."""
    worst = 0.0
    for _ in range(max(0, repeats - 1)):
        out, grads, _ = _run(fn, cast, cot, seed)
        for a, b in zip([*out, *grads], [*out_fn, *grad_fn], strict=True):
            worst = max(worst, float((a.double() - b.double()).abs().max()) if a.numel() else 0.0)
    return worst


def _blocks(
    tensors: dict[str, tuple[Any, Any, Any]], split_dim: int | None
) -> tuple[Layout, list[np.ndarray]]:
    """The layout (a block per tensor, or per slice along ``split_dim``) and, for fn, ref64 and
    the stick, the values in that layout."""
    blocks: dict[str, tuple[int, ...]] = {}
    parts: list[list[np.ndarray]] = [[], [], []]
    for name, values in tensors.items():
        arrays = [to_numpy(v).astype(float) for v in values]
        shape = arrays[0].shape
        if split_dim is not None and len(shape) > split_dim:
            for h in range(shape[split_dim]):
                label = f"{name}[{', '.join([':'] * split_dim + [str(h)])}]"
                piece = [np.take(a, h, axis=split_dim) for a in arrays]
                blocks[label] = piece[0].shape
                for p, arr in zip(parts, piece, strict=True):
                    p.append(arr.ravel())
        else:
            blocks[name] = shape
            for p, arr in zip(parts, arrays, strict=True):
                p.append(arr.ravel())
    return Layout(blocks), [np.concatenate(p) for p in parts]


def _report(
    tensors: dict[str, tuple[Any, Any, Any]],
    split_dim: int | None,
    eps: float,
    k: float,
    c: float,
    low: Any,
    spread: float,
    clock: float,
) -> Report:
    layout, (got, ref, stick) = _blocks(tensors, split_dim)
    typical = np.zeros_like(ref)
    for name in layout.names:
        s = layout.slice(name)
        typical[s] = np.mean(np.abs(ref[s])) if s.stop > s.start else 0.0
    tolerance = k * np.abs(stick - ref) + c * eps * (np.abs(ref) + typical)
    checked = np.flatnonzero(np.isfinite(got) & np.isfinite(ref))
    bad = np.flatnonzero(~np.isfinite(got))
    mismatched = checked[np.abs(got[checked] - ref[checked]) > tolerance[checked]]
    diagnoses = _diagnoses(got, ref, tolerance, checked, mismatched, bad, layout, spread)
    fails = any(d.severity == "fail" for d in diagnoses)
    n = ref.size
    nan = np.full(n, np.nan)
    return Report(
        ok=not fails and not mismatched.size,
        relative_difference=relative_difference(ref[checked], got[checked]),
        mismatched=mismatched,
        diagnoses=diagnoses,
        evaluations=0,
        checked=checked,
        numeric=ref,
        analytic=got,
        error=np.abs(stick - ref),
        tolerance=tolerance,
        step=nan,
        layout=layout,
        method="reference",
        mode="full",
        step_policy="none",
        noise=spread,
        cost=float("nan"),
        seconds=time.perf_counter() - clock,
        rtol=float("nan"),
        atol=float("nan"),
        safety=k,
        notes=_context(low, k, c, spread),
    )


def _diagnoses(
    got: np.ndarray,
    ref: np.ndarray,
    tolerance: np.ndarray,
    checked: np.ndarray,
    mismatched: np.ndarray,
    bad: np.ndarray,
    layout: Layout,
    spread: float,
) -> list[Diagnosis]:
    found: list[Diagnosis] = []
    if bad.size:
        found.append(
            Diagnosis(
                "nonfinite",
                f"fn returned non-finite values at {bad.size} entries ({layout.name(int(bad[0]))} "
                "first): NaN or inf in its output or gradients.",
                indices=bad,
                headline=f"fn returned non-finite values ({layout.name(int(bad[0]))} first)",
            )
        )
    if mismatched.size:
        found += explain_entries(
            analytic=got,
            numeric=ref,
            tolerance=tolerance,
            checked=checked,
            mismatched=mismatched,
            layout=layout,
            x=np.zeros_like(ref),  # no κ·x pattern here: x is not the thing differentiated
            rtol=0.0,
        )
    if spread > 0:
        found.append(
            Diagnosis(
                "nondeterministic",
                f"fn's outputs or gradients differ between runs by up to {spread:.3g} (atomic "
                "accumulation in a backward kernel, say); within the measuring stick it is "
                "spread, not an error.",
                severity="warning",
                factor=spread,
            )
        )
    return found


def _context(low: Any, k: float, c: float, spread: float) -> list[str]:
    """The precision context: the dtypes, TF32 and matmul precision, the rule."""
    torch = _torch()
    tf32 = bool(getattr(torch.backends.cuda.matmul, "allow_tf32", False))
    notes = [
        (
            f"fn and the measuring stick ran in {str(low).removeprefix('torch.')}, the reference in "
            f"float64 from the same {str(low).removeprefix('torch.')} inputs; an entry is wrong when "
            f"|fn − ref64| > {k:g}·|stick − ref64| + {c:g}·eps·(|ref64| + mean|ref64|)."
        ),
        (
            f"float32 matmul precision: {torch.get_float32_matmul_precision()}; CUDA TF32 matmul "
            f"{'on' if tf32 else 'off'}."
        ),
    ]
    if tf32 and str(low) == "torch.float32":
        notes.append(
            "TF32 is on: float32 matmuls on a GPU round their inputs to 10 bits; the stick runs "
            "with it too. Set torch.backends.cuda.matmul.allow_tf32 = False to check without."
        )
    return notes
