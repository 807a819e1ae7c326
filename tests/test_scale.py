"""Directional mode, group-testing localisation, auto mode, executors, batches, checkpoints, Ctrl-C."""

import time

import numpy as np
import pytest

import gradcheck
from gradcheck import ex4
from gradcheck.directions import random_direction

from . import functions


def test_a_correct_100k_gradient_passes_in_at_most_50_evaluations():
    f, w = functions.logistic_regression(100_000, 200)
    report = gradcheck.check(f, w, mode="directional")
    assert report.ok, str(report)
    assert report.evaluations <= 50
    assert report.mode == "directional"


def test_three_wrong_entries_among_100k_are_localised_exactly():
    planted = ((17, 0.5), (50_000, -1.0), (99_998, 2e-3))
    f, w = functions.logistic_regression(100_000, 200, planted=planted)
    report = gradcheck.check(f, w, mode="directional")
    assert not report.ok
    assert report.mismatched.tolist() == [17, 50_000, 99_998]
    assert report.evaluations <= 1000
    # the numeric derivative at each localised entry is estimated too
    exact = functions.logistic_regression(100_000, 200)[0](w)[1]
    np.testing.assert_allclose(
        report.numeric[report.mismatched], exact[report.mismatched], rtol=1e-4, atol=1e-7
    )


def test_one_wrong_entry_among_a_million_in_at_most_200_evaluations():
    f, w = functions.logistic_regression(1_000_000, 50, planted=((654_321, 0.25),))
    report = gradcheck.check(f, w, mode="directional")
    assert report.mismatched.tolist() == [654_321]
    assert report.evaluations <= 200
    assert "1 wrong entry found among 1000000" in report.summary()


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


def test_random_directions_never_vanish_on_an_entry():
    v = random_direction(np.linspace(-5, 5, 1000), np.random.default_rng(0))
    assert np.min(np.abs(v)) >= 0.5


def test_auto_mode_runs_full_when_cheap_and_directional_when_not():
    assert gradcheck.check(functions.smooth, np.linspace(-1, 1, 50)).mode == "full"

    def slow(x):
        time.sleep(0.001)
        return functions.sum_of_squares(x)

    # 2 × 6000 calls of ≥ 1 ms each is over the 10 s that auto mode allows a full check
    report = gradcheck.check(slow, np.linspace(-1, 1, 6000))
    assert report.mode == "directional"
    assert report.ok
    assert report.evaluations <= 50


def test_vectorized_functions_are_evaluated_in_batches():
    x = np.linspace(-1, 2, 150)
    calls = []

    def f(X):
        calls.append(np.shape(X))
        return functions.sum_of_squares_rows(X)

    report = gradcheck.check(f, x, grad=lambda x: 2 * x, vectorized=True)
    plain = gradcheck.check(
        lambda x: float(functions.sum_of_squares_rows(x[None])[0]), x, grad=lambda x: 2 * x
    )
    assert report.ok
    np.testing.assert_array_equal(report.numeric, plain.numeric)
    assert max(s[0] for s in calls) == 64
    assert len(calls) < report.evaluations / 10


def test_vectorized_f_returning_the_wrong_count_is_a_clear_error():
    with pytest.raises(ValueError, match="one cost per point of a batch"):
        gradcheck.check(lambda X: np.zeros(1), np.ones(3), grad=lambda x: 2 * x, vectorized=True)


def test_checkpoint_resumes_without_redoing_evaluations(tmp_path):
    path = tmp_path / "check.jsonl"
    calls = []

    def f(x):
        calls.append(1)
        return functions.smooth(x)

    x = np.linspace(-1, 1, 20)
    first = gradcheck.check(f, x, checkpoint=path)
    n_first = len(calls)
    assert path.exists()
    # a header, then every evaluation but the three at x (two probes and the history probe)
    assert len(path.read_text().splitlines()) == 1 + n_first - 3
    second = gradcheck.check(f, x, checkpoint=path)
    # The calls at x (which also return the gradient) and the first saved points met, the noise
    # line, evaluated again to verify that the file is this function's.
    assert len(calls) - n_first == 3 + 8
    np.testing.assert_array_equal(first.numeric, second.numeric)


def test_ctrl_c_returns_the_partial_report():
    state = {"calls": 0}

    def f(x):
        state["calls"] += 1
        if state["calls"] == 25:
            raise KeyboardInterrupt
        return functions.smooth(x)

    report = gradcheck.check(f, np.linspace(-1, 1, 40))
    assert not report.ok
    assert 0 < report.checked.size < 40
    assert any("interrupted" in n for n in report.notes)
    assert "interrupted" in str(report)


def test_a_dask_cluster_runs_the_evaluations():
    x = np.linspace(-1, 1, 12)
    serial = gradcheck.check(functions.smooth, x)
    with functions.dask_client(processes=False) as client:
        report = gradcheck.check(functions.smooth, x, executor=client.get_executor())
    np.testing.assert_array_equal(report.numeric, serial.numeric)
    assert report.evaluations == serial.evaluations


def test_progress_on_gives_the_same_result():
    x = np.linspace(-1, 1, 30)
    assert (
        gradcheck.check(functions.smooth, x, progress=True).evaluations
        == gradcheck.check(functions.smooth, x, progress=False).evaluations
    )


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


@pytest.mark.parametrize("bug", ["question", "zero block", "L2 missing"])
def test_block_patterns_found_from_directions_alone(weights_path, bug):
    planted = {
        "question": _question,
        "zero block": _scaled(slice(10025, None), 0.0),
        "L2 missing": _no_l2_in_gradient,
    }
    report = _full_size_directional(weights_path, planted[bug])
    kinds = [(d.kind, d.block) for d in report.diagnoses]
    assert report.evaluations <= 100
    if bug == "question":
        assert kinds == [("regularization", "Theta2")]
        assert report.diagnoses[0].factor == pytest.approx(2 / 30, rel=1e-4)
        assert report.mismatched.tolist() == list(range(10025, 10035))
    elif bug == "zero block":
        assert kinds == [("zero", "Theta2")]
        assert report.mismatched.size == 260
    else:  # one L2 term missing everywhere: named once, as full mode names it
        assert kinds == [("regularization", None)]
        assert report.diagnoses[0].factor == pytest.approx(1 / 30, rel=1e-4)
        assert "Theta1[:, 1:] (all but the bias column" in report.diagnoses[0].message
        assert "Theta2[:, 1:] (all but the bias column" in report.diagnoses[0].message
        assert report.mismatched.size == 25 * 400 + 10 * 25


# ----- huge costs: the directional step comes from the error model -----------------------------


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


def test_a_closure_on_a_dask_process_cluster_gives_the_serial_report():
    shift = np.linspace(0.0, 1.0, 12)

    def closure(x):  # a closure, as a notebook makes them: it travels by value (cloudpickle)
        value, g = functions.smooth(x + shift)
        return value, g

    x = np.linspace(-1, 1, 12)
    serial = gradcheck.check(closure, x)
    with functions.dask_client(processes=True) as client:
        report = gradcheck.check(closure, x, executor=client.get_executor(), workers=2)
        scattered = gradcheck.check(
            closure, x, executor=client
        )  # the client itself: data sent once
        # the same function checked again on the same client: its payload is scattered again
        # while the first check's copy, the same bytes, is being released
        again = gradcheck.check(closure, x, executor=client)

        def raises(x):
            if x[5] != 0.0 and x[0] == -1.0:
                raise ArithmeticError("diverged")
            return functions.smooth(x)

        with pytest.raises(ArithmeticError) as info:  # f's own error keeps its type on Dask
            gradcheck.check(raises, np.r_[-1.0, np.zeros(11)], executor=client.get_executor())
    np.testing.assert_array_equal(report.numeric, serial.numeric)
    np.testing.assert_array_equal(scattered.numeric, serial.numeric)
    np.testing.assert_array_equal(again.numeric, serial.numeric)
    assert again.ok, str(again)
    assert report.ok == serial.ok is True
    assert report.evaluations == serial.evaluations == scattered.evaluations
    assert any("at entry x[5]" in n for n in info.value.__notes__)
