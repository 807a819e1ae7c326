"""Checks without finite differences: the modes of a Jacobian against each other, and a
Hessian-vector product against the symmetry and linearity every Hessian has.

**The adjoint (dot-product) test.** Whatever J is, ``⟨w, J v⟩ = ⟨Jᵀw, v⟩`` for all v, w. Given
two or three of ``jac`` (J itself), ``jvp`` (v ↦ Jv, forward mode) and ``vjp`` (w ↦ Jᵀw, reverse
mode), the products on seeded random v, w must agree to round-off — no call of f, no step, no
noise (OpenMDAO's ``fwd-rev`` check, EnzymeTestUtils' tangent tests). When they do not, the
entries are found: with ``jac``, by comparing J's columns and rows with the products; between
``jvp`` and ``vjp`` alone, by the columns ``J e_i`` (one jvp each, for x of up to
``LOCALISE_MAX`` entries), ``(Jᵀw)_i = ⟨w, J e_i⟩``.

**A Hessian is symmetric and linear.** ``hessp(x, v) = Hv`` must satisfy ``⟨u, Hv⟩ = ⟨v, Hu⟩``
and ``H(αu + v) = αHu + Hv`` (Manopt's ``checkhessian``): an asymmetric product (a missing
transpose in one term of a second derivative) or one that is not linear in v (state kept between
calls, v modified in place) fails without any difference of f.

Round-off: an inner product of n terms is exact to about ``√n·eps·Σ|a_i b_i|``; the test allows
``TOL_ULPS·eps·(‖a‖‖b‖ + ‖c‖‖d‖)`` for ``⟨a, b⟩`` against ``⟨c, d⟩`` (Cauchy–Schwarz bounds the
sums of magnitudes), in the precision the products come in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .layout import entries
from .report import Diagnosis

PAIRS = 3  # random (v, w) pairs
TOL_ULPS = 1e3  # round-off allowance, in units of eps·‖a‖‖b‖
LOCALISE_MAX = 2_000  # jvp calls spent finding the wrong entries of Jᵀw


def _eps(*arrays: np.ndarray) -> float:
    kinds = [a.dtype for a in arrays if a.dtype.kind == "f"]
    return max((float(np.finfo(k).eps) for k in kinds), default=float(np.finfo(float).eps))


def _agree(a: float, b: float, scale: float, eps: float) -> bool:
    return bool(abs(a - b) <= TOL_ULPS * eps * scale)


def mode_consistency(
    x: np.ndarray,
    *,
    jac: Callable[..., Any] | None,
    jvp: Callable[..., Any] | None,
    vjp: Callable[..., Any] | None,
    args: tuple = (),
    kwargs: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> list[Diagnosis]:
    """The adjoint test between whichever of ``jac``, ``jvp``, ``vjp`` are given (two or more):
    a ``localized`` failure per disagreeing pair, naming the entries, or nothing."""
    kw = dict(kwargs or {})
    rng = np.random.default_rng([seed, 7])
    n = x.size
    J = np.asarray(jac(x.copy(), *args, **kw), dtype=float) if jac is not None else None
    found: list[Diagnosis] = []
    for _ in range(PAIRS):
        v = rng.standard_normal(n)
        Jv = np.asarray(jvp(x.copy(), v.copy(), *args, **kw)) if jvp is not None else None
        if J is None and Jv is None:
            raise TypeError("the adjoint test needs jac or jvp besides vjp.")
        m = J.shape[0] if J is not None else int(np.size(Jv))  # type: ignore[arg-type]
        w = rng.standard_normal(m)
        JTw = np.asarray(vjp(x.copy(), w.copy(), *args, **kw)) if vjp is not None else None
        found = _disagreements(x, v, w, J, Jv, JTw, jvp, args, kw)
        if found:
            return found
    return []


def _disagreements(
    x: np.ndarray,
    v: np.ndarray,
    w: np.ndarray,
    J: np.ndarray | None,
    Jv: np.ndarray | None,
    JTw: np.ndarray | None,
    jvp: Callable[..., Any] | None,
    args: tuple,
    kw: dict[str, Any],
) -> list[Diagnosis]:
    found = []
    if J is not None and Jv is not None:
        rows = _rows_off(J @ v, np.ravel(Jv).astype(float))
        if rows.size:
            found.append(_diagnosis("jvp", "jac", f"(J v)[k] for k in {list(rows[:8])}", rows))
    if J is not None and JTw is not None:
        cols = _rows_off(J.T @ w, np.ravel(JTw).astype(float))
        if cols.size:
            found.append(_diagnosis("vjp", "jac", f"(Jᵀw)[i] for i in {list(cols[:8])}", cols))
    if J is None and Jv is not None and JTw is not None:
        a, b = float(w @ np.ravel(Jv)), float(np.ravel(JTw) @ v)
        scale = np.linalg.norm(w) * np.linalg.norm(Jv) + np.linalg.norm(JTw) * np.linalg.norm(v)
        if not _agree(a, b, float(scale), _eps(np.asarray(Jv), np.asarray(JTw))):
            found.append(_pair_failure(x, w, np.ravel(JTw).astype(float), a, b, jvp, args, kw))
    return found


def _rows_off(expected: np.ndarray, given: np.ndarray) -> np.ndarray:
    """Entries where two products of the same vector differ beyond round-off."""
    if expected.shape != given.shape:
        return np.arange(max(expected.size, given.size))
    scale = TOL_ULPS * _eps(given) * (np.abs(expected) + np.abs(given) + np.max(np.abs(expected)))
    return np.flatnonzero(np.abs(expected - given) > scale)


def _pair_failure(
    x: np.ndarray,
    w: np.ndarray,
    JTw: np.ndarray,
    a: float,
    b: float,
    jvp: Callable[..., Any] | None,
    args: tuple,
    kw: dict[str, Any],
) -> Diagnosis:
    """jvp and vjp disagree: which entries of Jᵀw, from the columns J e_i (one jvp each)."""
    head = f"⟨w, J v⟩ = {a:.6g} by your jvp but ⟨Jᵀw, v⟩ = {b:.6g} by your vjp"
    if jvp is None or x.size > LOCALISE_MAX:
        return _diagnosis("vjp", "jvp", head, None)
    eye = np.eye(x.size)
    by_columns = np.array([w @ np.ravel(jvp(x.copy(), e, *args, **kw)) for e in eye])
    wrong = _rows_off(by_columns, JTw)
    return _diagnosis("vjp", "jvp", f"{head}; (Jᵀw)[i] differs for i in {list(wrong[:8])}", wrong)


def _diagnosis(one: str, other: str, detail: str, idx: np.ndarray | None) -> Diagnosis:
    many = "" if idx is None else f" ({entries(idx.size)})"
    return Diagnosis(
        "localized",
        f"your {one} and your {other} disagree without any finite difference: {detail}{many}. "
        f"They are two forms of the same Jacobian, so at least one is wrong there (the "
        "difference check of f says which).",
        indices=idx,
        headline=f"your {one} disagrees with your {other}",
    )


def hessian_consistency(
    x: np.ndarray,
    hessp: Callable[..., Any],
    *,
    args: tuple = (),
    kwargs: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> list[Diagnosis]:
    """Symmetry ``⟨u, Hv⟩ = ⟨v, Hu⟩`` and linearity ``H(αu + v) = αHu + Hv`` of ``hessp``."""
    kw = dict(kwargs or {})
    rng = np.random.default_rng([seed, 11])
    found = []
    for _ in range(PAIRS):
        u, v = rng.standard_normal(x.size), rng.standard_normal(x.size)
        Hu = np.ravel(hessp(x.copy(), u.copy(), *args, **kw)).astype(float)
        Hv = np.ravel(hessp(x.copy(), v.copy(), *args, **kw)).astype(float)
        a, b = float(u @ Hv), float(v @ Hu)
        scale = np.linalg.norm(u) * np.linalg.norm(Hv) + np.linalg.norm(v) * np.linalg.norm(Hu)
        if not _agree(a, b, float(scale), float(np.finfo(float).eps)):
            found.append(
                Diagnosis(
                    "localized",
                    f"your hessp is not symmetric: ⟨u, Hv⟩ = {a:.6g} but ⟨v, Hu⟩ = {b:.6g} for "
                    "random u, v. Every Hessian is symmetric: a term of your second derivative "
                    "is missing its transpose (or its mirror term).",
                    headline="your hessp is not symmetric",
                )
            )
            break
        alpha = float(rng.standard_normal())
        combined = np.ravel(hessp(x.copy(), alpha * u + v, *args, **kw)).astype(float)
        off = _rows_off(alpha * Hu + Hv, combined)
        if off.size:
            found.append(
                Diagnosis(
                    "localized",
                    f"your hessp is not linear in v: H(αu + v) ≠ αHu + Hv at entries "
                    f"{list(off[:8])} ({entries(off.size)}). A Hessian-vector product is "
                    "linear: look for state kept between calls, v modified in place, or a term "
                    "that does not multiply v.",
                    indices=off,
                    headline="your hessp is not linear in v",
                )
            )
            break
    return found
