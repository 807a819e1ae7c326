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

Localisation. When the verdict fails, the hypotheses of :mod:`gradcheck.diagnose` are tested on
the verdict's directions (the whole gradient), then on three directions of each block: a pattern
of the whole gradient or of a block is named without finding its entries. A failing 2-D block is
then searched by rows or by columns when its errors lie in one of them (a row and a column half of
the block are tested first), and a failing row or column is tested as a scope of its own, so that
``Theta1[3, :]`` never written is named ``zero`` without localising its 401 entries. Otherwise
groups are halved: with ``v_G`` the direction restricted to a group split into L and R,
``∇f·v_G = ∇f·v_L + ∇f·v_R``, so testing L also tests R: about ``2·log2(n)`` calls per wrong
entry. Each isolated entry is judged on its own by the per-entry error model before it is named
(:func:`gradcheck.compare.judge_entries`; at half the step when the budget is short; left on the
frontier, not accused, when it is out), and the remaining entries must pass along a fresh
direction. For small x, localising spends at most what a full check would; past that, every
entry decides (:func:`gradcheck.pipeline._directional`). When the budget runs out first, the groups still failing are
reported with an estimate of how many entries they hold.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
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
from .diagnose import HYPOTHESES, SLACK, direction_view, first_explanation
from .differences import SCHEMES
from .directions import DRAWN, Positions, Root, size_of
from .evaluate import Evaluator, Points, Seen
from .layout import Layout, entries, entry_name, set_name
from .noise import Noise
from .precision import EPS
from .report import Diagnosis

DIRECTIONS = 3
BLOCK_DIRECTIONS = 3
SCOPE_DIRECTIONS = 2  # fresh directions added to a failing row or column to name its pattern
BORDERLINE = 10.0  # a failure within this many times its step change may be noise
REFINE = cast(float, SCHEMES["central"].refine)  # truncation ≈ REFINE·|D(s) − D(s/2)|
FITTED = {h.kind: h.parameters > 0 for h in HYPOTHESES}  # kinds named only once confirmed


class _Incomplete(Exception):
    """Evaluations went missing (Ctrl-C, a worker that died): stop where we are."""


Spec = tuple["Root", Positions]  # a direction's root and the positions it is restricted to


class Group(NamedTuple):
    """Entries (positions along a root), their direction's numeric and analytic derivative, and
    the tolerance."""

    root: Root
    positions: Positions
    numeric: float
    analytic: float
    tolerance: float
    change: float = 0.0  # |D(s) − D(s/2)| when refined; 0 otherwise

    @property
    def size(self) -> int:
        return size_of(self.positions)

    @property
    def fails(self) -> bool:
        return not abs(self.numeric - self.analytic) <= self.tolerance

    @property
    def ratio(self) -> float:
        """How far outside (> 1) or inside its tolerance the group is (0 for an exact match
        at zero tolerance, inf for a mismatch there or a non-finite difference)."""
        gap = abs(self.numeric - self.analytic)
        if self.tolerance > 0:
            return gap / self.tolerance
        return 0.0 if gap == 0 else math.inf

    @property
    def flat(self) -> slice | np.ndarray:
        return self.root.flat(self.positions)

    def minus(self, other: Group, positions: Positions) -> Group:
        """The rest of this group once ``other`` is taken out (additivity)."""
        return Group(
            self.root,
            positions,
            self.numeric - other.numeric,
            self.analytic - other.analytic,
            self.tolerance + other.tolerance,
        )


@dataclass
class _Tester:
    """Directional differences along groups, with tolerances; knows the noise and the step."""

    ev: Evaluator
    x: np.ndarray
    f0: float
    analytic: np.ndarray
    eps_f: float
    step: float
    tol: Tolerances
    seen: Seen = field(default_factory=Seen)
    stair: float | None = None  # a jump of f seen along a direction: f is a staircase
    _draw: np.ndarray | None = None  # n entries, reused for the directions projected on

    def draw(self, root: Root, positions: Positions) -> np.ndarray:
        """A direction's values on ``positions``, into memory kept for the purpose (a fresh
        array of n entries per direction costs more in page faults than the rest)."""
        if self._draw is None:
            self._draw = np.empty(self.x.size)
        return root.values(self.x, positions, self._draw)

    def release(self) -> None:
        """Give back the memory kept for drawing directions and building points."""
        self._draw = None
        self.ev.ledger.spare.clear()

    def direction(self, group: Group) -> tuple[slice | np.ndarray, np.ndarray]:
        """A group's (flat indices, values), drawn into the reused memory: valid until the
        next draw."""
        return group.flat, self.draw(group.root, group.positions)

    def differences(self, specs: Sequence[Spec], steps: np.ndarray) -> np.ndarray:
        """Central differences along each group, direction by direction: f at x + s·v, then at
        x − s·v, both points built in one pass over the direction and handed to f as they are."""
        return self._measure(specs, steps)[0]

    def _measure(self, specs: Sequence[Spec], steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The differences, and per group the analytic side drawn from the same direction: a·v,
        ‖a∘v‖₂ (what rtol is relative to), ‖v‖₁ (atol's weight), the round-off of a·v."""
        stats = np.empty((4, len(specs)))
        held: dict[int, np.ndarray] = {}  # points built and not handed over yet, by position

        def change(j: int) -> tuple[slice, np.ndarray]:
            if j not in held:  # first asked (or asked again): both points of its direction
                held.clear()  # before building: memory nobody holds may serve the new points
                k = j // 2
                root, positions = specs[k]
                plus, minus, stats[:, k] = self._points(root, positions, float(steps[k]))
                held.update({2 * k: plus, 2 * k + 1: minus})
            return slice(None), held.pop(j)  # handed over: f may keep it

        where = lambda j: f"along a random direction over {size_of(specs[j // 2][1])} entries"
        costs = self.ev.costs(Points(self.x, 2 * len(specs), change, where, owned=True))
        self.seen = self.seen | costs.seen
        if costs.seen.incomplete:
            raise _Incomplete
        values = np.real(costs.values)
        return (values[0::2] - values[1::2]) / (2 * steps), stats

    def _points(
        self, root: Root, positions: Positions, step: float
    ) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float, float]]:
        """x ± step·v, and a·v, ‖a∘v‖₂, ‖v‖₁ and the round-off of a·v, from one draw of v."""
        x, a = self.x, self.analytic
        flat = root.flat(positions)
        whole = isinstance(flat, slice) and flat.start == 0 and flat.stop == x.size
        plus, minus = self.ev.ledger.spare.take(x), self.ev.ledger.spare.take(x)
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
        return plus, minus, (sums[1] / step, norm, sums[0] / step, rounding)

    def _stairs(self, long: np.ndarray, short: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """Record a staircase (``round``, ``floor``, a quantiser): f exactly equal at x ± s·v for
        a shorter step s where the slope the long step measured would have moved it well above
        the noise. ``stair`` keeps the largest such change (the size of a jump). Returns which
        directions are flat."""
        change = 2 * np.abs(long) * steps
        flat = (short == 0) & (change > self.tol.safety * self.eps_f)
        if np.any(flat):
            self.stair = max(self.stair or 0.0, float(np.max(change[flat])))
        return flat

    def test(self, specs: Sequence[Spec], refine: str = "all") -> list[Group]:
        """Each group's numbers and tolerance; failing ones refined at half the step (``refine``:
        'all' failing groups, the 'worst', or 'none')."""
        if not specs:
            return []
        steps = np.full(len(specs), self.step)
        d, (a, magnitude, weight, rounding) = self._measure(specs, steps)

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
        bad = np.flatnonzero(~(np.abs(d - a) <= tol))
        if bad.size and refine != "none":
            if refine == "worst":
                bad = bad[[int(np.argmax(np.abs(d[bad] - a[bad]) / tol[bad]))]]
            half = self.differences([specs[int(k)] for k in bad], steps[bad] / 2)
            change[bad] = np.abs(d[bad] - half)
            trunc = REFINE * change[bad]
            # A truncation error above the noise: the step was too long along these directions
            # (a pole, a jump); estimate them again at the step that balances the two.
            long = trunc > self.tol.safety * self.eps_f / steps[bad]
            if np.any(long):
                k = bad[long]
                ratio = (self.eps_f / (2 * trunc[long] * steps[k])) ** (1 / 3)
                shorter = steps[k] * np.clip(ratio, 1e-6, 0.5)
                before, d[k] = d[k], self.differences([specs[int(j)] for j in k], shorter)
                flat = self._stairs(before, d[k], shorter)
                trunc[long] *= np.where(flat, 0.0, (shorter / steps[k]) ** 2)  # flat: exact 0
                steps[k] = shorter
            tol[bad] = allowed(bad, trunc)
        return [
            Group(root, positions, float(dk), float(ak), float(tk), float(ck))
            for (root, positions), dk, ak, tk, ck in zip(specs, d, a, tol, change, strict=True)
        ]


class Context(NamedTuple):
    """What the search may ask of the pipeline: the noise of f, measured once (8 calls), and
    what follows from a noise level: ε_f, the step along a direction, the tolerances (wider when
    f turns out to compute in float32)."""

    measure_noise: Callable[[], Noise]
    adopt: Callable[[Noise], tuple[float, float, Tolerances]]


class Outcome(NamedTuple):
    """Directional mode's comparison, and the noise and tolerances it ended with."""

    comparison: Comparison
    noise: Noise | None  # None: never measured (ε_f stayed at round-off)
    tol: Tolerances


@dataclass
class _Search:
    """The state of one directional check: what was found, named, and left."""

    tester: _Tester
    rng: np.random.Generator
    layout: Layout | None
    budget: int
    context: Context
    noise: Noise | None = None
    patterns: list[Diagnosis] = field(default_factory=list)
    explained: list[np.ndarray] = field(default_factory=list)
    found: list[Group] = field(default_factory=list)  # isolated and confirmed
    pending: list[Group] = field(default_factory=list)  # isolated, to be confirmed
    frontier: list[Group] = field(default_factory=list)
    complete: bool = True
    census: tuple[int, int] | None = None  # (cells, failing cells) at the deepest level searched
    fixed: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.intp))  # x not finite
    kinks: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.intp))
    stairs: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.intp))

    @property
    def n(self) -> int:
        return self.tester.x.size

    def seed(self) -> int:
        """A fresh direction's seed."""
        return int(self.rng.integers(2**63))

    def roots(self, order: slice | np.ndarray, size: int, count: int) -> list[Root]:
        holes = None
        if self.fixed.size:  # entries where x is ±inf or NaN: never moved
            flat = np.arange(order.start or 0, order.stop) if isinstance(order, slice) else order
            holes = np.flatnonzero(np.isin(flat, self.fixed)) if flat.size else None
        return [Root(order, size, self.seed(), holes) for _ in range(count)]

    def affordable(self, calls: int) -> bool:
        return self.tester.ev.calls + calls <= self.budget

    # ----- the verdict ------------------------------------------------------------------------

    def verdict(self) -> list[Group]:
        """Three directions over everything; the noise is measured only when a failure is
        borderline (within ten times what halving the step changed), and the directions are
        then tested again at the step it calls for."""
        specs = [(r, slice(0, self.n)) for r in self.roots(slice(0, self.n), self.n, DIRECTIONS)]
        groups = self.tester.test(specs, refine="worst")
        worst = max(groups, key=lambda g: g.ratio)
        borderline = worst.fails and abs(worst.numeric - worst.analytic) <= BORDERLINE * max(
            worst.change, EPS * abs(worst.numeric)
        )
        if self.noise is None and (borderline or self.tester.seen.low_precision):
            self.noise = self.context.measure_noise()
            eps_f, step, tol = self.context.adopt(self.noise)
            if eps_f > 2 * self.tester.eps_f or tol != self.tester.tol:
                self.tester.eps_f, self.tester.step, self.tester.tol = eps_f, step, tol
                groups = self.tester.test(specs, refine="worst")
        if self.tester.stair is not None and any(g.fails for g in groups):
            groups = self.tester.test(specs, refine="all")  # jumps: every direction shortened
        return groups

    def explain(
        self, groups: list[Group], block: str | None, label: str | None = None
    ) -> Diagnosis | None:
        """The first hypothesis that explains these directions of one scope — confirmed when it
        fitted a parameter (a factor, a κ: ``Hypothesis.parameters``) on two disjoint halves of
        the entries it names; unconfirmed, None (the entries are then searched one by one)."""
        found = self._view_explanation(groups, block, label)
        if found is None or not FITTED[found.kind]:
            return found
        # Confirmed on two disjoint halves of the entries it names, along a fresh direction: a
        # pattern over many entries shows in both halves; one wrong entry (that a κ fitted to
        # three directions explained by chance) shows in one half only.
        named = found.indices
        if named is None or named.size < 2 or not self.affordable(8):
            return None  # not confirmed: the entries are searched instead
        fresh = self.roots(named, named.size, 1)[0]
        cut = named.size // 2
        halves = self.tester.test(
            [(fresh, slice(0, cut)), (fresh, slice(cut, named.size))], refine="all"
        )
        if not all(abs(h.numeric - h.analytic) > SLACK * h.tolerance for h in halves):
            return None
        again = self._view_explanation([*groups, *halves], block, label)
        same = (
            again is not None
            and again.kind == found.kind
            and np.array_equal(again.indices, found.indices)  # type: ignore[arg-type]
        )
        return again if same else None

    def _view_explanation(
        self, groups: list[Group], block: str | None, label: str | None
    ) -> Diagnosis | None:
        x = self.tester.x
        scope = _indices(groups[0].flat) if label is not None else None
        view = direction_view(
            numeric=np.array([g.numeric for g in groups]),
            analytic_items=np.array([g.analytic for g in groups]),
            tolerance=np.array([g.tolerance for g in groups]),
            rtol=self.tester.tol.rtol,
            directions=[partial(self.tester.direction, g) for g in groups],
            analytic=self.tester.analytic,
            x=x,
            layout=self.layout,
            block=block,
            scope=scope,
            label=label,
        )
        return first_explanation(view)

    # ----- blocks, rows, columns ------------------------------------------------------------------

    def blocks(self, verdict: list[Group]) -> list[tuple[Group, str | None]]:
        """Each block along directions of its own: whole-block patterns named; the worst
        failing direction of every other failing block returned, to be searched."""
        if self.layout is None:
            return [(max(verdict, key=lambda g: g.ratio), None)]
        # One direction a block; two more for each block that fails (three to name a pattern).
        orders = {name: _row_major(self.layout, name) for name in self.layout.names}
        first = self.tester.test(
            [(self.roots(o, size, 1)[0], slice(0, size)) for o, size in orders.values()],
            refine="all",
        )
        failed = [(name, g) for name, g in zip(orders, first, strict=True) if g.fails]
        extra = BLOCK_DIRECTIONS - 1
        more = self.tester.test(
            [
                (root, slice(0, orders[name][1]))
                for name, _ in failed
                for root in self.roots(*orders[name], extra)
            ],
            refine="all",
        )
        failing: list[tuple[Group, str | None]] = []
        for b, (name, g) in enumerate(failed):
            groups = [g, *more[b * extra : (b + 1) * extra]]
            diagnosis = self.explain(groups, name)
            if diagnosis is not None:
                self.patterns.append(diagnosis)
                self.explained.append(self.layout.indices(name))
            else:
                failing.append((max(groups, key=lambda g: g.ratio), name))
        if not failing and not self.patterns:  # every block passes alone: the verdict decides
            failing = [(max(verdict, key=lambda g: g.ratio), None)]
        return failing

    def orient(self, parent: Group, name: str) -> list[tuple[Group, int]]:
        """Where a 2-D block's errors lie: test its top rows and its left columns (4 calls). One
        row half failing while both column halves fail means rows; the reverse, columns."""
        rows, cols = self.layout.blocks[name]  # type: ignore[union-attr]
        grid = np.arange(rows * cols).reshape(rows, cols)
        top = slice(0, (rows // 2) * cols)
        left = grid[:, : cols // 2].ravel(order="F")
        right = grid[:, cols // 2 :].ravel(order="F")
        top_g, left_g = self.tester.test([(parent.root, top), (parent.root, left)], refine="none")
        bottom_g = parent.minus(top_g, slice(top.stop, rows * cols))
        right_g = parent.minus(left_g, right)
        by_rows = [g for g in (top_g, bottom_g) if g.fails]
        by_cols = [g for g in (left_g, right_g) if g.fails]
        if len(by_rows) == 1 and len(by_cols) == 2:
            return [(by_rows[0], cols)]  # a search over rows: units of one row
        if len(by_cols) == 1 and len(by_rows) == 2:
            return [(by_cols[0], rows)]  # over columns
        return [(g, 1) for g in by_rows]

    # ----- localisation ---------------------------------------------------------------------------

    def localise(self, start: list[tuple[Group, int]], block: str | None) -> None:
        """Halve failing groups (by whole rows or columns while ``unit`` > 1) breadth-first;
        a group of one row or column is tested as a scope of its own first."""
        level = [(g, u) for g, u in start if g.fails]
        while level:
            self.pending += [g for g, _ in level if g.size == 1]
            parents = []
            for g, unit in level:
                if g.size == 1:
                    continue
                if g.size == unit and unit > 1:
                    if self.scope_pattern(g, block):
                        continue
                    unit = 1
                parents.append((g, unit))
            if not parents:
                return
            if not self.affordable(2 * len(parents)):
                self.deepen(parents)
                return
            level = self.split(parents)
            if all(u == 1 for _, u in parents):
                cells = self.n / max(min(g.size for g, _ in level), 1) if level else 1
                self.census = (int(cells), len(level))

    def split(self, parents: list[tuple[Group, int]]) -> list[tuple[Group, int]]:
        """Test the left half of each parent; the right half follows by additivity."""
        halves = [_halves(g.positions, g.size, unit) for g, unit in parents]
        lefts = self.tester.test(
            [(g.root, lo) for (g, _), (lo, _) in zip(parents, halves, strict=True)], refine="none"
        )
        children = []
        for (g, unit), (_, hi), left in zip(parents, halves, lefts, strict=True):
            right = g.minus(left, hi)
            children += [(c, unit) for c in (left, right) if c.fails]
        return children

    def deepen(self, parents: list[tuple[Group, int]]) -> None:
        """The budget cannot split every failing group: follow the worst ones down to single
        entries while it lasts; what is left is the frontier."""
        self.complete = False
        queue = sorted(parents, key=lambda p: -p[0].ratio)
        while queue:
            g, _ = queue.pop(0)
            if g.size == 1:
                self.pending.append(g)
                continue
            # down to one entry, and its confirmation at half the step
            if not self.affordable(2 * math.ceil(math.log2(g.size)) + 2):
                self.frontier += [g, *(q for q, _ in queue)]
                return
            children = sorted(self.split([(g, 1)]), key=lambda c: -c[0].ratio)
            queue = children[:1] + queue + children[1:]  # depth first along the worst

    def scope_pattern(self, group: Group, block: str | None) -> bool:
        """A failing row or column, tested along two more directions of its own: is it a
        pattern (zero, a factor, a sign, an L2 term)? Then it is named, not searched."""
        if not self.affordable(4 * SCOPE_DIRECTIONS):
            return False
        flat = _indices(group.flat)
        roots = self.roots(flat, flat.size, SCOPE_DIRECTIONS)
        extra = self.tester.test([(r, slice(0, flat.size)) for r in roots], refine="all")
        label = set_name(self.layout, flat)
        diagnosis = self.explain([group, *extra], block, label)
        if diagnosis is None:
            return False
        self.patterns.append(diagnosis)
        self.explained.append(flat)
        return True

    def confirm(self) -> None:
        """Each newly isolated entry judged on its own before it is named: by the per-entry
        error model (:func:`gradcheck.compare.judge_entries`: refined at half its step,
        shortened where its truncation dominates, tested for a staircase and a kink; about 8
        calls) where the budget allows, the least certain first; else at half its step (2
        calls: an error that is truncation is not reported). What the budget cannot judge is
        left on the frontier, not accused."""
        pending, self.pending = sorted(self.pending, key=lambda g: g.ratio), []
        left = self.budget - self.tester.ev.calls
        thorough = max(0, min(len(pending), (left - 2 * len(pending)) // 6))
        quick = max(0, min(len(pending) - thorough, (left - 8 * thorough) // 2))
        if thorough + quick < len(pending):
            self.frontier += pending[thorough + quick :]
            self.complete = False
        if thorough:
            self._judge(pending[:thorough])
        if quick:
            self._half_step(pending[thorough : thorough + quick])

    def _judge(self, checked: list[Group]) -> None:
        """Isolated entries judged by the per-entry error model; the wrong ones are found."""
        x, tester = self.tester.x, self.tester
        idx = np.array([int(_indices(g.flat)[0]) for g in checked], dtype=np.intp)
        c = judge_entries(
            tester.ev,
            x,
            tester.f0,
            tester.analytic,
            idx=np.sort(idx),
            steps=lambda at: (x[at] + tester.step * np.maximum(1.0, np.abs(x[at]))) - x[at],
            scheme=SCHEMES["central"],
            eps_f=tester.eps_f,
            tol=tester.tol,
            describe=partial(entry_name, self.layout),
        )
        tester.seen = tester.seen | c.seen
        if c.seen.incomplete:
            raise _Incomplete
        self.kinks = np.union1d(self.kinks, c.kinks)
        self.stairs = np.union1d(self.stairs, c.stairs)
        for i, g in zip(idx, checked, strict=True):
            if i in c.mismatched:  # the group's numbers become the entry's, along v_i·e_i
                k = int(np.searchsorted(c.idx, i))
                v = float(g.root.values(x, g.positions)[0])
                self.found.append(
                    g._replace(numeric=c.numeric[k] * v, tolerance=c.tolerance[k] * abs(v))
                )

    def _half_step(self, checked: list[Group]) -> None:
        """Isolated entries estimated again at half the step: found wrong unless the change
        (their truncation error) covers the disagreement."""
        specs = [(g.root, g.positions) for g in checked]
        half = self.tester.differences(specs, np.full(len(specs), self.tester.step / 2))
        for g, dh in zip(checked, half, strict=True):
            trunc = REFINE * abs(g.numeric - dh)
            widened = g._replace(tolerance=g.tolerance + self.tester.tol.safety * trunc)
            if widened.fails:
                self.found.append(widened)

    def verify(self) -> None:
        """What was neither named nor isolated must pass along a fresh direction (over all of x,
        zero on the entries already accounted for)."""
        for _ in range(2):
            done = [_indices(g.flat) for g in self.found + self.frontier]
            holes = np.unique(np.concatenate([*self.explained, *done, self.fixed]))
            if not self.complete or holes.size == self.n or not self.affordable(2):
                return
            root = Root(slice(0, self.n), self.n, self.seed(), holes)
            (check,) = self.tester.test([(root, slice(0, self.n))], refine="all")
            if not check.fails:
                return
            self.localise([(check, 1)], None)
            self.confirm()


def _indices(flat: slice | np.ndarray) -> np.ndarray:
    return np.arange(flat.start, flat.stop) if isinstance(flat, slice) else flat


def _row_major(layout: Layout, name: str) -> tuple[slice | np.ndarray, int]:
    """A block's flat indices in row-major order (a slice when the layout is C-ordered)."""
    s = layout.slice(name)
    shape = layout.blocks[name]
    if layout.order == "C" or len(shape) < 2:
        return s, s.stop - s.start
    order = layout.indices(name).reshape(shape, order="F").ravel(order="C")
    return order, order.size


def _halves(positions: Positions, size: int, unit: int) -> tuple[Positions, Positions]:
    """Two halves of a group, cut at a multiple of ``unit`` (whole rows or columns)."""
    cut = (size // unit // 2) * unit if unit > 1 else size // 2
    if isinstance(positions, slice):
        lo = positions.start or 0
        return slice(lo, lo + cut), slice(lo + cut, positions.stop)
    return positions[:cut], positions[cut:]


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
    context: Context,
    notes: tuple[str, ...] = (),
) -> Outcome:
    """Directional mode's comparison, as per-entry arrays: numbers on the isolated entries."""
    search = _Search(_Tester(ev, x, f0, analytic, eps_f, step, tol), rng, layout, budget, context)
    if not np.isfinite(np.sum(x)):
        search.fixed = np.flatnonzero(~np.isfinite(x))
        notes = (*notes, unmoved_note(search.fixed, partial(entry_name, layout)))
    verdict: list[Group] = []
    try:
        verdict = search.verdict()
        if any(g.fails for g in verdict):
            everywhere = search.explain(verdict, None)
            if everywhere is not None:
                search.patterns.append(everywhere)
            else:
                for parent, name in search.blocks(verdict):
                    start = [(parent, 1)]
                    if name is not None and layout is not None and layout.is_matrix(name):
                        start = search.orient(parent, name)
                    search.localise(start, name)
                search.confirm()
                search.verify()
    except _Incomplete:
        search.complete = False
    search.tester.release()
    return Outcome(_comparison(search, verdict, notes), search.noise, search.tester.tol)


def _comparison(search: _Search, verdict: list[Group], notes: tuple[str, ...]) -> Comparison:
    n, seen = search.n, search.tester.seen
    found = sorted(search.found + search.pending, key=lambda g: int(_indices(g.flat)[0]))
    localised = np.array([int(_indices(g.flat)[0]) for g in found], dtype=np.intp)
    nothing = np.broadcast_to(np.nan, n)  # NaN everywhere, no memory
    numeric, tolerance = (np.full(n, np.nan), np.full(n, np.nan)) if found else (nothing, nothing)
    for i, g in zip(localised, found, strict=True):
        v = float(g.root.values(search.tester.x, g.positions)[0])
        numeric[i], tolerance[i] = g.numeric / v, g.tolerance / abs(v)  # v·e_i: divide by v_i
    named = [d.indices for d in search.patterns if d.indices is not None]
    mismatched = np.union1d(localised, np.concatenate(named)) if named else localised
    patterns = list(search.patterns)
    if search.frontier:
        patterns.append(_frontier_diagnosis(search))
    elif not search.complete and not seen.incomplete:
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
        and ((not mismatched.size and not patterns) or bool(search.frontier)),
        stair=search.tester.stair,
        kinks=search.kinks,
        stairs=search.stairs,
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


def _frontier_diagnosis(search: _Search) -> Diagnosis:
    """What the budget could not localise: where the failing groups are, and how many wrong
    entries they probably hold."""
    groups = search.frontier
    flat = np.concatenate([_indices(g.flat) for g in groups])
    at_least = len(groups)
    estimate = at_least
    if search.census is not None:
        cells, failing = search.census
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
    idx = _indices(g.flat)
    if idx.size == 1:
        return entry_name(layout, int(idx[0]))
    return f"{entry_name(layout, int(idx.min()))} … {entry_name(layout, int(idx.max()))} ({entries(idx.size)})"
