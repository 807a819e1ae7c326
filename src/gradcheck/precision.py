"""The precision a function computes in, as its unit round-off: one table, read everywhere.

The noise floor (:mod:`gradcheck.noise`), the default tolerances (:mod:`gradcheck.compare`) and
what the evaluator saw of f's costs (:class:`gradcheck.evaluate.Seen`) all ask one question —
how many digits does this dtype carry — and this module answers it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

EPS = float(np.finfo(float).eps)  # float64 machine epsilon, shared by the whole package
FLOAT32_EPS = float(np.finfo(np.float32).eps)
# The unit round-off of each float type f may compute in, by name (bfloat16 is not NumPy's).
ROUNDOFF = {
    "float64": EPS,
    "complex128": EPS,
    "float32": FLOAT32_EPS,
    "complex64": FLOAT32_EPS,
    "float16": float(np.finfo(np.float16).eps),
    "bfloat16": 2.0**-7,
}


def eps_of(dtype: object) -> float:
    """The unit round-off of a dtype (or its name): float64's for anything of 64 bits or more
    (longdouble and byte-swapped float64 included) and for non-float types.

    >>> eps_of("float32") == FLOAT32_EPS, eps_of(np.dtype(">f8")) == EPS, eps_of("bfloat16")
    (True, True, 0.0078125)
    """
    name = str(getattr(dtype, "name", dtype)).removeprefix("torch.")
    if name in ROUNDOFF:
        return ROUNDOFF[name]
    try:
        dt = np.dtype(name)
    except TypeError:
        return EPS
    if dt.kind in "fc" and dt.itemsize < (8 if dt.kind == "f" else 16):
        return ROUNDOFF.get(dt.newbyteorder("=").name, EPS)
    return EPS


def precision_of(precision: Any) -> float:
    """The unit round-off of the dtype a caller names (``precision=``): a NumPy dtype or its
    name, ``'bfloat16'``, or a torch dtype; a TypeError naming the argument otherwise."""
    name = str(getattr(precision, "name", None) or precision).removeprefix("torch.")
    if name not in ROUNDOFF:
        try:
            kind = np.dtype(precision).kind
        except TypeError:
            kind = ""
        if kind not in ("f", "c"):
            raise TypeError(
                "precision must be the float dtype f computes in (np.float32, 'float16', "
                f"'bfloat16', torch.float32, …), got {precision!r}."
            )
    return eps_of(name if name in ROUNDOFF else np.dtype(precision))


SAME_ULPS = 4.0  # values at the same x that differ by no more than this many ulps are the same
SPREAD_FACTOR = 10.0  # ... or by no more than this many times the spread measured between calls


def differs(a: Any, b: Any, spread: float = 0.0) -> np.ndarray:
    """Where two results at the same x differ, entry by entry: by more than ``SAME_ULPS``
    units in the last place of the larger (float64; bit-for-bit would be too strict for
    threaded reductions) and ``SPREAD_FACTOR`` times the spread measured between calls. NaN
    equals NaN; a finite value never equals a non-finite one. The one test of "the same value
    at x" that the probes and the checkpoint share."""
    a, b = np.asarray(a), np.asarray(b)
    with np.errstate(invalid="ignore", over="ignore"):
        scale = np.maximum(np.abs(a), np.abs(b))
        apart = np.abs(a - b) > SPREAD_FACTOR * spread + SAME_ULPS * EPS * scale
        finite_a, finite_b = np.isfinite(a), np.isfinite(b)
        both_nan = np.isnan(a) & np.isnan(b)
        return np.asarray((apart & finite_a & finite_b) | ((finite_a != finite_b) & ~both_nan))
