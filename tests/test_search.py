"""The directional search alone, on planted difference vectors: no f is ever called.

A planted tester answers the search's questions exactly: along a direction v restricted to a
group G, the "numeric" derivative is ``(a − δ)·v_G`` and the analytic one ``a·v_G``, where δ is
the planted error; an isolated entry is wrong exactly when its δ is not 0. Whatever the search
names must then be planted (no false accusation), and what it leaves must be said (frontier).
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from gradcheck.compare import Tolerances
from gradcheck.directional import DIRECTIONS
from gradcheck.layout import Layout
from gradcheck.search import Group, Localisation, Measured, Search, Spec, localise

TOL = Tolerances(1e-6, 0.0)


@dataclass
class Planted:
    """The search's tester on a planted error δ, counting the calls a real one would make."""

    x: np.ndarray
    analytic: np.ndarray
    delta: np.ndarray
    tol: Tolerances = TOL
    calls: int = 0

    def _group(self, root: Any, positions: Any) -> Group:
        v, flat = root.values(self.x, positions), root.flat(positions)
        a = float(self.analytic[flat] @ v)
        tolerance = 1e-6 * float(np.linalg.norm(self.analytic[flat] * v)) + 1e-12
        return Group(root, positions, a - float(self.delta[flat] @ v), a, tolerance)

    def compare(self, specs: list[Spec], refine: str) -> Measured:
        self.calls += 2 * len(specs)
        return Measured([self._group(*spec) for spec in specs])

    def judge(self, groups: list[Group], describe: Any) -> Measured:
        self.calls += 8 * len(groups)
        return Measured([g for g in groups if self.delta[g.first] != 0])

    def half_step(self, groups: list[Group]) -> Measured:
        self.calls += 2 * len(groups)
        return Measured([g for g in groups if g.fails])

    def direction(self, group: Group) -> tuple[Any, np.ndarray]:
        return group.flat, group.root.values(self.x, group.positions)


def _search(
    n: int, wrong: dict[int, float], seed: int = 0, layout: Layout | None = None, budget: int = 2000
) -> tuple[Search, Planted, list[Group]]:
    rng = np.random.default_rng(seed)
    x, a = rng.standard_normal(n), rng.standard_normal(n)
    delta = np.zeros(n)
    for i, d in wrong.items():
        delta[i] = d
    tester = Planted(x, a, delta)
    search = Search(tester, np.random.default_rng(seed + 1), layout, budget)
    roots = search.roots(slice(0, n), n, DIRECTIONS)
    verdict = tester.compare([(r, slice(0, n)) for r in roots], "worst").groups
    return search, tester, verdict


def _named(found: Localisation) -> set[int]:
    return {g.first for g in found.found}


def test_one_wrong_entry_in_100k_is_isolated_in_about_two_log2_n_calls():
    search, tester, verdict = _search(100_000, {73_421: 0.5})
    assert any(g.fails for g in verdict)
    before = tester.calls
    found = localise(search, verdict)
    assert _named(found) == {73_421}
    assert found.complete
    assert not found.frontier
    assert not found.patterns
    # 16 or 17 halvings of 2 calls, 8 to judge the entry, 2 for a fresh direction over the rest
    assert 2 * 16 <= tester.calls - before - 8 - 2 <= 2 * 17


def test_three_wrong_entries_are_each_isolated_and_nothing_else_is_named():
    wrong = {5: 1.0, 50_000: -0.3, 99_999: 2.0}
    search, _, verdict = _search(100_000, wrong, seed=4)
    found = localise(search, verdict)
    assert _named(found) == set(wrong)
    assert found.complete


def test_an_error_over_the_whole_gradient_is_named_without_a_search():
    n = 5_000
    search, tester, verdict = _search(n, {})
    tester.delta = 0.5 * tester.analytic  # the analytic gradient twice the true one
    verdict = [tester._group(g.root, g.positions) for g in verdict]
    before = tester.calls
    found = localise(search, verdict)
    assert [d.kind for d in found.patterns] == ["scale"]
    assert found.patterns[0].factor == pytest.approx(2.0, rel=1e-9)
    assert not found.found
    assert tester.calls - before == 4  # the pattern confirmed on two halves, nothing searched


def test_a_row_never_written_is_named_zero_without_isolating_its_entries():
    layout = Layout({"Theta1": (25, 401), "Theta2": (10, 26)}, order="F")
    rows = layout.indices("Theta1").reshape((25, 401), order="F")
    search, tester, verdict = _search(layout.size, {}, layout=layout)
    tester.delta[rows[3]] = -tester.analytic[rows[3]]  # grad[Theta1[3, :]] left at 0
    tester.analytic[rows[3]] = 0.0
    verdict = [tester._group(g.root, g.positions) for g in verdict]
    before = tester.calls
    found = localise(search, verdict)
    assert [d.kind for d in found.patterns] == ["zero"]
    np.testing.assert_array_equal(np.sort(found.patterns[0].indices), np.sort(rows[3]))
    assert not found.found
    assert tester.calls - before < 60


def test_a_short_budget_leaves_a_frontier_and_never_accuses_an_innocent_entry():
    rng = np.random.default_rng(8)
    wrong = {int(i): 1.0 for i in rng.choice(100_000, 40, replace=False)}
    search, tester, verdict = _search(100_000, wrong, budget=300)
    found = localise(search, verdict)
    assert not found.complete
    assert found.frontier
    assert _named(found) <= set(wrong)
    assert tester.calls <= 300 + 2  # the last step that fitted
    frontier = np.concatenate(
        [
            np.atleast_1d(
                np.arange(g.flat.start, g.flat.stop) if isinstance(g.flat, slice) else g.flat
            )
            for g in found.frontier
        ]
    )
    assert set(wrong) - _named(found) <= set(frontier.tolist())  # every plant is accounted for
    assert found.census is not None


@pytest.mark.parametrize("seed", range(40))
def test_whatever_is_planted_is_found_and_nothing_else(seed):
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(10, 20_000))
    count = int(rng.integers(1, 6))
    wrong = {
        int(i): float(rng.choice([-1, 1]) * 10 ** rng.uniform(-3, 1))
        for i in rng.choice(n, min(count, n), replace=False)
    }
    search, _, verdict = _search(n, wrong, seed=seed)
    found = localise(search, verdict)
    assert _named(found) == set(wrong)
    assert found.complete
    assert not found.frontier


def test_entries_never_moved_are_never_searched():
    n = 1_000
    search, tester, _ = _search(n, {10: 1.0, 500: 1.0})
    fixed = np.array([500])  # x is NaN there: its error cannot be seen, nor blamed
    search = Search(tester, np.random.default_rng(3), None, 2000, fixed)
    roots = search.roots(slice(0, n), n, DIRECTIONS)
    verdict = tester.compare([(r, slice(0, n)) for r in roots], "worst").groups
    found = localise(search, verdict)
    assert _named(found) == {10}
