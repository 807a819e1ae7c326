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
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import numpy as np

from .differences import Estimate, Scheme, coordinate_points, estimate, exact_steps, rescue
from .evaluate import Evaluator, Seen
from .layout import SHOWN, entries
from .precision import EPS, FLOAT32_EPS

if TYPE_CHECKING:  # pragma: no cover
    from .report import Diagnosis

SAFETY = 10.0
# Directional mode's resolution: an error of RESOLVE·τ in one entry is missed by all three
# directions with probability at most MISS = (1/RESOLVE + 2^-14)^3 (gradcheck.directional).
RESOLVE = 100.0
MISS = 1.1e-6


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
    eps: float,
    analytic: np.ndarray,
    wobble: float,
) -> Tolerances:
    """The tolerances of a check: the caller's, or the defaults for the precision of f (its
    unit round-off ``eps``): rtol 1e-6 in float64, 1e-3 in float32, 3e-2 below."""
    if rtol is None:
        rtol = 1e-6 if eps <= EPS else 1e-3 if eps <= FLOAT32_EPS else 3e-2
    amax = largest(analytic, finite=True)
    base = 100 * eps * amax if atol is None else float(atol)
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
    """Ng's relative difference ``norm(n − a) / norm(n + a)`` (scaled: no overflow at 1e200)."""
    scale = max(largest(numeric), largest(analytic))
    if not (np.isfinite(scale) and scale > 0) or 1e-150 < scale < 1e150:
        scale = 1.0  # scaled only where squares would overflow or underflow
    denom = np.linalg.norm((numeric + analytic) / scale)
    diff = np.linalg.norm((numeric - analytic) / scale)
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
    stairs: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.intp))  # f flat
    nonfinite: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.intp))
    nonfinite_directions: bool = False  # f not finite along some random direction
    unexplained_failure: bool = False  # directions failed, yet nothing was isolated
    stair: float | None = None  # directional: a jump seen along a direction (f is a staircase)
    notes: tuple[str, ...] = ()
    directions: int = 0
    seen: Seen = field(default_factory=Seen)
    resolution: float = float("nan")  # directional: smallest single-entry error surely caught

    @property
    def incomplete(self) -> bool:
        return self.seen.incomplete


def compare_entries(
    ev: Evaluator,
    x: np.ndarray,
    f0: float,
    analytic: np.ndarray,
    *,
    describe: Callable[[int], str],
    mode: str = "full",
    **options: Any,
) -> Comparison:
    """Estimate each entry, compare it within the error model, refine the suspicious
    (:func:`judge_entries`, which takes the ``options``), as per-entry arrays of n for the
    report."""
    j = judge_entries(ev, x, f0, analytic, describe=describe, **options)
    n = x.size
    numeric, error, step, tolerance = (np.full(n, np.nan) for _ in range(4))
    numeric[j.idx], error[j.idx], step[j.idx] = j.numeric, j.error, j.step
    tolerance[j.idx] = j.tolerance
    notes: tuple[str, ...] = ()
    if j.seen.incomplete:
        why = "interrupted" if j.seen.interrupted else "a worker process died"
        notes = (f"{why}: {j.checked.size} of {j.planned} entries were checked.",)
    if j.fixed_x.size:
        notes += (unmoved_note(j.fixed_x, describe),)
    return Comparison(
        numeric=numeric,
        error=error,
        tolerance=tolerance,
        step=step,
        checked=j.checked,
        localised=j.mismatched,
        mismatched=j.mismatched,
        relative_difference=relative_difference(numeric[j.checked], analytic[j.checked]),
        mode=mode,
        kinks=j.kinks,
        stairs=j.stairs,
        nonfinite=j.nonfinite,
        notes=notes,
        seen=j.seen,
    )


class Judgement(NamedTuple):
    """Entries judged one by one: the numbers on ``idx`` (sorted; x finite there) and, as
    entry numbers, which were checked, found wrong, at a kink, on a staircase, not finite."""

    idx: np.ndarray
    numeric: np.ndarray
    error: np.ndarray
    step: np.ndarray
    tolerance: np.ndarray
    checked: np.ndarray
    mismatched: np.ndarray
    kinks: np.ndarray
    stairs: np.ndarray
    nonfinite: np.ndarray
    fixed_x: np.ndarray  # x is ±inf or NaN there: not perturbed
    planned: int
    seen: Seen


def judge_entries(
    ev: Evaluator,
    x: np.ndarray,
    f0: float,
    analytic: np.ndarray,
    *,
    idx: np.ndarray,
    steps: np.ndarray | Callable[[np.ndarray], np.ndarray],
    scheme: Scheme,
    eps_f: float,
    tol: Tolerances,
    describe: Callable[[int], str],
    midway: Callable[[], Seen] | None = None,
    shorten: bool = True,
) -> Judgement:
    """Estimate each entry of ``idx``, compare it within the error model, refine the suspicious;
    memory in proportion to ``idx``, not to x.

    ``steps``: a step per entry of x, or a function giving the steps of the entries it is given.
    ``midway``, when given, runs between the two halves of the entries (the history probe of a
    long run) and returns what its evaluations showed. ``shorten``: a suspicious entry whose
    truncation error dominates the noise is estimated again at the step that balances the two
    (False keeps the caller's step, as given).
    """
    planned, idx = idx.size, np.sort(idx)
    fixed_x = idx[~np.isfinite(x[idx])]  # ±inf or NaN in x: nothing to perturb
    idx = idx[np.isfinite(x[idx])]
    est = _estimate_all(ev, x, f0, idx, steps, scheme, describe, midway)
    est, rescued = rescue(ev, x, f0, est, eps_f, describe)
    idx = est.idx
    judge = _Judge(
        idx,
        est.numeric.copy(),
        est.error(eps_f, scheme.relative_error),
        est.step.copy(),
        np.full(idx.size, np.nan),
        analytic,
        tol,
    )
    done = idx[np.isfinite(est.numeric)] if est.seen.incomplete else idx
    finite = np.isfinite(judge.get("numeric", done)) & np.isfinite(analytic[done])
    checked = done[finite]
    nonfinite = done[~np.isfinite(judge.get("numeric", done))]
    suspicious = checked[judge.wrong(checked)]
    measured = np.isin(suspicious, idx[rescued])  # rescued: their truncation is measured already
    rescued_wrong, suspicious = suspicious[measured], suspicious[~measured]
    kinks = stairs = np.array([], dtype=np.intp)
    seen = est.seen
    if suspicious.size and scheme.refine is not None and not est.seen.incomplete:
        suspicious, kinks, stairs, seen = _refine(
            ev, x, f0, est, suspicious, judge, scheme, eps_f, describe, shorten
        )
        seen = est.seen | seen
    if scheme.sees_kinks and not seen.incomplete:  # kinks the central difference steps over
        at_zero, more = _kinks_at_zero(ev, x, f0, est, checked, judge, eps_f, scheme, describe)
        kinks, seen = np.union1d(kinks, at_zero), seen | more
    mismatched = np.sort(np.concatenate([suspicious, rescued_wrong]))
    return Judgement(
        idx,
        judge.numeric,
        judge.error,
        judge.step,
        judge.tolerance,
        checked,
        mismatched,
        kinks,
        stairs,
        nonfinite,
        fixed_x,
        planned,
        seen,
    )


class Refined(NamedTuple):
    """What refining the suspicious entries found: those still wrong, the kinks, the stairs."""

    wrong: np.ndarray
    kinks: np.ndarray
    stairs: np.ndarray
    seen: Seen


@dataclass(frozen=True)
class _Judge:
    """The per-entry arrays of a comparison, on the entries ``idx`` (sorted), and the error
    model that judges them. Read and written by entry number (:meth:`get`, :meth:`set`)."""

    idx: np.ndarray
    numeric: np.ndarray
    error: np.ndarray
    step: np.ndarray
    tolerance: np.ndarray  # filled in as entries are judged
    analytic: np.ndarray  # all of the gradient, by entry number
    tol: Tolerances

    def get(self, name: str, entries: np.ndarray) -> np.ndarray:
        return cast(np.ndarray, getattr(self, name))[np.searchsorted(self.idx, entries)]

    def set(self, name: str, entries: np.ndarray, values: np.ndarray | float) -> None:
        cast(np.ndarray, getattr(self, name))[np.searchsorted(self.idx, entries)] = values

    def wrong(self, entries: np.ndarray) -> np.ndarray:
        """Judge ``entries`` by the error model (their tolerance kept): which are outside it."""
        a, d = self.analytic[entries], self.get("numeric", entries)
        allowed = self.tol.allowed(noise=self.get("error", entries), analytic=a, numeric=d)
        self.set("tolerance", entries, allowed)
        return np.abs(a - d) > allowed


def _refine(
    ev: Evaluator,
    x: np.ndarray,
    f0: float,
    est: Estimate,
    suspicious: np.ndarray,
    judge: _Judge,
    scheme: Scheme,
    eps_f: float,
    describe: Callable[[int], str],
    shorten: bool,
) -> Refined:
    """Suspicious entries estimated again at half the step: the change measures their
    truncation error, and one-sided differences at both steps reveal kinks. Where the truncation
    dominates the noise (a pole near x, a cost at round-off at x) the step was too long: with
    ``shorten``, again at the step that balances the two. Returns the entries still wrong, the
    kinks and what the evaluations showed."""
    pos = np.searchsorted(est.idx, suspicious)
    half = estimate(ev, x, f0, suspicious, est.step[pos] / 2, scheme, describe)
    seen = half.seen
    trunc = cast(float, scheme.refine) * np.abs(est.numeric[pos] - half.numeric)
    judge.set("error", suspicious, eps_f * est.roundoff[pos] + trunc)
    still = judge.wrong(suspicious)
    # The truncation error dominates the noise (NaN: a side left the domain): the step was too
    # long for this entry, whether or not the truncation now covers the disagreement.
    long = ~(trunc <= judge.tol.safety * eps_f * est.roundoff[pos])
    # Long, and still after a shorter step: the estimate has not converged (a step the caller
    # gave is theirs: only an accusation is tested further).
    unsettled = long & shorten
    stairs = np.array([], dtype=np.intp)
    if shorten and np.any(long) and not seen.incomplete:
        shorter, flat, more = _shorter(
            ev, x, f0, est, pos[long], trunc[long], eps_f, scheme, describe
        )
        seen = seen | more
        keep = np.isfinite(shorter.numeric)
        at = suspicious[long][keep]
        judge.set("numeric", at, shorter.numeric[keep])
        judge.set("step", at, shorter.step[keep])
        judge.set("error", at, shorter.error(eps_f, scheme.relative_error)[keep])
        still[np.flatnonzero(long)[keep]] = judge.wrong(at)
        stairs = suspicious[long][flat]
        noise = judge.tol.safety * eps_f * shorter.roundoff
        unsettled[np.flatnonzero(long)] = ~keep | ~(shorter.truncation <= noise)
    probe = (still | unsettled) & ~np.isin(suspicious, stairs)
    if scheme.sees_kinks and np.any(probe) and not seen.incomplete:
        # Before accusing, or passing on an estimate that did not converge: is f flat at x?
        # (a staircase finer than the step, a flat piece the step reached beyond)
        flat, wrong, more = _flat(ev, x, f0, suspicious[probe], judge, eps_f, describe)
        seen = seen | more
        stairs = np.union1d(stairs, flat)
        at = np.isin(suspicious, flat)
        still[at] = np.isin(suspicious[at], flat[wrong])
    kinks = np.array([], dtype=np.intp)
    if scheme.sees_kinks:
        is_kink = _kinks(judge.analytic[suspicious], f0, est, pos, half, eps_f, judge.tol.safety)
        is_kink &= ~np.isin(suspicious, stairs)
        kinks = suspicious[still & is_kink]
        still &= ~is_kink
    return Refined(suspicious[still], kinks, stairs, seen)


KINK_PROBES = 100  # entries at x_i = 0 probed for a symmetric kink, at most


def _kinks_at_zero(
    ev: Evaluator,
    x: np.ndarray,
    f0: float,
    est: Estimate,
    checked: np.ndarray,
    judge: _Judge,
    eps_f: float,
    scheme: Scheme,
    describe: Callable[[int], str],
) -> tuple[np.ndarray, Seen]:
    """Entries at exactly x_i = 0 that passed although f has a kink there (‖x‖, |x| at 0): the
    central difference averages the two slopes and agrees with a subgradient, so nothing was
    suspicious. Where the one-sided slopes differ by more than half the larger (a stationary
    point of a smooth f does too: x² at 0), they are taken again at half the step (2 calls): a
    kink keeps its gap, a smooth f halves it. Returns the kinks (a warning, not a failure)."""
    at_zero = checked[x[checked] == 0]  # first, and cheaply: nearly always none
    if not at_zero.size:
        return at_zero, Seen()
    pos = np.searchsorted(est.idx, at_zero)  # checked ⊆ est.idx
    h = est.step[pos]
    up, down = (est.f_plus[pos] - f0) / h, (f0 - est.f_minus[pos]) / h
    gap = np.abs(up - down)
    wide = (gap > 0.5 * np.maximum(np.abs(up), np.abs(down))) & (gap > SAFETY * 2 * eps_f / h)
    idx, h, gap = at_zero[wide][:KINK_PROBES], h[wide][:KINK_PROBES], gap[wide][:KINK_PROBES]
    if not idx.size:
        return idx, Seen()
    half = estimate(ev, x, f0, idx, h / 2, scheme, describe)
    h2 = half.step
    gap2 = np.abs((half.f_plus - f0) / h2 - (f0 - half.f_minus) / h2)
    return idx[gap2 > 0.75 * gap], half.seen


def _flat(
    ev: Evaluator,
    x: np.ndarray,
    f0: float,
    idx: np.ndarray,
    judge: _Judge,
    eps_f: float,
    describe: Callable[[int], str],
) -> tuple[np.ndarray, np.ndarray, Seen]:
    """The entries of ``idx`` along which f is locally constant at x, from f at x ± t/2 and
    x ± t, with t short enough that the measured slope moves f by 4·ε_f over t — and so by at
    least 2·ε_f, more than any rounding, between any two of x, x + t/2 and x + t. Two equal
    values on each side are then no slope: a staircase finer than the step (``round(x, 3)``)
    or a constant piece the step reached beyond. A kink at x (flat on one side only) is not.
    Their derivative is 0: the judge's numbers are set to it and judged (returned: the flat
    entries, which of them are still wrong, what the calls showed)."""
    # The smaller of the slope measured (at a long step it may be far off) and the slope the
    # gradient claims; where one is exactly 0 (f did not move at all over the step, or the
    # gradient says 0), the other: f must move by that much if it has that slope.
    numeric, claimed = np.abs(judge.get("numeric", idx)), np.abs(judge.analytic[idx])
    slope = np.where(
        (numeric != 0) & (claimed != 0), np.minimum(numeric, claimed), np.maximum(numeric, claimed)
    )
    with np.errstate(divide="ignore", invalid="ignore"):  # slope 0: t is the step's quarter
        t = np.fmin(4 * eps_f / slope, np.abs(judge.get("step", idx)) / 4)
    # t/2 at least 4 units in float32's last place of x: a function that rounds x to float32
    # still sees every point as a different one.
    t = exact_steps(x[idx], np.maximum(t, 8 * FLOAT32_EPS * np.abs(x[idx])), 2)
    signed = np.concatenate([t, -t, t / 2, -t / 2])
    costs = ev.costs(coordinate_points(x, np.tile(idx, 4), signed, describe))
    up, down, up2, down2 = np.real(costs.values).reshape(4, idx.size)
    flat = ((up == f0) | (up2 == f0) | (up == up2)) & (
        (down == f0) | (down2 == f0) | (down == down2)
    )
    flat &= slope * t / 2 >= eps_f
    at = idx[flat]
    judge.set("numeric", at, 0.0)
    judge.set("step", at, t[flat])
    # f exactly equal at x, x ± t/2 and x ± t: a slope s moves f by s·t/2 between them, so
    # equality bounds |s| by the rounding of f over t/2, about ε_f/t: the error model's
    # allowance (safety·error) is that bound itself, a quarter of the slope that sized t.
    judge.set("error", at, eps_f / (SAFETY * t[flat]))
    return at, judge.wrong(at), costs.seen


def unmoved_note(idx: np.ndarray, describe: Callable[[int], str]) -> str:
    """The note for entries where x is ±inf or NaN: never perturbed, not checked."""
    shown = ", ".join(describe(int(i)) for i in idx[:SHOWN])
    shown += f" and {idx.size - SHOWN} more" if idx.size > SHOWN else ""
    return f"x is not finite at {entries(idx.size)} ({shown}): they were not perturbed, and not checked."


def _shorter(
    ev: Evaluator,
    x: np.ndarray,
    f0: float,
    est: Estimate,
    pos: np.ndarray,
    trunc: np.ndarray,
    eps_f: float,
    scheme: Scheme,
    describe: Callable[[int], str],
) -> tuple[Estimate, np.ndarray, Seen]:
    """Entries ``est.idx[pos]`` estimated again at the step that balances their measured
    truncation error against the noise, ``h* = h·(gain·ε_f/h / (2·truncation))^(1/3)``, with the
    truncation error measured again there (h* and h*/2).

    Also returns which of them are on a staircase (``round``, ``floor``, a quantiser): f exactly
    equal to f(x) on both sides at h* and h*/2, where the long step saw a jump large enough that
    any slope would still show at h* above the noise. Their derivative is 0, as estimated."""
    h = est.step[pos]
    noise = eps_f * est.roundoff[pos]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(np.isfinite(trunc) & (trunc > 0), (noise / (2 * trunc)) ** (1 / 3), 1e-3)
    hs = exact_steps(x[est.idx[pos]], h * np.clip(ratio, 1e-6, 0.5), 2)  # hs and hs/2 exact
    coarse = estimate(ev, x, f0, est.idx[pos], hs, scheme, describe)
    fine = estimate(ev, x, f0, est.idx[pos], hs / 2, scheme, describe)
    refine = scheme.refine if scheme.refine is not None else 1.0
    out = replace(fine, truncation=refine * np.abs(coarse.numeric - fine.numeric))
    jump = np.maximum(np.abs(est.f_plus[pos] - f0), np.abs(f0 - est.f_minus[pos]))
    unmoved = (coarse.f_plus == f0) & (coarse.f_minus == f0)
    unmoved &= (fine.f_plus == f0) & (fine.f_minus == f0)
    # A slope would move f by about jump·h*/h at h*; and h* is above float32's resolution of x,
    # so that a function that rounds x to float32 is not mistaken for a staircase.
    visible = (jump * hs / np.abs(h) > SAFETY * eps_f) & (
        hs > 64 * FLOAT32_EPS * np.maximum(1.0, np.abs(x[est.idx[pos]]))
    )
    flat = unmoved & visible
    return out, flat, coarse.seen | fine.seen


def _estimate_all(
    ev: Evaluator,
    x: np.ndarray,
    f0: float,
    idx: np.ndarray,
    steps: np.ndarray | Callable[[np.ndarray], np.ndarray],
    scheme: Scheme,
    describe: Callable[[int], str],
    midway: Callable[[], Seen] | None,
) -> Estimate:
    """Every entry of ``idx`` estimated, with ``midway`` run between the two halves."""
    step_of = steps if callable(steps) else steps.__getitem__
    cut = idx.size // 2 if midway is not None else idx.size
    est = estimate(ev, x, f0, idx[:cut], step_of(idx[:cut]), scheme, describe)
    if midway is not None and cut < idx.size and not est.seen.incomplete:
        est = replace(est, seen=est.seen | midway())
        est = est.join(estimate(ev, x, f0, idx[cut:], step_of(idx[cut:]), scheme, describe))
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
