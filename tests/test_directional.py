"""Directional mode with few evaluations: an 8-call verdict that does not miss, localisation near
the information limit, rows and columns named by their pattern, a budget that runs out
gracefully, and memory of a few vectors whatever n."""

import tracemalloc

import numpy as np
import pytest

import gradcheck
from gradcheck import ex4
from gradcheck.directional import DIRECTIONS
from gradcheck.directions import Root

from . import functions


@pytest.fixture(scope="module")
def network():
    """The ex4 network at 400-25-10 (10,285 parameters), 20 random examples, λ = 1."""
    rng = np.random.default_rng(0)
    X, y = rng.random((20, 400)), rng.integers(1, 11, 20)
    p = ex4.unroll(ex4.rand_initialize_weights(400, 25, 1), ex4.rand_initialize_weights(25, 10, 2))
    g = ex4.nn_cost_function(p, 400, 25, 10, X, y, 1.0)[1]
    return X, y, p, g


def _planted(network, delta):
    X, y, _, _ = network

    def f(q):
        J, g = ex4.nn_cost_function(q, 400, 25, 10, X, y, 1.0)
        return J, g + delta

    return f


def test_a_correct_gradient_costs_eight_calls(network):
    X, y, p, _ = network
    f = lambda q: ex4.nn_cost_function(q, 400, 25, 10, X, y, 1.0)
    for seed in range(20):
        report = gradcheck.check(f, p, mode="directional", seed=seed)
        assert report.ok, str(report)
        assert report.evaluations == 8  # x, three directions (±), x again
        assert report.directions == DIRECTIONS == 3


def test_errors_of_1e_4_relative_are_never_missed_in_1000_trials(network):
    # The module's bound: P(miss) ≤ (τ / max_j |δ_j|·m_j)^3 ≈ (1e-6 / 1e-4)^3 = 1e-6 a trial.
    _, _, p, g = network
    size = 1e-4 * np.linalg.norm(g)
    missed = []
    for trial in range(1000):
        rng = np.random.default_rng(trial)
        k = 1 if trial % 2 == 0 else int(rng.integers(2, 9))  # single, then several at once
        delta = np.zeros(p.size)
        delta[rng.choice(p.size, k, replace=False)] = rng.choice([-1.0, 1.0], k) * size
        report = gradcheck.check(
            _planted(network, delta), p, mode="directional", seed=trial, budget=12
        )
        if report.ok:
            missed.append(trial)
    assert missed == []


def test_one_wrong_entry_in_a_million_in_at_most_60_calls():
    f, w = functions.logistic_regression(1_000_000, 50, planted=((654_321, 0.25),))
    report = gradcheck.check(f, w, mode="directional")
    assert report.mismatched.tolist() == [654_321]
    assert report.evaluations <= 60
    assert "1 wrong entry found among 1000000" in report.summary()


def test_three_wrong_entries_in_1e5_in_at_most_130_calls():
    planted = ((17, 0.5), (50_000, -1.0), (99_998, 2e-3))
    f, w = functions.logistic_regression(100_000, 50, planted=planted)
    report = gradcheck.check(f, w, mode="directional")
    assert report.mismatched.tolist() == [17, 50_000, 99_998]
    # Each isolated entry is judged on its own before it is named (estimate, half step, the
    # staircase test: 6 calls): evidence about that entry, not only about its directions.
    assert report.evaluations <= 130
    # the numeric derivative at each localised entry is estimated too
    exact = functions.logistic_regression(100_000, 50)[0](w)[1]
    np.testing.assert_allclose(
        report.numeric[report.mismatched], exact[report.mismatched], rtol=1e-4, atol=1e-7
    )


def _full_size(weights_path, bug):
    theta1, theta2 = ex4.load_weights(weights_path)
    rng = np.random.default_rng(0)
    X, y = rng.random((30, 400)), rng.integers(1, 11, 30)

    def cost(q):
        J, g = ex4.nn_cost_function(q, 400, 25, 10, X, y, 1.0)
        t1 = g[:10025].reshape(25, 401, order="F").copy()
        bug(t1)
        g[:10025] = t1.ravel(order="F")
        return J, g

    blocks = {"Theta1": (25, 401), "Theta2": (10, 26)}
    params = ex4.unroll(theta1, theta2)
    return gradcheck.check(cost, params, blocks=blocks, order="F", mode="directional")


def _zero_row(t1):
    t1[3, :] = 0


def _scale_column(t1):
    t1[:, 7] *= 1.1


def test_a_row_never_written_is_named_zero_without_localising_its_entries(weights_path):
    report = _full_size(weights_path, _zero_row)
    d = report.diagnoses[0]
    assert (d.kind, d.block) == ("zero", "Theta1")
    assert "Theta1[3, :] (row, 401 entries)" in d.message
    assert report.mismatched.size == 401
    assert report.evaluations <= 100


def test_a_scaled_column_is_named_scale_with_its_factor(weights_path):
    report = _full_size(weights_path, _scale_column)
    d = report.diagnoses[0]
    assert (d.kind, d.block) == ("scale", "Theta1")
    assert d.factor == pytest.approx(1.1, rel=1e-6)
    assert "Theta1[:, 7] (column, 25 entries)" in d.message
    assert report.evaluations <= 100


def test_many_wrong_entries_are_counted_and_located_when_the_budget_runs_out():
    rng = np.random.default_rng(3)
    where = rng.choice(100_000, size=200, replace=False)
    f, w = functions.logistic_regression(100_000, 50, planted=tuple((int(i), 0.5) for i in where))
    report = gradcheck.check(f, w, mode="directional", budget=2000)
    assert not report.ok
    assert report.evaluations <= 2000 + 1  # the budget, and the last call at x
    assert report.mismatched.size > 0  # some isolated, every one of them right
    assert np.all(np.isin(report.mismatched, where))
    frontier = next(d for d in report.diagnoses if "budget (2000) ran out" in d.message)
    estimate = int(frontier.headline.split()[1])
    assert 150 <= estimate <= 260  # 200 planted: the census of failing groups
    assert np.all(np.isin(where, np.union1d(frontier.indices, report.mismatched)))  # all located


def _right(p):  # ½‖p‖² returns p itself as its gradient: f allocates nothing
    return 0.5 * float(p @ p), p


def _wrong(p):
    g = p.copy()  # the one vector this f allocates itself
    g[123_456] += 1.0
    return 0.5 * float(p @ p), g


@pytest.mark.parametrize(("f", "own"), [(_right, 0), (_wrong, 1)], ids=["verdict", "localised"])
def test_extra_memory_is_at_most_eight_vectors(f, own):
    n = 1_000_000
    x = np.random.default_rng(0).standard_normal(n)
    tracemalloc.start()
    try:
        report = gradcheck.check(f, x, mode="directional")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.mismatched.tolist() == ([] if f is _right else [123_456])
    # our copy of x, the gradient, a direction and its scratch, a point, the report's arrays
    assert peak <= (8 + own) * 8 * n


def test_a_direction_is_drawn_the_same_on_any_range():
    n = 100_003  # several parts of DRAWN entries, the last one short
    x = np.linspace(-3, 3, n)
    root = Root(slice(0, n), n, seed=7)
    whole = root.values(x, slice(0, n))
    for lo, hi in [(250, 600), (32_767, 32_770), (1, 100_003), (65_535, 99_999)]:
        np.testing.assert_array_equal(root.values(x, slice(lo, hi)), whole[lo:hi])
    picked = np.array([3, n - 1, 10, 40_000])
    np.testing.assert_array_equal(root.values(x, picked), whole[picked])
    u = np.abs(whole) / np.maximum(1, np.abs(x))
    assert u.min() >= 0.5
    assert u.max() < 1.5
    counts = np.histogram(u, bins=4, range=(0.5, 1.5))[0]
    assert np.all(np.abs(counts - n / 4) < 5 * np.sqrt(n / 4))  # uniform magnitudes
    assert abs(np.mean(whole > 0) - 0.5) < 5 * 0.5 / np.sqrt(n)  # independent signs
    grid = u[np.abs(x) <= 1] * 2**14  # where max(1, |x|) = 1: u itself, on its grid
    assert np.array_equal(grid, np.round(grid))
    assert len(np.unique(grid)) > 0.8 * 2**14
    holes = Root(slice(0, 1000), 1000, seed=7, holes=np.array([5, 500]))
    assert holes.values(x, slice(0, 1000))[[5, 500]].tolist() == [0.0, 0.0]


def test_the_points_and_sums_of_a_direction_match_its_values():
    """x ± s·v and the sums behind a direction's tolerance, built part by part, against the
    same numbers computed from the direction's values in one piece."""
    from gradcheck.directional import along

    rng = np.random.default_rng(3)
    n = 80_000
    x, a = 3 * rng.standard_normal(n), rng.standard_normal(n)
    root = Root(slice(0, n), n, seed=11)
    for positions in (slice(0, n), slice(1_001, 70_000), np.array([5, 17, 79_999, 40_000])):
        plus, minus = np.full(n, np.nan), np.full(n, np.nan)
        av, norm, weight, _ = along(x, a, root, positions, 0.25, plus, minus)
        v = root.values(x, positions)
        flat = root.flat(positions)
        for point, sign in ((plus, 1), (minus, -1)):
            expected = x.copy()
            expected[flat] += sign * 0.25 * v
            np.testing.assert_allclose(point, expected, rtol=1e-15, atol=0)
        assert av == pytest.approx(a[flat] @ v, rel=1e-12)
        assert norm == pytest.approx(np.linalg.norm(a[flat] * v), rel=1e-12)
        assert weight == pytest.approx(np.abs(v).sum(), rel=1e-12)


# ----- patterns named from directions alone; huge costs ------------------------------------------


def test_a_correct_100k_gradient_passes_in_at_most_50_evaluations():
    f, w = functions.logistic_regression(100_000, 200)
    report = gradcheck.check(f, w, mode="directional")
    assert report.ok, str(report)
    assert report.evaluations <= 50
    assert report.mode == "directional"


def test_a_sign_error_everywhere_is_diagnosed_without_localising_every_entry():
    f, w = functions.logistic_regression(50_000, 100)
    report = gradcheck.check(lambda v: (f(v)[0], -f(v)[1]), w, mode="directional")
    assert report.diagnoses[0].kind == "sign"
    assert report.evaluations <= 60


def test_a_missing_one_over_m_is_diagnosed_directionally():
    f, w = functions.logistic_regression(20_000, 100)
    report = gradcheck.check(lambda v: (f(v)[0], 100 * f(v)[1]), w, mode="directional")
    d = report.diagnoses[0]
    assert d.kind == "scale"
    assert d.factor == pytest.approx(100, rel=1e-6)


def _full_size_directional(weights_path, bug):
    """The full-size course network (400-25-10, m = 30, λ = 1) with a planted bug, checked in
    directional mode; ``bug(p, J, g)`` returns the broken (J, g)."""
    theta1, theta2 = ex4.load_weights(weights_path)
    rng = np.random.default_rng(0)
    X, y = rng.random((30, 400)), rng.integers(1, 11, 30)

    def cost(p):
        J, g = ex4.nn_cost_function(p, 400, 25, 10, X, y, 1.0)
        return bug(p, J, g.copy())

    return gradcheck.check(
        cost,
        ex4.unroll(theta1, theta2),
        blocks={"Theta1": (25, 401), "Theta2": (10, 26)},
        order="F",
        mode="directional",
    )


def _scaled(part, factor):
    def bug(p, J, g):
        g[part] *= factor
        return J, g

    return bug


@pytest.mark.parametrize(
    ("block", "factor", "kind"), [("Theta1", 30.0, "scale"), ("Theta2", -1.0, "sign")]
)
def test_a_whole_block_pattern_is_named_without_localising_its_entries(
    weights_path, block, factor, kind
):
    # a missing 1/m (m = 30) in Theta1's gradient, or Theta2's sign flipped
    part = slice(0, 10025) if block == "Theta1" else slice(10025, None)
    report = _full_size_directional(weights_path, _scaled(part, factor))
    d = report.diagnoses[0]
    assert (d.kind, d.block) == (kind, block)
    if kind == "scale":
        assert d.factor == pytest.approx(30.0, rel=1e-6)
    assert report.mismatched.size == (10025 if block == "Theta1" else 260)
    assert report.evaluations <= 100


def _question(p, J, g):  # Theta2's bias column regularised in the cost only
    return J + 1.0 / 30 * np.sum(p[10025:10035] ** 2), g


def _no_l2_in_gradient(p, J, g):  # the gradient lacks λ/m·Θ on every non-bias entry
    t1 = p[:10025].reshape(25, 401, order="F").copy()
    t2 = p[10025:].reshape(10, 26, order="F").copy()
    t1[:, 0] = 0
    t2[:, 0] = 0
    return J, g - 1.0 / 30 * ex4.unroll(t1, t2)


@pytest.fixture(scope="module")
def rosen_point():
    from scipy.optimize import rosen, rosen_der

    x = np.random.default_rng(0).standard_normal(200_000)
    g = rosen_der(x)
    assert rosen(x) > 1e7  # |f| is huge beside the gradient's entries
    return x, g, int(np.argsort(np.abs(g))[g.size // 2])  # an entry of median size


def _rosen(bug=None, i=0, g0=None):
    from scipy.optimize import rosen, rosen_der

    def f(x):
        g = rosen_der(x)
        if bug == "scale":
            g[i] *= 1.01
        elif bug == "shift":
            g[i] += 1e-2 * abs(g0[i])
        return rosen(x), g

    return f


@pytest.mark.parametrize("bug", ["scale", "shift"])
def test_a_one_percent_error_is_found_despite_a_huge_cost(rosen_point, bug):
    x, g0, i = rosen_point
    report = gradcheck.check(_rosen(bug, i, g0), x, mode="directional")
    assert not report.ok
    assert report.mismatched.tolist() == [i]
    d = report.diagnoses[0]
    assert (d.kind, d.indices.tolist()) == ("localized", [i])
    assert report.numeric[i] == pytest.approx(g0[i], rel=1e-4)  # the entry's true derivative
    assert report.evaluations <= 150


@pytest.mark.parametrize("n", [200_000, 1_000_000])
def test_no_false_alarm_on_a_correct_rosenbrock_with_a_huge_cost(n):
    x = np.random.default_rng(1).standard_normal(n)
    report = gradcheck.check(_rosen(), x, mode="directional")
    assert report.ok, str(report)
    assert report.evaluations <= 40


def test_the_questions_bug_is_found_from_directions_alone(weights_path):
    report = _full_size_directional(weights_path, _question)
    assert [(d.kind, d.block) for d in report.diagnoses] == [("regularization", "Theta2")]
    assert report.diagnoses[0].factor == pytest.approx(2 / 30, rel=1e-4)
    assert report.mismatched.tolist() == list(range(10025, 10035))
    assert report.evaluations <= 100


def test_a_block_never_written_is_named_zero_from_directions_alone(weights_path):
    report = _full_size_directional(weights_path, _scaled(slice(10025, None), 0.0))
    assert [(d.kind, d.block) for d in report.diagnoses] == [("zero", "Theta2")]
    assert report.mismatched.size == 260
    assert report.evaluations <= 100


def test_an_l2_term_missing_everywhere_is_named_once_from_directions_alone(weights_path):
    report = _full_size_directional(weights_path, _no_l2_in_gradient)
    assert [(d.kind, d.block) for d in report.diagnoses] == [("regularization", None)]
    assert report.diagnoses[0].factor == pytest.approx(1 / 30, rel=1e-4)
    assert "Theta1[:, 1:] (all but the bias column" in report.diagnoses[0].message
    assert "Theta2[:, 1:] (all but the bias column" in report.diagnoses[0].message
    assert report.mismatched.size == 25 * 400 + 10 * 25
    assert report.evaluations <= 100
