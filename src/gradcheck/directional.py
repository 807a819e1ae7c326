"""Directional mode: a verdict from a few random directions, then adaptive group testing.

For a direction v, the central difference ``(f(x + s·v) − f(x − s·v)) / (2s)`` estimates ∇f·v
at the cost of two evaluations, whatever the dimension, and is compared with ``analytic·v``
under the same error model as single entries (:meth:`gradcheck.compare.Tolerances.allowed`).

Directions have random signs and magnitudes: ``v_i = ±u_i·max(1, |x_i|)`` with ``u_i`` uniform
in [0.5, 1.5]. A single wrong entry changes ∇f·v by ``δ·v_i``, never zero, so it is seen by every
direction once ``|δ·v_i|`` exceeds the tolerance. Several wrong entries can cancel only when
their weighted sum nearly vanishes, an event of probability about ``tolerance / |δ|`` for each
direction; ``DIRECTIONS = 10`` independent directions make a miss of errors 10× above tolerance
less likely than ~1e-10.

Steps. The step along v moves each entry by about what full mode's step moves it alone,
``s = (ε_f/|f|)^(1/3)``, since v already carries the scale ``max(1, |x_i|)``. A direction that
fails is estimated again at s/2: the change measures the truncation error along v, which joins its
tolerance, as in full mode. When that truncation dominates the noise (f strongly coupled along
v), the step was too long: the direction is estimated once more at the step that balances the
two, ``s* = (ε_f·s² / (2·truncation))^(1/3)``.

When the verdict fails, the hypotheses of :mod:`gradcheck.diagnose` are tested on the verdict's
directions (the whole gradient), then each block along ``BLOCK_DIRECTIONS`` directions of its own:
a block whose error is such a pattern is named without finding its entries one by one.

Localisation of the remaining failing blocks uses additivity: with ``v_G`` the direction
restricted to a group G split into halves L and R, ``∇f·v_G = ∇f·v_L + ∇f·v_R``, so testing L
alone also tests R. Failing halves are split again until single entries remain: about
``2·b·log2(n)`` evaluations for b wrong entries. A final test on the remaining entries, with a
fresh direction, checks that nothing was missed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .compare import Comparison, Tolerances, relative_difference
from .diagnose import direction_view, first_explanation
from .evaluate import Evaluator, Points, Seen
from .layout import Layout
from .noise import EPS
from .report import Diagnosis

DIRECTIONS = 10
BLOCK_DIRECTIONS = 3
Direction = tuple[np.ndarray, np.ndarray]  # (flat indices, values on them)


class _Incomplete(Exception):
    """Evaluations went missing (Ctrl-C, a worker that died): stop where we are."""


@dataclass(frozen=True)
class DirectionalResult:
    """What directional mode found: the verdict's numbers and the localised entries."""

    numeric: np.ndarray  # directional differences of the verdict directions
    analytic: np.ndarray  # analytic·v for the same directions
    tolerance: np.ndarray
    mismatched: np.ndarray  # flat indices localised as wrong
    estimates: np.ndarray  # numeric derivative estimated at each mismatched entry
    entry_tolerance: np.ndarray
    complete: bool  # False when the evaluation budget ran out before localisation finished
    hypotheses: list[Diagnosis]  # patterns of the whole gradient or of blocks
    seen: Seen

    @property
    def failed(self) -> bool:
        return bool(np.any(np.abs(self.numeric - self.analytic) > self.tolerance))


def random_direction(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    signs = rng.choice([-1.0, 1.0], size=x.shape)
    return signs * rng.uniform(0.5, 1.5, size=x.shape) * np.maximum(1.0, np.abs(x))


@dataclass
class _Tester:
    """Directional differences along (restricted) directions, with tolerances."""

    ev: Evaluator
    x: np.ndarray
    analytic: np.ndarray
    eps_f: float
    step: float
    tol: Tolerances
    seen: Seen = field(default_factory=Seen)

    def differences(self, dirs: list[Direction], steps: np.ndarray) -> np.ndarray:
        """Central differences along each (indices, values) direction with the given steps."""
        x = self.x

        def change(sign: float) -> Callable[[int], tuple[np.ndarray, np.ndarray]]:
            return lambda k: (dirs[k][0], x[dirs[k][0]] + sign * steps[k] * dirs[k][1])

        where = lambda k: f"along a random direction over {dirs[k][0].size} entries"
        plus = self.ev.costs(Points(x, len(dirs), change(1.0), where))
        self.seen = self.seen | plus.seen
        if plus.seen.incomplete:
            raise _Incomplete
        minus = self.ev.costs(Points(x, len(dirs), change(-1.0), where))
        self.seen = self.seen | minus.seen
        if minus.seen.incomplete:
            raise _Incomplete
        return (np.real(plus.values) - np.real(minus.values)) / (2 * steps)

    def test(self, dirs: list[Direction]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(numeric, analytic, tolerance) per direction; failing ones refined (module Notes)."""
        steps = np.full(len(dirs), self.step)
        d = self.differences(dirs, steps)
        a = np.array([self.analytic[idx] @ v for idx, v in dirs])
        rounding = np.array([100 * EPS * np.abs(self.analytic[idx]) @ np.abs(v) for idx, v in dirs])
        magnitude = np.array([np.linalg.norm(self.analytic[idx] * v) for idx, v in dirs])
        weight = np.array([np.abs(v).sum() for _, v in dirs])

        def allowed(k: np.ndarray, noise: np.ndarray, trunc: np.ndarray | float) -> np.ndarray:
            return self.tol.allowed(
                noise=noise,
                truncation=trunc,
                analytic=a[k],
                numeric=d[k],
                weight=weight[k],
                rounding=rounding[k],
                magnitude=magnitude[k],
            )

        every = np.arange(len(dirs))
        tol = allowed(every, self.eps_f / steps, 0.0)
        bad = np.flatnonzero(np.abs(d - a) > tol)
        if bad.size:
            half = self.differences([dirs[k] for k in bad], steps[bad] / 2)
            trunc = 4 / 3 * np.abs(d[bad] - half)
            # A direction that passes only thanks to a truncation error above the noise: the
            # step was too long along it, and a shorter one gives a sharper test.
            passes = np.abs(d[bad] - a[bad]) <= allowed(bad, self.eps_f / steps[bad], trunc)
            long = passes & (trunc > self.tol.safety * self.eps_f / steps[bad])
            if np.any(long):
                k = bad[long]
                ratio = (self.eps_f / (2 * trunc[long] * steps[k])) ** (1 / 3)
                shorter = steps[k] * np.clip(ratio, 1e-6, 0.5)
                d[k] = self.differences([dirs[j] for j in k], shorter)
                trunc[long] *= (shorter / steps[k]) ** 2
                steps[k] = shorter
            tol[bad] = allowed(bad, self.eps_f / steps[bad], trunc)
        return d, a, tol


class _Group(NamedTuple):
    """A set of entries, its direction, and the numeric, analytic and tolerance along it."""

    idx: np.ndarray
    v: np.ndarray
    numeric: float
    analytic: float
    tolerance: float

    @property
    def fails(self) -> bool:
        return abs(self.numeric - self.analytic) > self.tolerance


def _tested(tester: _Tester, dirs: list[Direction]) -> list[_Group]:
    d, a, t = tester.test(dirs)
    return [
        _Group(idx, v, float(dk), float(ak), float(tk))
        for (idx, v), dk, ak, tk in zip(dirs, d, a, t, strict=True)
    ]


def _worst(groups: list[_Group]) -> _Group:
    """The failing group whose disagreement is the largest multiple of its tolerance."""
    return max(
        (g for g in groups if g.fails), key=lambda g: abs(g.numeric - g.analytic) / g.tolerance
    )


def _explain(tester: _Tester, groups: list[_Group], layout: Layout | None, block: str | None):
    view = direction_view(
        numeric=np.array([g.numeric for g in groups]),
        analytic_items=np.array([g.analytic for g in groups]),
        tolerance=np.array([g.tolerance for g in groups]),
        rtol=tester.tol.rtol,
        directions=[(g.idx, g.v) for g in groups],
        analytic=tester.analytic,
        x=tester.x,
        layout=layout,
        block=block,
    )
    return first_explanation(view)


def _search(
    tester: _Tester, rng: np.random.Generator, budget: int, layout: Layout | None
) -> DirectionalResult:
    """The verdict from ``DIRECTIONS`` random directions, then localisation if it fails."""
    x = tester.x
    everything = np.arange(x.size)
    verdict: list[_Group] = []
    found: list[_Group] = []
    complete = True
    hypotheses: list[Diagnosis] = []
    try:
        verdict = _tested(
            tester, [(everything, random_direction(x, rng)) for _ in range(DIRECTIONS)]
        )
        if any(g.fails for g in verdict):
            # Patterns of a whole gradient or block first: localising a sign error would mean
            # finding every entry.
            everywhere = _explain(tester, verdict, layout, None)
            if everywhere is not None:
                hypotheses = [everywhere]
            else:
                roots, hypotheses, explained = _blocks(tester, rng, layout, verdict)
                complete = _localise(tester, roots, found, budget)
                complete = _verify(tester, rng, explained, found, budget, complete)
    except _Incomplete:
        complete = False
    found.sort(key=lambda g: int(g.idx[0]))
    return DirectionalResult(
        numeric=np.array([g.numeric for g in verdict]),
        analytic=np.array([g.analytic for g in verdict]),
        tolerance=np.array([g.tolerance for g in verdict]),
        mismatched=np.array([int(g.idx[0]) for g in found], dtype=np.intp),
        # A single entry's direction is v·e_i: the derivative is numeric / v_i.
        estimates=np.array([g.numeric / g.v[0] for g in found]),
        entry_tolerance=np.array([g.tolerance / abs(g.v[0]) for g in found]),
        complete=complete,
        hypotheses=hypotheses,
        seen=tester.seen,
    )


def _verify(
    tester: _Tester,
    rng: np.random.Generator,
    explained: np.ndarray,
    found: list[_Group],
    budget: int,
    complete: bool,
) -> bool:
    """Whatever was neither explained nor localised must pass along fresh directions."""
    everything = np.arange(tester.x.size)
    for _ in range(3):
        done = np.array([int(g.idx[0]) for g in found], dtype=np.intp)
        rest = np.setdiff1d(everything, np.concatenate([explained, done]))
        if not complete or rest.size == 0:
            break
        checks = _tested(tester, [(rest, random_direction(tester.x[rest], rng)) for _ in range(2)])
        if not any(g.fails for g in checks):
            break
        complete = _localise(tester, [_worst(checks)], found, budget)
    return complete


def _blocks(
    tester: _Tester,
    rng: np.random.Generator,
    layout: Layout | None,
    verdict: list[_Group],
) -> tuple[list[_Group], list[Diagnosis], np.ndarray]:
    """Test each block along its own directions; explain whole-block patterns.

    Returns the groups still to localise, the block diagnoses and the entries they explain.
    """
    none = np.array([], dtype=np.intp)
    if layout is None or len(layout.names) < 2:
        return [_worst(verdict)], [], none
    roots, found, explained = [], [], []
    tested = _tested(
        tester,
        [
            (layout.indices(name), random_direction(tester.x[layout.slice(name)], rng))
            for name in layout.names
            for _ in range(BLOCK_DIRECTIONS)
        ],
    )
    for b, name in enumerate(layout.names):
        groups = tested[b * BLOCK_DIRECTIONS : (b + 1) * BLOCK_DIRECTIONS]
        if not any(g.fails for g in groups):
            continue
        diagnosis = _explain(tester, groups, layout, name)
        if diagnosis is not None:
            found.append(diagnosis)
            explained.append(layout.indices(name))
        else:
            roots.append(_worst(groups))
    if not roots and not found:  # every block passes alone: the verdict's failure decides
        roots = [_worst(verdict)]
    return roots, found, np.concatenate(explained) if explained else none


def _localise(tester: _Tester, groups: list[_Group], found: list[_Group], budget: int) -> bool:
    """Split failing groups breadth-first until single entries; False if the budget ran out."""
    while groups:
        found += [g for g in groups if g.idx.size == 1]
        parents = [g for g in groups if g.idx.size > 1]
        if not parents:
            return True
        if tester.ev.calls + 4 * len(parents) > budget:
            return False
        lefts = _tested(
            tester, [(g.idx[: g.idx.size // 2], g.v[: g.idx.size // 2]) for g in parents]
        )
        groups = []
        for g, left in zip(parents, lefts, strict=True):
            # Additivity: the right half's difference is the parent's minus the left half's.
            half = g.idx.size // 2
            right = _Group(
                g.idx[half:],
                g.v[half:],
                g.numeric - left.numeric,
                g.analytic - left.analytic,
                g.tolerance + left.tolerance,
            )
            groups += [h for h in (left, right) if h.fails]
    return True


def compare_directions(
    ev: Evaluator,
    x: np.ndarray,
    analytic: np.ndarray,
    *,
    eps_f: float,
    rel_noise: float,
    tol: Tolerances,
    rng: np.random.Generator,
    budget: int,
    layout: Layout | None,
    notes: tuple[str, ...] = (),
) -> Comparison:
    """Directional mode's comparison, as per-entry arrays: numbers on the localised entries."""
    tester = _Tester(ev, x, analytic, eps_f, max(rel_noise, EPS) ** (1 / 3), tol)
    result = _search(tester, rng, budget, layout)
    n = x.size
    numeric, tolerance = np.full(n, np.nan), np.full(n, np.nan)
    localised = result.mismatched
    numeric[localised] = result.estimates
    tolerance[localised] = result.entry_tolerance
    explained = [d.indices for d in result.hypotheses if d.indices is not None]
    mismatched = np.union1d(localised, np.concatenate(explained)) if explained else localised
    if not result.complete and not result.seen.incomplete:
        stopped = (
            f"localisation stopped at the evaluation budget ({budget}); more wrong entries may "
            "remain. Pass budget= to allow more."
        )
        notes = (*notes, stopped)
    return Comparison(
        numeric=numeric,
        error=np.full(n, np.nan),
        tolerance=tolerance,
        step=np.full(n, np.nan),
        checked=localised,
        localised=localised,
        mismatched=mismatched.astype(np.intp),
        relative_difference=relative_difference(result.numeric, result.analytic)
        if result.numeric.size
        else float("nan"),
        mode="directional",
        patterns=tuple(result.hypotheses),
        nonfinite_directions=not np.all(np.isfinite(result.numeric)) and not result.seen.incomplete,
        unexplained_failure=result.failed and not mismatched.size and not result.hypotheses,
        notes=notes,
        directions=result.numeric.size,
        seen=result.seen,
    )
