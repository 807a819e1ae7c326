"""The error model, written once, and the comparison of analytic and numeric derivatives.

Notes
-----
A finite difference has two errors: truncation (≈ h²|f'''|/6 for central differences) and
noise (≈ ε_f/h, amplified by the scheme's noise gain). A derivative — one entry, or the
directional derivative along v — is judged wrong only when

    |analytic − numeric| > safety·(noise + truncation) + rtol·magnitude + atol·weight + rounding

with ``safety = 10``. For an entry, ``magnitude = max(|analytic|, |numeric|)`` and ``weight = 1``.
Along a direction v, ``magnitude = ‖a∘v‖₂`` — the size of the sum of the entries' own relative
slacks, which does not shrink when ``a·v`` happens to cancel — ``weight = ‖v‖₁`` (``atol`` is per
entry), and ``rounding`` is the round-off of computing ``a·v``. The truncation term is
0 at first; a suspicious derivative is estimated again at half the step, and the change measures
its truncation error (``4/3·|D(h) − D(h/2)|`` for central differences). ``rtol`` defaults to 1e-6
(1e-3 when f or its gradient computes in float32) and ``atol`` to ``100·eps·max|analytic|``, plus
the gradient's round-off wobble between calls at x. Every mode, ``check_jacobian``,
``check_hessian`` and the adapters use this one function: :meth:`Tolerances.allowed`.

References
----------
J. J. Moré and S. M. Wild, "Estimating computational noise", SIAM J. Sci. Comput., 2011.
J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., §8.1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from .differences import Estimate, Scheme, estimate
from .evaluate import Evaluator, Seen
from .noise import EPS

if TYPE_CHECKING:  # pragma: no cover
    from .report import Diagnosis

SAFETY = 10.0
FLOAT32_EPS = float(np.finfo(np.float32).eps)


@dataclass(frozen=True)
class Tolerances:
    """The slack of the error model: ``rtol``, ``atol`` (per entry) and the ``safety`` factor."""

    rtol: float
    atol: float
    safety: float = SAFETY

    def allowed(
        self,
        *,
        noise: np.ndarray | float,
        analytic: np.ndarray | float,
        numeric: np.ndarray | float,
        truncation: np.ndarray | float = 0.0,
        weight: np.ndarray | float = 1.0,
        rounding: np.ndarray | float = 0.0,
        magnitude: np.ndarray | float | None = None,
    ) -> np.ndarray:
        """The largest ``|analytic − numeric|`` the error model accepts (see the module Notes)."""
        if magnitude is None:
            magnitude = np.maximum(np.abs(analytic), np.abs(numeric))
        return np.asarray(
            self.safety * (np.asarray(noise) + truncation)
            + self.rtol * np.asarray(magnitude)
            + self.atol * np.asarray(weight)
            + rounding
        )


def tolerances(
    rtol: float | None,
    atol: float | None,
    *,
    low_precision: bool,
    analytic: np.ndarray,
    wobble: float,
) -> Tolerances:
    """The tolerances of a check: the caller's, or the defaults for the precision of f."""
    if rtol is None:
        rtol = 1e-3 if low_precision else 1e-6
    amax = largest(analytic, finite=True)
    eps_g = FLOAT32_EPS if low_precision else EPS
    base = 100 * eps_g * amax if atol is None else float(atol)
    return Tolerances(float(rtol), base + SAFETY * wobble)


def largest(d: np.ndarray, *, finite: bool = False) -> float:
    """The largest ``|d_i|``, NaN left out (and ±inf too with ``finite=True``); 0 for nothing.
    Two reading passes (the largest and the smallest value) when every entry is finite, as
    they nearly always are: no temporary array of n."""
    if d.size:
        hi, lo = float(np.max(d)), float(np.min(d))
        if np.isfinite(hi) and np.isfinite(lo):
            return max(abs(hi), abs(lo))
    keep = np.isfinite(d) if finite else ~np.isnan(d)
    return float(np.max(np.abs(d[keep]), initial=0.0))


def relative_difference(numeric: np.ndarray, analytic: np.ndarray) -> float:
    """Ng's relative difference ``norm(n − a) / norm(n + a)``."""
    denom = np.linalg.norm(numeric + analytic)
    diff = np.linalg.norm(numeric - analytic)
    return float(diff / denom) if denom > 0 else float(diff)


@dataclass(frozen=True)
class Comparison:
    """What a comparison found, in either mode, as per-entry arrays (NaN where unknown).

    In directional mode only the localised entries have numbers; ``mismatched`` also holds the
    entries of the patterns named along directions (``patterns``), and ``relative_difference``
    is over the verdict's directions.
    """

    numeric: np.ndarray
    error: np.ndarray
    tolerance: np.ndarray
    step: np.ndarray
    checked: np.ndarray  # entries compared (finite numeric and analytic)
    localised: np.ndarray  # entries known wrong with their numeric value
    mismatched: np.ndarray  # every entry judged wrong
    relative_difference: float
    mode: str
    patterns: tuple[Diagnosis, ...] = ()  # named while comparing (directional mode)
    kinks: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.intp))
    nonfinite: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.intp))
    nonfinite_directions: bool = False  # f not finite along some random direction
    unexplained_failure: bool = False  # directions failed, yet nothing was isolated
    notes: tuple[str, ...] = ()
    directions: int = 0
    seen: Seen = field(default_factory=Seen)

    @property
    def incomplete(self) -> bool:
        return self.seen.incomplete


def compare_entries(
    ev: Evaluator,
    x: np.ndarray,
    f0: float,
    analytic: np.ndarray,
    *,
    idx: np.ndarray,
    steps: np.ndarray,
    scheme: Scheme,
    eps_f: float,
    tol: Tolerances,
    describe: Callable[[int], str],
    mode: str = "full",
    midway: Callable[[], Seen] | None = None,
) -> Comparison:
    """Estimate each entry of ``idx``, compare it within the error model, refine the suspicious.

    ``midway``, when given, runs between the two halves of the entries (the history probe of a
    long run) and returns what its evaluations showed.
    """
    n, planned = x.size, idx.size
    est = _estimate_all(ev, x, f0, idx, steps, scheme, describe, midway)
    idx = est.idx
    numeric, error, step = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    numeric[idx], step[idx] = est.numeric, est.step
    error[idx] = est.error(eps_f, scheme.relative_error)
    done = idx[np.isfinite(numeric[idx])] if est.seen.incomplete else idx
    finite = np.isfinite(numeric[done]) & np.isfinite(analytic[done])
    checked = done[finite]
    nonfinite = done[~np.isfinite(numeric[done])]

    tolerance = np.full(n, np.nan)

    def wrong(entries: np.ndarray) -> np.ndarray:
        """Judge ``entries`` by the error model (their tolerance kept): which are outside it."""
        tolerance[entries] = tol.allowed(
            noise=error[entries], analytic=analytic[entries], numeric=numeric[entries]
        )
        return np.abs(analytic[entries] - numeric[entries]) > tolerance[entries]

    suspicious = checked[wrong(checked)]
    kinks = np.array([], dtype=np.intp)
    seen = est.seen
    if suspicious.size and scheme.refine is not None and not est.seen.incomplete:
        # Re-estimate suspicious entries at half the step: the change measures truncation
        # error, and one-sided differences at both steps reveal kinks.
        pos = np.searchsorted(idx, suspicious)
        half = estimate(ev, x, f0, suspicious, est.step[pos] / 2, scheme, describe)
        seen = seen | half.seen
        trunc = scheme.refine * np.abs(est.numeric[pos] - half.numeric)
        error[suspicious] = eps_f * est.roundoff[pos] + trunc
        still = wrong(suspicious)
        if scheme.sees_kinks:
            is_kink = _kinks(analytic[suspicious], f0, est, pos, half, eps_f, tol.safety)
            kinks = suspicious[still & is_kink]
            still &= ~is_kink
        suspicious = suspicious[still]
    mismatched = np.sort(suspicious)
    notes: tuple[str, ...] = ()
    if seen.incomplete:
        why = "interrupted" if seen.interrupted else "a worker process died"
        notes = (f"{why}: {checked.size} of {planned} entries were checked.",)
    return Comparison(
        numeric=numeric,
        error=error,
        tolerance=tolerance,
        step=step,
        checked=checked,
        localised=mismatched,
        mismatched=mismatched,
        relative_difference=relative_difference(numeric[checked], analytic[checked]),
        mode=mode,
        kinks=kinks,
        nonfinite=nonfinite,
        notes=notes,
        seen=seen,
    )


def _estimate_all(
    ev: Evaluator,
    x: np.ndarray,
    f0: float,
    idx: np.ndarray,
    steps: np.ndarray,
    scheme: Scheme,
    describe: Callable[[int], str],
    midway: Callable[[], Seen] | None,
) -> Estimate:
    """Every entry of ``idx`` estimated, with ``midway`` run between the two halves."""
    cut = idx.size // 2 if midway is not None else idx.size
    est = estimate(ev, x, f0, idx[:cut], steps[idx[:cut]], scheme, describe)
    if midway is not None and cut < idx.size and not est.seen.incomplete:
        est = replace(est, seen=est.seen | midway())
        est = est.join(estimate(ev, x, f0, idx[cut:], steps[idx[cut:]], scheme, describe))
    return est


def _kinks(
    a: np.ndarray,
    f0: float,
    est: Estimate,
    pos: np.ndarray,
    half: Estimate,
    eps_f: float,
    safety: float,
) -> np.ndarray:
    """Entries whose one-sided differences keep a gap that does not shrink with the step, with
    the analytic value between them: the step straddles a kink (ReLU, abs, max)."""
    h1, h2 = est.step[pos], half.step
    up1, down1 = (est.f_plus[pos] - f0) / h1, (f0 - est.f_minus[pos]) / h1
    up2, down2 = (half.f_plus - f0) / h2, (f0 - half.f_minus) / h2
    gap1, gap2 = np.abs(up1 - down1), np.abs(up2 - down2)
    slack = safety * 2 * eps_f / h2
    lo, hi = np.minimum(up2, down2) - slack, np.maximum(up2, down2) + slack
    # Smooth f: the gap between one-sided differences is h·f'' and halves with h; at a kink it
    # stays near the jump in slope.
    return (gap2 > slack) & (gap2 > 0.75 * gap1) & (a >= lo) & (a <= hi)
