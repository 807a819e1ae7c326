"""A sparse Jacobian checked in O(colours) calls of f, its sparsity pattern included.

Given the pattern S (which J[r, c] may be non-zero: a boolean array or a ``scipy.sparse``
matrix), columns that share no row are perturbed together (SciPy's ``group_columns``, the
Curtis–Powell–Reid colouring ``_numdiff`` uses to *estimate* sparse Jacobians): one central
difference of f per group gives every entry of the pattern in those columns, since each row
sees at most one of them. A tridiagonal Jacobian has 3 groups whatever n: 6 calls.

What the pattern claims is checked too (Ipopt's "entries outside the declared sparsity",
OpenMDAO's "assumed zero, but finite difference is nonzero"): a row where no column of the group
may be non-zero must not move; when it does, the column responsible is found by halving the
group (2 calls a halving). Suspicious entries are estimated again at half the step, the change
being their truncation error, as everywhere in gradcheck (:mod:`gradcheck.compare`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .compare import SAFETY, Tolerances, relative_difference
from .layout import entries
from .precision import EPS
from .report import Diagnosis, Report


def _pattern(sparsity: Any, m: int, n: int) -> Any:
    """The pattern as a CSC matrix of ones (m × n)."""
    from scipy import sparse

    S = sparse.csc_matrix(sparsity, dtype=bool) if not sparse.issparse(sparsity) else sparsity
    S = sparse.csc_matrix(S, dtype=bool)
    if S.shape != (m, n):
        raise ValueError(f"sparsity must have the Jacobian's shape ({m}, {n}), got {S.shape}.")
    return S


class _Columns:
    """Central differences of f along sums of columns, counted."""

    def __init__(self, f: Callable[..., Any], x: np.ndarray, args: tuple, kwargs: Mapping) -> None:
        self.f, self.x, self.args, self.kwargs = f, x, args, dict(kwargs)
        self.h = (EPS ** (1 / 3)) * np.maximum(1.0, np.abs(x))
        self.h = (x + self.h) - x
        self.calls = 0

    def f_at(self, p: np.ndarray) -> np.ndarray:
        self.calls += 1
        return np.asarray(self.f(p, *self.args, **self.kwargs), dtype=float).ravel()

    def difference(self, cols: np.ndarray, fraction: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """(f(x + h_C) − f(x − h_C)) / 2 and its round-off, with h_C the steps on ``cols``."""
        step = np.zeros_like(self.x)
        step[cols] = self.h[cols] * fraction
        up, down = self.f_at(self.x + step), self.f_at(self.x - step)
        return (up - down) / 2, 2 * EPS * np.maximum(np.abs(up), np.abs(down))


def check_sparse_jacobian(
    f: Callable[..., Any],
    x: Any,
    jac: Callable[..., Any],
    sparsity: Any,
    *,
    args: tuple = (),
    kwargs: Mapping[str, Any] | None = None,
    rtol: float = 1e-6,
) -> Report:
    """Check ``jac`` (dense or ``scipy.sparse``) and its pattern against differences of f,
    columns grouped by the pattern (see the module notes). The report's per-input arrays hold,
    for each input (column), its worst entry of the pattern."""
    from scipy.optimize._numdiff import group_columns

    clock = time.perf_counter()
    x = np.asarray(x, dtype=float).ravel().copy()
    cols = _Columns(f, x, args, kwargs or {})
    f0 = cols.f_at(x)
    J = _entries_of(jac(x.copy(), *args, **(kwargs or {})))
    m, n = f0.size, x.size
    per_column = np.full((4, n), np.nan)  # numeric, analytic, allowed, |error|/allowed: the worst
    S = _pattern(sparsity, m, n)
    groups = group_columns(S)
    wrong: list[tuple[int, int, float, float]] = []
    structural: list[tuple[int, int, float]] = []
    tol = Tolerances(rtol, 0.0)
    for g in range(int(groups.max()) + 1 if groups.size else 0):
        members = np.flatnonzero(groups == g)
        d, noise = cols.difference(members)
        owner = _owners(S, members, m)
        numeric = np.where(owner >= 0, d / np.where(owner >= 0, cols.h[owner], 1.0), 0.0)
        analytic = np.where(owner >= 0, J(np.arange(m), np.maximum(owner, 0)), 0.0)
        err = noise / np.where(owner >= 0, cols.h[np.maximum(owner, 0)], cols.h[members].min())
        allowed = tol.allowed(noise=err, analytic=analytic, numeric=numeric)
        _keep_worst(per_column, owner, numeric, analytic, allowed)
        bad = np.flatnonzero((owner >= 0) & (np.abs(numeric - analytic) > allowed))
        if bad.size:  # again at half the step: the change is the truncation error
            d2, _ = cols.difference(members, 0.5)
            numeric2 = d2[bad] / (cols.h[owner[bad]] / 2)
            trunc = 4 / 3 * np.abs(numeric[bad] - numeric2)
            still = np.abs(numeric2 - analytic[bad]) > allowed[bad] + SAFETY * trunc
            for r, n2 in zip(bad[still][:20], numeric2[still][:20], strict=True):
                found = _own_or_other(cols, members, int(r), int(owner[r]), analytic[r], allowed[r])
                if found is None:  # the owner's own derivative is wrong
                    wrong.append((int(r), int(owner[r]), float(analytic[r]), float(n2)))
                else:  # another column of the group moves the row: outside the pattern
                    structural.append((int(r), *found))
        moved = np.flatnonzero((owner < 0) & (np.abs(d) > SAFETY * noise + rtol * np.abs(d)))
        for r in moved[:20]:
            c, value = _responsible(cols, members, int(r))
            structural.append((int(r), c, value))
    colours = int(groups.max()) + 1
    return _report(f0, m, n, per_column, wrong, structural, cols.calls, clock, colours)


def _entries_of(J: Any) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """J[rows, cols] for pairs of indices, without making a sparse J dense."""
    from scipy import sparse

    if sparse.issparse(J):
        csr = sparse.csr_matrix(J, dtype=float)
        return lambda rows, cols: np.asarray(csr[rows, cols], dtype=float).ravel()
    dense = np.asarray(J, dtype=float)
    return lambda rows, cols: dense[rows, cols]


def _keep_worst(
    per_column: np.ndarray,
    owner: np.ndarray,
    numeric: np.ndarray,
    analytic: np.ndarray,
    allowed: np.ndarray,
) -> None:
    """For each column, the numbers of its row furthest from the analytic value (relative to
    what is allowed): the report's per-input arrays."""
    rows = np.flatnonzero(owner >= 0)
    ratio = np.abs(numeric[rows] - analytic[rows]) / np.maximum(allowed[rows], 1e-300)
    order = rows[np.argsort(ratio)]  # ascending: the worst row of a column is written last
    c = owner[order]
    per_column[:, c] = np.vstack([numeric[order], analytic[order], allowed[order], np.sort(ratio)])


def _owners(S: Any, members: np.ndarray, m: int) -> np.ndarray:
    """For each row, the one column of the group the pattern lets be non-zero there (−1: none)."""
    owner = np.full(m, -1)
    for c in members:
        rows = S.indices[S.indptr[c] : S.indptr[c + 1]]
        owner[rows] = c
    return owner


def _own_or_other(
    cols: _Columns, members: np.ndarray, row: int, owner: int, analytic: float, allowed: float
) -> tuple[int, float] | None:
    """A wrong entry (row, owner) seen through a group: its column alone (2 calls). If the
    owner's derivative agrees alone, another column of the group moved the row — outside the
    pattern: that column (found by halving) and its derivative; else None (the owner is wrong)."""
    d, noise = cols.difference(np.array([owner]))
    alone = d[row] / cols.h[owner]
    if abs(alone - analytic) > allowed + SAFETY * noise[row] / cols.h[owner]:
        return None
    return _responsible(cols, members[members != owner], row)


def _responsible(cols: _Columns, members: np.ndarray, row: int) -> tuple[int, float]:
    """The column of ``members`` that moves f's ``row`` though the pattern says it cannot:
    halving the group (2 calls a halving); returns it and ∂f_row/∂x_col."""
    group = members
    while group.size > 1:
        half = group[: group.size // 2]
        d, noise = cols.difference(half)
        group = half if abs(d[row]) > SAFETY * noise[row] else group[group.size // 2 :]
    c = int(group[0])
    d, _ = cols.difference(group)
    return c, float(d[row] / cols.h[c])


def _report(
    f0: np.ndarray,
    m: int,
    n: int,
    per_column: np.ndarray,
    wrong: list[tuple[int, int, float, float]],
    structural: list[tuple[int, int, float]],
    calls: int,
    clock: float,
    colours: int,
) -> Report:
    diagnoses = []
    if structural:
        shown = ", ".join(f"J[{r}, {c}] (difference {v:.3g})" for r, c, v in structural[:6])
        diagnoses.append(
            Diagnosis(
                "localized",
                f"your sparsity pattern says {shown} {'is' if len(structural) == 1 else 'are'} "
                "structurally zero, but the finite difference is not: the pattern (or f) "
                "leaves out a dependence.",
                indices=np.array(sorted({c for _, c, _ in structural})),
                headline=f"{entries(len(structural))} outside the sparsity pattern move f",
            )
        )
    if wrong:
        shown = ", ".join(
            f"J[{r}, {c}]: analytic {a:.6g}, numeric {v:.6g}" for r, c, a, v in wrong[:6]
        )
        diagnoses.append(
            Diagnosis(
                "localized",
                f"wrong Jacobian entries: {shown} — output k, input i.",
                indices=np.array(sorted({c for _, c, _, _ in wrong})),
                headline=f"{entries(len(wrong))} of the Jacobian wrong",
            )
        )
    bad_cols = np.array(
        sorted({c for _, c, _, _ in wrong} | {c for _, c, _ in structural}), dtype=np.intp
    )
    numeric, analytic, allowed, _ = per_column
    checked = np.flatnonzero(np.isfinite(numeric))
    return Report(
        ok=not diagnoses,
        relative_difference=relative_difference(numeric[checked], analytic[checked]),
        mismatched=bad_cols,
        diagnoses=diagnoses,
        evaluations=calls,
        checked=checked,
        numeric=numeric,
        analytic=analytic,
        error=np.full(n, np.nan),
        tolerance=allowed,
        step=np.full(n, np.nan),
        layout=None,
        method="central",
        mode="full",
        step_policy="chosen",
        noise=float("nan"),
        cost=float(np.linalg.norm(f0)),
        seconds=time.perf_counter() - clock,
        rtol=float("nan"),
        atol=float("nan"),
        safety=SAFETY,
        notes=[
            (
                f"a sparse Jacobian ({m} × {n}): its columns in {colours} groups that share no "
                f"row (the pattern's colouring), {calls} calls of f in all."
            )
        ],
    )
