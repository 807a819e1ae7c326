"""Directional mode: a verdict from three random directions, then structured group testing.

For a direction v, the central difference ``(f(x + s·v) − f(x − s·v)) / (2s)`` estimates ∇f·v
at the cost of two evaluations, whatever the dimension, and is compared with ``analytic·v``
under the same error model as single entries (:meth:`gradcheck.compare.Tolerances.allowed`).

Directions (:mod:`gradcheck.directions`). ``v_i = ±u_i·max(1, |x_i|)`` with a random sign and
``u_i`` uniform in [0.5, 1.5), never stored: a direction is a seed, drawn again on any range of
its entries when needed. x ± s·v and the sums its tolerance needs are built from each part of
65,536 entries while it is in cache: one pass over x, the gradient and the two points.

Why three directions are enough. Let δ = analytic − ∇f, and τ the tolerance along v. The test
along v misses δ only if ``|δ·v| ≤ τ``. Condition on every term of ``δ·v`` but one,
``±u_j·δ_j·m_j`` (``m_j = max(1, |x_j|)``): that term is uniform on two intervals of total length
``2|δ_j|m_j``, so its density, hence that of δ·v, is at most ``1/(2|δ_j|m_j)``, and

    P(miss along one direction) ≤ τ / max_j |δ_j|·m_j   (+ 2^-14: u_j takes 2^14 values).

A single wrong entry is never missed once ``|δ_j|m_j/2 > τ``. With D independent directions the
bound is raised to the power D. Since τ ≈ rtol·‖a∘v‖₂ (rtol = 1e-6) plus noise, an error of 1e-4
relative to the gradient (``max_j |δ_j| ≈ 1e-4·‖a‖``) is missed with probability below
``(1e-2)^3 = 1e-6`` by ``DIRECTIONS = 3`` directions; ``tests/test_directional.py`` confirms it on
1,000 seeded trials. A correct gradient therefore costs 8 calls of f: one at x, six along the
directions, and one at x again (the history probe).

Steps. The step along v moves each entry by about what full mode's step moves it alone,
``s = (ε_f/|f|)^(1/3)``, since v carries the scale ``max(1, |x_i|)``. ε_f starts at round-off
(2·eps·|f|) and is only measured (Moré & Wild's ECnoise, 8 evaluations) when a failure is
borderline — within ten times what halving the step changed. A failing direction is estimated
again at s/2: the change measures the truncation error, which joins its tolerance; when the
truncation dominates the noise the step was too long, and the direction is estimated once more at
the step that balances the two, ``s* = (ε_f·s² / (2·truncation))^(1/3)``.

Localisation. When the verdict fails, :func:`gradcheck.search.localise` searches for the wrong
entries by group testing over an explicit work list and returns what it found as a value (see
that module): patterns of the whole gradient, of a block, of a row or column are named without
finding their entries; otherwise groups are halved, about ``2·log2(n)`` calls per wrong entry, and
each isolated entry is judged on its own by the per-entry error model before it is named
(:meth:`Tester.judge`; at half the step when the budget is short; left on the frontier, not
accused, when it is out). The search never calls f: this module's :class:`Tester` measures the
directions for it. For small x, localising spends at most what a full check would; past that,
every entry decides (:func:`gradcheck.pipeline._directional`). When the budget runs out first,
the groups still failing are reported with an estimate of how many entries they hold.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import NamedTuple, cast

import numpy as np
from scipy.linalg.blas import dasum

from .compare import (
    RESOLVE,
    Comparison,
    Tolerances,
    judge_entries,
    relative_difference,
    unmoved_note,
)
from .differences import SCHEMES
from .directions import DRAWN, Positions, Root, size_of
from .evaluate import Evaluator, Points, Seen
from .layout import Layout, entries, entry_name
from .noise import Noise
from .precision import EPS
from .report import Diagnosis
from .search import (
    EMPTY,
    Group,
    Incomplete,
    Localisation,
    Measured,
    Search,
    Spec,
    indices,
    localise,
)

DIRECTIONS = 3
BORDERLINE = 10.0  # a failure within this many times its step change may be noise
REFINE = cast(float, SCHEMES["central"].refine)  # truncation ≈ REFINE·|D(s) − D(s/2)|


@dataclass(frozen=True)
class Tester:
    """Directional differences along groups of entries, with their tolerances (the search's
    :class:`gradcheck.search.Measures`). A value: a new noise level makes a new tester
    (``dataclasses.replace``); what its evaluations show comes back with the groups."""

    ev: Evaluator
    x: np.ndarray
    f0: float
    analytic: np.ndarray
    eps_f: float
    step: float
    tol: Tolerances
    # n entries, reused for the directions projected on (a fresh array of n entries per
    # direction costs more in page faults than the rest); np.empty touches no page
    buffer: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "buffer", np.empty(self.x.size))

    @property
    def calls(self) -> int:
        return self.ev.calls

    def direction(self, group: Group) -> tuple[slice | np.ndarray, np.ndarray]:
        """A group's (flat indices, values), drawn into the reused memory: valid until the
        next draw."""
        return group.flat, group.root.values(self.x, group.positions, self.buffer)

    def differences(self, specs: Sequence[Spec], steps: np.ndarray) -> tuple[np.ndarray, Seen]:
        """Central differences along each group, direction by direction."""
        d, _, seen = self._measure(specs, steps)
        return d, seen

    def _measure(
        self, specs: Sequence[Spec], steps: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, Seen]:
        """The differences — f at x + s·v, then at x − s·v, both points built in one pass over
        the direction and handed to f as they are — and per group the analytic side drawn from
        the same direction: a·v, ‖a∘v‖₂ (what rtol is relative to), ‖v‖₁ (atol's weight), the
        round-off of a·v."""
        stats = np.empty((4, len(specs)))
        held: dict[int, np.ndarray] = {}  # points built and not handed over yet, by position
        spare = self.ev.ledger.spare

        def change(j: int) -> tuple[slice, np.ndarray]:
            if j not in held:  # first asked (or asked again): both points of its direction
                held.clear()  # before building: memory nobody holds may serve the new points
                k = j // 2
                root, positions = specs[k]
                plus, minus = spare.take(self.x), spare.take(self.x)
                stats[:, k] = along(
                    self.x, self.analytic, root, positions, float(steps[k]), plus, minus
                )
                held.update({2 * k: plus, 2 * k + 1: minus})
            return slice(None), held.pop(j)  # handed over: f may keep it

        where = lambda j: f"along a random direction over {size_of(specs[j // 2][1])} entries"
        costs = self.ev.costs(Points(self.x, 2 * len(specs), change, where, owned=True))
        if costs.seen.incomplete:
            raise Incomplete(costs.seen)
        values = np.real(costs.values)
        return (values[0::2] - values[1::2]) / (2 * steps), stats, costs.seen

    def compare(self, specs: Sequence[Spec], refine: str) -> Measured:
        """Each group's numbers and tolerance; failing ones refined at half the step (``refine``:
        'all' failing groups, the 'worst', or 'none'). A failing direction whose truncation
        dominates its noise is estimated again at the step that balances the two; found exactly
        flat there (a staircase), its jump is kept as ``stair``."""
        if not specs:
            return Measured([])
        steps = np.full(len(specs), self.step)
        d, (a, magnitude, weight, rounding), seen = self._measure(specs, steps)

        def allowed(k: np.ndarray, trunc: np.ndarray | float) -> np.ndarray:
            return self.tol.allowed(
                noise=self.eps_f / steps[k],
                truncation=trunc,
                analytic=a[k],
                numeric=d[k],
                weight=weight[k],
                rounding=rounding[k],
                magnitude=magnitude[k],
            )

        tol = allowed(np.arange(len(specs)), 0.0)
        change = np.zeros(len(specs))
        stair = None
        bad = np.flatnonzero(~(np.abs(d - a) <= tol))
        if bad.size and refine != "none":
            if refine == "worst":
                bad = bad[[int(np.argmax(np.abs(d[bad] - a[bad]) / tol[bad]))]]
            half, more = self.differences([specs[int(k)] for k in bad], steps[bad] / 2)
            seen = seen | more
            change[bad] = np.abs(d[bad] - half)
            trunc = REFINE * change[bad]
            # A truncation error above the noise: the step was too long along these directions
            # (a pole, a jump); estimate them again at the step that balances the two.
            long = trunc > self.tol.safety * self.eps_f / steps[bad]
            if np.any(long):
                k = bad[long]
                ratio = (self.eps_f / (2 * trunc[long] * steps[k])) ** (1 / 3)
                shorter = steps[k] * np.clip(ratio, 1e-6, 0.5)
                before = d[k]
                d[k], more = self.differences([specs[int(j)] for j in k], shorter)
                seen = seen | more
                flat, stair = self._stairs(before, d[k], shorter)
                trunc[long] *= np.where(flat, 0.0, (shorter / steps[k]) ** 2)  # flat: exact 0
                steps[k] = shorter
            tol[bad] = allowed(bad, trunc)
        groups = [
            Group(root, positions, float(dk), float(ak), float(tk), float(ck))
            for (root, positions), dk, ak, tk, ck in zip(specs, d, a, tol, change, strict=True)
        ]
        return Measured(groups, seen, stair)

    def _stairs(
        self, long: np.ndarray, short: np.ndarray, steps: np.ndarray
    ) -> tuple[np.ndarray, float | None]:
        """Which directions are flat — f exactly equal at x ± s·v for a shorter step s where the
        slope the long step measured would have moved it well above the noise (``round``,
        ``floor``, a quantiser) — and the largest such change (the size of a jump)."""
        change = 2 * np.abs(long) * steps
        flat = (short == 0) & (change > self.tol.safety * self.eps_f)
        return flat, (float(np.max(change[flat])) if np.any(flat) else None)

    def judge(self, groups: list[Group], describe: Callable[[int], str]) -> Measured:
        """Isolated entries judged by the per-entry error model (:func:`judge_entries`: refined
        at half its step, shortened where its truncation dominates, tested for a staircase and
        a kink; about 8 calls each): the wrong ones, their numbers along v_i·e_i."""
        x = self.x
        idx = np.array([g.first for g in groups], dtype=np.intp)
        c = judge_entries(
            self.ev,
            x,
            self.f0,
            self.analytic,
            idx=np.sort(idx),
            steps=lambda at: (x[at] + self.step * np.maximum(1.0, np.abs(x[at]))) - x[at],
            scheme=SCHEMES["central"],
            eps_f=self.eps_f,
            tol=self.tol,
            describe=describe,
        )
        if c.seen.incomplete:
            raise Incomplete(c.seen)
        found = []
        for i, g in zip(idx, groups, strict=True):
            if i in c.mismatched:
                k = int(np.searchsorted(c.idx, i))
                v = float(g.root.values(x, g.positions)[0])
                found.append(
                    g._replace(numeric=c.numeric[k] * v, tolerance=c.tolerance[k] * abs(v))
                )
        return Measured(found, c.seen, None, c.kinks, c.stairs)

    def half_step(self, groups: list[Group]) -> Measured:
        """Isolated entries estimated again at half the step: wrong unless the change (their
        truncation error) covers the disagreement."""
        specs = [(g.root, g.positions) for g in groups]
        half, seen = self.differences(specs, np.full(len(specs), self.step / 2))
        found = []
        for g, dh in zip(groups, half, strict=True):
            widened = g._replace(
                tolerance=g.tolerance + self.tol.safety * REFINE * abs(g.numeric - dh)
            )
            if widened.fails:
                found.append(widened)
        return Measured(found, seen)


def along(
    x: np.ndarray,
    a: np.ndarray,
    root: Root,
    positions: Positions,
    step: float,
    plus: np.ndarray,
    minus: np.ndarray,
) -> tuple[float, float, float, float]:
    """x ± step·v written into ``plus`` and ``minus``, and a·v, ‖a∘v‖₂, ‖v‖₁ and the round-off
    of a·v, from one draw of v, part by part while each part is in cache."""
    flat = root.flat(positions)
    whole = isinstance(flat, slice) and flat.start == 0 and flat.stop == x.size
    if not whole:
        np.copyto(plus, x)
        np.copyto(minus, x)
    if isinstance(positions, slice):
        parts: Iterator[tuple[int, np.ndarray]] = root.drawn(x, positions, step)
        largest = min(DRAWN, size_of(positions))
    else:  # a few scattered entries (a column): drawn in one piece
        parts, largest = iter([(0, step * root.values(x, positions))]), positions.size
    sums = np.zeros(3)  # Σ|s·v|, Σ a·s·v, Σ (a·s·v)²
    work, ones = np.empty(largest), np.ones(largest)
    for at, sv in parts:
        w, one = work[: sv.size], ones[: sv.size]
        if isinstance(flat, slice):
            idx: slice | np.ndarray = slice(flat.start + at, flat.start + at + sv.size)
            np.add(x[idx], sv, out=plus[idx])
            np.subtract(x[idx], sv, out=minus[idx])
        else:
            idx = flat[at : at + sv.size]
            plus[idx], minus[idx] = x[idx] + sv, x[idx] - sv
        sums[0] += dasum(sv)  # BLAS: Σ|v| in one reading pass
        np.multiply(a[idx], sv, out=w)
        sums[1] += w @ one
        sums[2] += w @ w
    norm = math.sqrt(sums[2]) / step
    # |a·v| round-off ≤ eps·Σ|a_i v_i| ≤ eps·√size·‖a∘v‖₂ (Cauchy–Schwarz).
    rounding = 100 * EPS * math.sqrt(size_of(positions)) * norm
    return sums[1] / step, norm, sums[0] / step, rounding


class Remeasured(NamedTuple):
    """The noise of f, measured (8 calls), and what follows from it: ε_f, the step along a
    direction, the tolerances (wider when f turns out to compute in float32)."""

    noise: Noise
    eps_f: float
    step: float
    tol: Tolerances


class Outcome(NamedTuple):
    """Directional mode's comparison, and the noise and tolerances it ended with."""

    comparison: Comparison
    noise: Noise | None  # None: never measured (ε_f stayed at round-off)
    tol: Tolerances


def verdict(
    search: Search, remeasure: Callable[[], Remeasured]
) -> tuple[Search, list[Group], Localisation, Noise | None]:
    """Three directions over everything; the noise is measured only when a failure is
    borderline (within ten times what halving the step changed) or f computes in low
    precision, and the directions are then tested again with a tester for that noise. Returns
    the search with the tester it ended with, the directions, what their evaluations showed,
    and the noise when it was measured."""
    n, tester = search.n, cast(Tester, search.tester)
    specs = [(r, slice(0, n)) for r in search.roots(slice(0, n), n, DIRECTIONS)]
    tested = tester.compare(specs, refine="worst")
    shown, noise = Localisation().saw(tested), None
    worst = max(tested.groups, key=lambda g: g.ratio)
    borderline = worst.fails and abs(worst.numeric - worst.analytic) <= BORDERLINE * max(
        worst.change, EPS * abs(worst.numeric)
    )
    if borderline or tested.seen.low_precision:
        noise, eps_f, step, tol = remeasure()
        if noise.seen.incomplete:  # Ctrl-C (or a lost worker) while probing the noise
            raise Incomplete(shown.seen | noise.seen)
        if eps_f > 2 * tester.eps_f or tol != tester.tol:
            tester = replace(tester, eps_f=eps_f, step=step, tol=tol)
            tested = tester.compare(specs, refine="worst")
            shown = shown.saw(tested)
    if shown.stair is not None and any(g.fails for g in tested.groups):
        tested = tester.compare(specs, refine="all")  # jumps: every direction shortened
        shown = shown.saw(tested)
    return replace(search, tester=tester), tested.groups, shown, noise


def compare_directions(
    ev: Evaluator,
    x: np.ndarray,
    f0: float,
    analytic: np.ndarray,
    *,
    eps_f: float,
    step: float,
    tol: Tolerances,
    rng: np.random.Generator,
    budget: int,
    layout: Layout | None,
    remeasure: Callable[[], Remeasured],
    notes: tuple[str, ...] = (),
) -> Outcome:
    """Directional mode's comparison, as per-entry arrays: numbers on the isolated entries."""
    fixed = EMPTY
    if not np.isfinite(np.sum(x)):
        fixed = np.flatnonzero(~np.isfinite(x))
        notes = (*notes, unmoved_note(fixed, partial(entry_name, layout)))
    search = Search(Tester(ev, x, f0, analytic, eps_f, step, tol), rng, layout, budget, fixed)
    groups: list[Group] = []
    noise = None
    try:
        search, groups, shown, noise = verdict(search, remeasure)
        found = localise(search, groups) if any(g.fails for g in groups) else Localisation()
        found = found.saw(shown)
    except Incomplete as stop:  # in the verdict itself
        found = Localisation(complete=False, seen=stop.seen)
    ev.ledger.spare.clear()  # the memory kept for building points
    comparison = _comparison(search, found, groups, notes)
    return Outcome(comparison, noise, search.tester.tol)


def _comparison(
    search: Search, found: Localisation, verdict: list[Group], notes: tuple[str, ...]
) -> Comparison:
    n, seen = search.n, found.seen
    isolated = sorted(found.found, key=lambda g: g.first)
    localised = np.array([g.first for g in isolated], dtype=np.intp)
    nothing = np.broadcast_to(np.nan, n)  # NaN everywhere, no memory
    numeric, tolerance = (
        (np.full(n, np.nan), np.full(n, np.nan)) if isolated else (nothing, nothing)
    )
    for i, g in zip(localised, isolated, strict=True):
        v = float(g.root.values(search.tester.x, g.positions)[0])
        numeric[i], tolerance[i] = g.numeric / v, g.tolerance / abs(v)  # v·e_i: divide by v_i
    named = [d.indices for d in found.patterns if d.indices is not None]
    mismatched = np.union1d(localised, np.concatenate(named)) if named else localised
    patterns = list(found.patterns)
    if found.frontier:
        patterns.append(_frontier_diagnosis(search, found))
    elif not found.complete and not seen.incomplete:
        notes = (*notes, f"localisation stopped at the evaluation budget ({search.budget}).")
    numbers = np.array([[g.numeric, g.analytic] for g in verdict]).reshape(-1, 2)
    failed = any(g.fails for g in verdict)
    taus = np.array([g.tolerance for g in verdict])
    return Comparison(
        numeric=numeric,
        error=nothing,
        tolerance=tolerance,
        step=nothing,
        checked=localised,
        localised=localised,
        mismatched=mismatched.astype(np.intp),
        relative_difference=relative_difference(numbers[:, 0], numbers[:, 1])
        if numbers.size
        else float("nan"),
        mode="directional",
        patterns=tuple(patterns),
        nonfinite_directions=not np.all(np.isfinite(numbers[:, 0])) and not seen.incomplete,
        unexplained_failure=failed
        and ((not mismatched.size and not patterns) or bool(found.frontier)),
        stair=found.stair,
        kinks=found.kinks,
        stairs=found.stairs,
        notes=notes,
        directions=len(verdict),
        seen=seen,
        resolution=resolution(taus),
    )


def resolution(taus: np.ndarray) -> float:
    """The smallest error in a single entry with ``|x_i| ≤ 1`` (smaller where |x_i| > 1: the
    direction carries max(1, |x_i|)) that the verdict's directions miss with probability at most
    ``MISS``: along each, P(miss) ≤ τ/|δ_j| + 2^-14 (the module docstring), so at
    ``|δ_j| = RESOLVE·τ`` three directions all miss it with probability ≤ (1e-2 + 2^-14)^3."""
    if taus.size < DIRECTIONS or not np.all(np.isfinite(taus)):
        return float("nan")
    return float(RESOLVE * np.max(taus))


def _frontier_diagnosis(search: Search, found: Localisation) -> Diagnosis:
    """What the budget could not localise: where the failing groups are, and how many wrong
    entries they probably hold."""
    groups = found.frontier
    flat = np.concatenate([indices(g.flat) for g in groups])
    at_least = len(groups)
    estimate = at_least
    if found.census is not None:
        cells, failing = found.census
        if 0 < failing < cells:  # wrong entries scattered at random fill cells like Poisson
            estimate = max(at_least, round(-cells * math.log1p(-failing / cells)))
    shown = ", ".join(_range_name(search.layout, g) for g in groups[:4])
    more = f" and {len(groups) - 4} more groups" if len(groups) > 4 else ""
    share = flat.size / search.n
    return Diagnosis(
        "localized",
        f"the evaluation budget ({search.budget}) ran out with {len(groups)} groups still "
        f"failing, {entries(flat.size)} in all ({share:.1%} of x): about {estimate} more wrong "
        f"entries (at least {at_least}), in {shown}{more}. Pass budget= to localise them, or "
        "run mode='full' on the part that fails.",
        indices=flat,
        headline=f"about {estimate} wrong entries, not all isolated within the budget",
    )


def _range_name(layout: Layout | None, g: Group) -> str:
    idx = indices(g.flat)
    if idx.size == 1:
        return entry_name(layout, int(idx[0]))
    return f"{entry_name(layout, int(idx.min()))} … {entry_name(layout, int(idx.max()))} ({entries(idx.size)})"
