"""Localisation in directional mode: structured group testing over an explicit work list.

The search never calls f. It asks a tester (:class:`Measures`: the directional differences of
:mod:`gradcheck.directional`, or planted difference vectors in the tests) for the numbers of
groups of entries along random directions, and returns what it found as a value,
:class:`Localisation`. Each step is a function from one ``Localisation`` to the next; the work
still to do is two of its fields, ``split`` (failing groups to halve) and ``confirm`` (isolated
entries to judge), and :func:`localise` runs steps until both are empty:

1. the verdict's directions: a pattern of the whole gradient (``explain``) ends the search;
2. ``blocks``: three directions a block; a block's pattern is named, the worst failing
   direction of every other failing block is queued;
3. ``split_level`` (while ``split`` holds groups): a 2-D block is first oriented (rows or
   columns, 4 calls); a failing row or column is tested as a scope of its own (a pattern
   there is named, not searched); otherwise each failing group's left half is tested and the
   right half follows by additivity, ``∇f·v_G = ∇f·v_L + ∇f·v_R``; when the budget cannot
   split every group, the worst are followed down alone (``deepen``) and the rest is the
   frontier;
4. ``confirm``: each isolated entry judged on its own before it is named (by the per-entry
   error model where the budget allows, else at half its step; out of budget, the frontier);
5. ``verify``: what was neither named nor isolated must pass along a fresh direction (at most
   twice; a failure there queues a new search).

The budget is the number of calls of f the whole directional check may make (the first probe
and the verdict's directions included): ``tester.calls`` counts every call, and a step is
taken only when the calls it needs fit (:meth:`Search.affordable`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple, Protocol

import numpy as np

from .compare import Tolerances
from .diagnose import HYPOTHESES, SLACK, direction_view, first_explanation
from .directions import Positions, Root, size_of
from .evaluate import Seen
from .layout import Layout, entry_name, set_name
from .report import Diagnosis

BLOCK_DIRECTIONS = 3
SCOPE_DIRECTIONS = 2  # fresh directions added to a failing row or column to name its pattern
VERIFY_ROUNDS = 2  # fresh directions over what is left, each followed by a search if it fails
FITTED = {h.kind.name: h.parameters > 0 for h in HYPOTHESES}  # kinds named only once confirmed
EMPTY = np.array([], dtype=np.intp)

Spec = tuple[Root, Positions]  # a direction's root and the positions it is restricted to


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

    @property
    def first(self) -> int:
        """The group's first flat index (its only one, once isolated)."""
        return int(indices(self.flat)[0])

    def minus(self, other: Group, positions: Positions) -> Group:
        """The rest of this group once ``other`` is taken out (additivity)."""
        return Group(
            self.root,
            positions,
            self.numeric - other.numeric,
            self.analytic - other.analytic,
            self.tolerance + other.tolerance,
        )


class Measured(NamedTuple):
    """What a tester returns: groups, and what their evaluations showed."""

    groups: list[Group]
    seen: Seen = Seen()
    stair: float | None = None  # the largest jump of f seen along a shortened direction
    kinks: np.ndarray = EMPTY  # entries judged alone found at a kink
    stairs: np.ndarray = EMPTY  # ... or on a staircase


class Incomplete(Exception):
    """Evaluations went missing (Ctrl-C, a timeout, a worker that died): stop where we are."""

    def __init__(self, seen: Seen) -> None:
        super().__init__("evaluations went missing")
        self.seen = seen


class Measures(Protocol):
    """What the search asks of a tester. Each method may raise :class:`Incomplete`."""

    @property
    def x(self) -> np.ndarray: ...

    @property
    def analytic(self) -> np.ndarray: ...

    @property
    def tol(self) -> Tolerances: ...

    @property
    def calls(self) -> int:
        """Calls of f so far, in the whole check."""

    def compare(self, specs: Sequence[Spec], refine: str) -> Measured:
        """Each group's numbers and tolerance; failing groups refined ('all', 'worst', 'none')."""

    def judge(self, groups: list[Group], describe: Callable[[int], str]) -> Measured:
        """Isolated entries judged by the per-entry error model (about 8 calls each): the wrong
        ones, with the entry's numbers along the group's direction."""

    def half_step(self, groups: list[Group]) -> Measured:
        """Isolated entries estimated again at half the step (2 calls each): the wrong ones."""

    def direction(self, group: Group) -> tuple[slice | np.ndarray, np.ndarray]:
        """A group's (flat indices, values): valid until the next call."""


class Localisation(NamedTuple):
    """The search's state as a value, and its result once ``split`` and ``confirm`` (the work
    list) are empty."""

    split: tuple[tuple[Group, int, str | None], ...] = ()  # (group, unit, block); unit 0: orient
    confirm: tuple[Group, ...] = ()  # isolated entries to judge
    found: tuple[Group, ...] = ()  # isolated and judged wrong
    frontier: tuple[Group, ...] = ()  # failing groups the budget could not localise
    patterns: tuple[Diagnosis, ...] = ()
    explained: tuple[np.ndarray, ...] = ()  # entries a pattern names
    census: tuple[int, int] | None = None  # (cells, failing cells) at the deepest level
    complete: bool = True
    seen: Seen = Seen()
    stair: float | None = None
    kinks: np.ndarray = EMPTY
    stairs: np.ndarray = EMPTY

    def saw(self, tested: Measured | Localisation) -> Localisation:
        """What a test (or another search) showed, added."""
        stairs = [s for s in (self.stair, tested.stair) if s is not None]
        work = self._replace(seen=self.seen | tested.seen, stair=max(stairs) if stairs else None)
        if tested.kinks.size or tested.stairs.size:
            work = work._replace(
                kinks=np.union1d(self.kinks, tested.kinks).astype(np.intp),
                stairs=np.union1d(self.stairs, tested.stairs).astype(np.intp),
            )
        return work

    def named(self, diagnosis: Diagnosis, entries: np.ndarray | None) -> Localisation:
        """A pattern named over ``entries`` (None: the whole gradient, nothing to exclude)."""
        explained = self.explained if entries is None else (*self.explained, entries)
        return self._replace(patterns=(*self.patterns, diagnosis), explained=explained)


@dataclass(frozen=True)
class Search:
    """What the steps read: the tester, where fresh directions come from, the layout, the
    budget, and the entries never moved (x is ±inf or NaN there)."""

    tester: Measures
    rng: np.random.Generator
    layout: Layout | None
    budget: int
    fixed: np.ndarray = field(default_factory=lambda: EMPTY)

    @property
    def n(self) -> int:
        return self.tester.x.size

    def roots(self, order: slice | np.ndarray, size: int, count: int) -> list[Root]:
        """``count`` fresh directions over ``order`` (zero on the fixed entries)."""
        holes = None
        if self.fixed.size:
            flat = np.arange(order.start or 0, order.stop) if isinstance(order, slice) else order
            holes = np.flatnonzero(np.isin(flat, self.fixed)) if flat.size else None
        return [Root(order, size, int(self.rng.integers(2**63)), holes) for _ in range(count)]

    def affordable(self, calls: int) -> bool:
        return self.tester.calls + calls <= self.budget


def localise(search: Search, verdict: list[Group]) -> Localisation:
    """Run the steps over the work list until it is empty (see the module docstring)."""
    work = Localisation()
    try:
        everywhere, work = explain(search, work, verdict, None)
        if everywhere is not None:
            return work.named(everywhere, None)
        work = blocks(search, work, verdict)
        rounds = VERIFY_ROUNDS
        while True:
            if work.split:
                work = split_level(search, work)
            elif work.confirm:
                work = confirm(search, work)
            elif rounds:
                rounds -= 1
                work = verify(search, work)
                if not work.split:
                    break
            else:
                break
    except Incomplete as stop:
        work = work._replace(seen=work.seen | stop.seen, complete=False)
    return work


# ----- naming patterns --------------------------------------------------------------------------


def explain(
    search: Search,
    work: Localisation,
    groups: list[Group],
    block: str | None,
    label: str | None = None,
) -> tuple[Diagnosis | None, Localisation]:
    """The first hypothesis that explains these directions of one scope — confirmed when it
    fitted a parameter (a factor, a κ: ``Hypothesis.parameters``) on two disjoint halves of the
    entries it names; unconfirmed, None (the entries are then searched one by one)."""
    found = _view_explanation(search, groups, block, label)
    if found is None or not FITTED[found.kind]:
        return found, work
    # Confirmed on two disjoint halves of the entries it names, along a fresh direction: a
    # pattern over many entries shows in both halves; one wrong entry (that a κ fitted to
    # three directions explained by chance) shows in one half only.
    named = found.indices
    if named is None or named.size < 2 or not search.affordable(8):
        return None, work  # not confirmed: the entries are searched instead
    fresh = search.roots(named, named.size, 1)[0]
    cut = named.size // 2
    tested = search.tester.compare(
        [(fresh, slice(0, cut)), (fresh, slice(cut, named.size))], refine="all"
    )
    work, halves = work.saw(tested), tested.groups
    if not all(abs(h.numeric - h.analytic) > SLACK * h.tolerance for h in halves):
        return None, work
    again = _view_explanation(search, [*groups, *halves], block, label)
    same = (
        again is not None
        and again.kind == found.kind
        and np.array_equal(again.indices, found.indices)  # type: ignore[arg-type]
    )
    return (again if same else None), work


def _view_explanation(
    search: Search, groups: list[Group], block: str | None, label: str | None
) -> Diagnosis | None:
    tester = search.tester
    view = direction_view(
        numeric=np.array([g.numeric for g in groups]),
        analytic_items=np.array([g.analytic for g in groups]),
        tolerance=np.array([g.tolerance for g in groups]),
        rtol=tester.tol.rtol,
        directions=[partial(tester.direction, g) for g in groups],
        analytic=tester.analytic,
        x=tester.x,
        layout=search.layout,
        block=block,
        scope=indices(groups[0].flat) if label is not None else None,
        label=label,
    )
    return first_explanation(view)


def blocks(search: Search, work: Localisation, verdict: list[Group]) -> Localisation:
    """Each block along directions of its own: whole-block patterns named; the worst failing
    direction of every other failing block queued, to be oriented and searched."""
    worst = max(verdict, key=lambda g: g.ratio)
    layout = search.layout
    if layout is None:
        return work._replace(split=((worst, 0, None),))
    # One direction a block; two more for each block that fails (three to name a pattern).
    orders = {name: row_major(layout, name) for name in layout.names}
    tested = search.tester.compare(
        [(search.roots(o, size, 1)[0], slice(0, size)) for o, size in orders.values()],
        refine="all",
    )
    work = work.saw(tested)
    failed = [(name, g) for name, g in zip(orders, tested.groups, strict=True) if g.fails]
    extra = BLOCK_DIRECTIONS - 1
    more = search.tester.compare(
        [
            (root, slice(0, orders[name][1]))
            for name, _ in failed
            for root in search.roots(*orders[name], extra)
        ],
        refine="all",
    )
    work = work.saw(more)
    queued: list[tuple[Group, int, str | None]] = []
    for b, (name, g) in enumerate(failed):
        groups = [g, *more.groups[b * extra : (b + 1) * extra]]
        diagnosis, work = explain(search, work, groups, name)
        if diagnosis is not None:
            work = work.named(diagnosis, layout.indices(name))
        else:
            queued.append((max(groups, key=lambda g: g.ratio), 0, name))
    if not queued and not work.patterns:  # every block passes alone: the verdict decides
        queued = [(worst, 0, None)]
    return work._replace(split=tuple(queued))


# ----- halving ----------------------------------------------------------------------------------


def split_level(search: Search, work: Localisation) -> Localisation:
    """One level of the search in the first block of the work list: its failing groups halved
    (by whole rows or columns while their unit is > 1), breadth-first; a group of one row or
    column is tested as a scope of its own first."""
    block = work.split[0][2]
    same = next((k for k, item in enumerate(work.split) if item[2] != block), len(work.split))
    items, rest = work.split[:same], work.split[same:]
    level = _oriented(search, items[0]) if items[0][1] == 0 else [(g, u) for g, u, _ in items]
    level = [(g, u) for g, u in level if g.fails]
    work = work._replace(split=rest, confirm=(*work.confirm, *(g for g, _ in level if g.size == 1)))
    parents = []
    for g, unit in level:
        if g.size == 1:
            continue
        if g.size == unit and unit > 1:
            named, work = _scope_pattern(search, work, g, block)
            if named:
                continue
            unit = 1
        parents.append((g, unit))
    if not parents:
        return work
    if not search.affordable(2 * len(parents)):
        return deepen(search, work, parents)
    children, tested = _split(search, parents)
    work = work.saw(tested)
    if all(u == 1 for _, u in parents):
        cells = search.n / max(min(g.size for g, _ in children), 1) if children else 1
        work = work._replace(census=(int(cells), len(children)))
    return work._replace(split=(*((g, u, block) for g, u in children), *work.split))


def _oriented(search: Search, item: tuple[Group, int, str | None]) -> list[tuple[Group, int]]:
    """Where a queued block's errors lie: a 2-D block's top rows and left columns tested (4
    calls). One row half failing while both column halves fail means rows; the reverse,
    columns. Anything else is searched entry by entry."""
    parent, _, name = item
    layout = search.layout
    if name is None or layout is None or not layout.is_matrix(name):
        return [(parent, 1)]
    rows, cols = layout.blocks[name]
    grid = np.arange(rows * cols).reshape(rows, cols)
    top = slice(0, (rows // 2) * cols)
    left = grid[:, : cols // 2].ravel(order="F")
    right = grid[:, cols // 2 :].ravel(order="F")
    tested = search.tester.compare([(parent.root, top), (parent.root, left)], refine="none")
    top_g, left_g = tested.groups
    bottom_g = parent.minus(top_g, slice(top.stop, rows * cols))
    right_g = parent.minus(left_g, right)
    by_rows = [g for g in (top_g, bottom_g) if g.fails]
    by_cols = [g for g in (left_g, right_g) if g.fails]
    if len(by_rows) == 1 and len(by_cols) == 2:
        return [(by_rows[0], cols)]  # a search over rows: units of one row
    if len(by_cols) == 1 and len(by_rows) == 2:
        return [(by_cols[0], rows)]  # over columns
    return [(g, 1) for g in by_rows]


def _split(
    search: Search, parents: list[tuple[Group, int]]
) -> tuple[list[tuple[Group, int]], Measured]:
    """Test the left half of each parent; the right half follows by additivity. Returns the
    failing halves."""
    halves = [_halves(g.positions, g.size, unit) for g, unit in parents]
    tested = search.tester.compare(
        [(g.root, lo) for (g, _), (lo, _) in zip(parents, halves, strict=True)], refine="none"
    )
    children = []
    for (g, unit), (_, hi), left in zip(parents, halves, tested.groups, strict=True):
        right = g.minus(left, hi)
        children += [(c, unit) for c in (left, right) if c.fails]
    return children, tested


def deepen(search: Search, work: Localisation, parents: list[tuple[Group, int]]) -> Localisation:
    """The budget cannot split every failing group: follow the worst ones down to single
    entries while it lasts; what is left is the frontier."""
    work = work._replace(complete=False)
    queue = sorted(parents, key=lambda p: -p[0].ratio)
    while queue:
        g, _ = queue.pop(0)
        if g.size == 1:
            work = work._replace(confirm=(*work.confirm, g))
            continue
        # down to one entry, and its confirmation at half the step
        if not search.affordable(2 * math.ceil(math.log2(g.size)) + 2):
            return work._replace(frontier=(*work.frontier, g, *(q for q, _ in queue)))
        children, tested = _split(search, [(g, 1)])
        work = work.saw(tested)
        children.sort(key=lambda c: -c[0].ratio)
        queue = children[:1] + queue + children[1:]  # depth first along the worst
    return work


def _scope_pattern(
    search: Search, work: Localisation, group: Group, block: str | None
) -> tuple[bool, Localisation]:
    """A failing row or column, tested along two more directions of its own: is it a pattern
    (zero, a factor, a sign, an L2 term)? Then it is named, not searched."""
    if not search.affordable(4 * SCOPE_DIRECTIONS):
        return False, work
    flat = indices(group.flat)
    roots = search.roots(flat, flat.size, SCOPE_DIRECTIONS)
    tested = search.tester.compare([(r, slice(0, flat.size)) for r in roots], refine="all")
    work = work.saw(tested)
    label = set_name(search.layout, flat)
    diagnosis, work = explain(search, work, [group, *tested.groups], block, label)
    if diagnosis is None:
        return False, work
    return True, work.named(diagnosis, flat)


# ----- judging what was isolated; what is left --------------------------------------------------


def confirm(search: Search, work: Localisation) -> Localisation:
    """Each isolated entry judged on its own before it is named: by the per-entry error model
    (about 8 calls) where the budget allows, the least certain first; else at half its step (2
    calls: an error that is truncation is not reported). What the budget cannot judge is left
    on the frontier, not accused."""
    pending = sorted(work.confirm, key=lambda g: g.ratio)
    work = work._replace(confirm=())
    left = search.budget - search.tester.calls
    thorough = max(0, min(len(pending), (left - 2 * len(pending)) // 6))
    quick = max(0, min(len(pending) - thorough, (left - 8 * thorough) // 2))
    if thorough + quick < len(pending):
        work = work._replace(
            frontier=(*work.frontier, *pending[thorough + quick :]), complete=False
        )
    if thorough:
        judged = search.tester.judge(pending[:thorough], partial(entry_name, search.layout))
        work = work.saw(judged)._replace(found=(*work.found, *judged.groups))
    if quick:
        halved = search.tester.half_step(pending[thorough : thorough + quick])
        work = work.saw(halved)._replace(found=(*work.found, *halved.groups))
    return work


def verify(search: Search, work: Localisation) -> Localisation:
    """What was neither named nor isolated must pass along a fresh direction (over all of x,
    zero on the entries already accounted for); when it fails, a new search is queued."""
    done = [indices(g.flat) for g in work.found + work.frontier]
    holes = np.unique(np.concatenate([*work.explained, *done, search.fixed]))
    if not work.complete or holes.size == search.n or not search.affordable(2):
        return work
    root = Root(slice(0, search.n), search.n, int(search.rng.integers(2**63)), holes)
    tested = search.tester.compare([(root, slice(0, search.n))], refine="all")
    work = work.saw(tested)
    (check,) = tested.groups
    return work._replace(split=((check, 1, None),)) if check.fails else work


def indices(flat: slice | np.ndarray) -> np.ndarray:
    return np.arange(flat.start, flat.stop) if isinstance(flat, slice) else flat


def row_major(layout: Layout, name: str) -> tuple[slice | np.ndarray, int]:
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
