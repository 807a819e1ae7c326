import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradcheck
from gradcheck import ex4, nn
from gradcheck.examples import question_cost_function

from . import functions

# ----- no false alarm ------------------------------------------------------------------------------

PIECES = {
    # name: (φ, φ')
    "sin": (np.sin, np.cos),
    "exp": (lambda t: np.exp(0.3 * t), lambda t: 0.3 * np.exp(0.3 * t)),
    "tanh": (np.tanh, lambda t: 1 - np.tanh(t) ** 2),
    "logcosh": (lambda t: np.log(np.cosh(t)), np.tanh),
    "softplus": (lambda t: np.logaddexp(0, t), lambda t: 0.5 * (1 + np.tanh(t / 2))),
}


def _random_smooth(seed, n):
    """f(x) = Σ c_k φ_k(a_k·x + b_k) + ½ xᵀSx, with its exact gradient."""
    rng = np.random.default_rng(seed)
    names = list(PIECES)
    terms = [
        (
            PIECES[names[rng.integers(len(names))]],
            rng.standard_normal(n),
            rng.standard_normal(),
            rng.standard_normal(),
        )
        for _ in range(3)
    ]
    B = rng.standard_normal((n, n))
    S = (B + B.T) / 4

    def f(x):
        value = 0.5 * x @ S @ x
        grad = S @ x
        for (phi, dphi), a, b, c in terms:
            t = a @ x + b
            value += c * phi(t)
            grad = grad + c * dphi(t) * a
        return float(value), grad

    return f, rng.standard_normal(n) * rng.choice([0.1, 1.0, 3.0])


@settings(max_examples=40, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 12))
def test_no_false_alarm_on_random_smooth_functions(seed, n):
    f, x = _random_smooth(seed, n)
    report = gradcheck.check(f, x)
    assert report.ok, str(report)
    assert report.relative_difference < 1e-6


def _float32_cost(x):
    x32 = x.astype(np.float32)
    return np.sum(np.sin(x32) * x32**2), (np.cos(x32) * x32**2 + 2 * np.sin(x32) * x32)


def _noisy(x, level=1e-9):
    # Deterministic noise: a pseudo-random function of the bits of x, like a simulation's.
    noise = np.random.default_rng(abs(hash(x.tobytes())) % 2**32).standard_normal()
    f, g = functions.smooth(x)
    return f + level * noise, g


def _ill_conditioned(seed=3, n=20):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = Q @ np.diag(np.logspace(0, 8, n)) @ Q.T
    b = rng.standard_normal(n)
    return (lambda x: (float(0.5 * x @ A @ x + b @ x), A @ x + b)), rng.standard_normal(n)


def _mixed_magnitudes(x):
    w = np.linspace(0.5, 2.0, x.size)
    return float(np.sum(w * np.log1p(x**2))), 2 * w * x / (1 + x**2)


def _with_zeros(x):
    # x_i^4 has gradient exactly 0 at x_i = 0; x[5:] do not enter f at all.
    return float(np.sum(x[:5] ** 4)), np.r_[4 * x[:5] ** 3, np.zeros(x.size - 5)]


@pytest.mark.parametrize(
    ("name", "f", "x"),
    [
        ("float32 cost", _float32_cost, np.linspace(-2, 2, 15)),
        ("noise 1e-9", _noisy, np.linspace(-1, 1, 12)),
        (
            "scaled 1e-8",
            lambda x: tuple(v * 1e-8 for v in functions.smooth(x)),
            np.linspace(-1, 2, 10),
        ),
        (
            "scaled 1e6",
            lambda x: tuple(v * 1e6 for v in functions.smooth(x)),
            np.linspace(-1, 2, 10),
        ),
        ("ill-conditioned quadratic", *_ill_conditioned()),
        ("mixed magnitudes", _mixed_magnitudes, np.logspace(-3, 3, 13) * np.resize([1, -1], 13)),
        ("exact zeros", _with_zeros, np.array([0.0, 1.0, 0.0, -2.0, 0.5, 3.0, 0.0, -1.0])),
    ],
)
def test_no_false_alarm_on_hard_but_correct_gradients(name, f, x):
    report = gradcheck.check(f, x)
    assert report.ok, f"{name}\n{report}"
    assert report.mismatched.size == 0


def test_float32_cost_gives_a_precision_warning():
    report = gradcheck.check(_float32_cost, np.linspace(-2, 2, 15))
    kinds = [d.kind for d in report.diagnoses]
    assert "precision" in kinds
    assert report.ok


def test_noise_is_estimated_and_reported():
    report = gradcheck.check(lambda x: _noisy(x, 1e-6), np.linspace(-1, 1, 12))
    assert report.ok, str(report)
    assert 1e-7 < report.noise < 1e-5  # the level planted: 1e-6
    assert [d.kind for d in report.diagnoses] == ["noisy"]
    # the steps grew from ~6e-6 (float64 round-off) to ~1e-2 to beat the noise
    assert np.nanmin(report.step) > 1e-3


@pytest.mark.parametrize(("distance", "warned"), [(3e-5, False), (2e-6, True)])
def test_relu_network_within_a_step_of_a_kink(distance, warned):
    rng = np.random.default_rng(7)
    net = nn.Network((4, 6, 3), hidden="relu", output="softmax")
    X = rng.standard_normal((8, 4))
    y = rng.integers(0, 3, 8)
    params = rng.standard_normal(net.n_params)
    blocks = net.layout.unpack(params)
    # Put hidden unit 2's pre-activation on sample 0 near its kink: inside a step of 1e-4.
    blocks["b1"][2] = -blocks["W1"][2] @ X[0] + distance
    params = net.layout.pack(blocks)
    f = lambda p: net.loss_and_grad(p, X, y)
    naive = gradcheck.numerical_gradient(f, params, step=1e-4)
    b12 = net.layout.flat_index("b1", (2,))
    assert abs(naive[b12] - f(params)[1][b12]) > 1e-3  # a fixed threshold would cry wolf here
    report = gradcheck.check(f, params, blocks=net.layout.blocks, step=1e-4)
    assert report.ok, str(report)
    kink = [d for d in report.diagnoses if d.kind == "kink"]
    # Far enough inside the step, the refinement at h/2 explains the difference as truncation;
    # closer, the one-sided differences keep their gap: a kink.
    assert bool(kink) == warned
    if warned:
        assert b12 in kink[0].indices.tolist()
        assert "non-differentiable" in kink[0].message


# ----- planted bugs are caught --------------------------------------------------------------------


def test_the_questions_bug_is_caught(course_debug):
    d = course_debug
    params = np.r_[d["theta1"].ravel(), d["theta2"].ravel()]
    report = gradcheck.check(
        lambda p: question_cost_function(p, 3, 5, 3, d["X"], d["y"], 3.0),
        params,
        blocks={"Theta1": (5, 4), "Theta2": (3, 6)},
    )
    assert not report.ok
    assert report.mismatched.tolist() == [20, 26, 32]  # Theta2[:, 0], row-major
    fixed = gradcheck.check(
        lambda p: question_cost_function(p, 3, 5, 3, d["X"], d["y"], 3.0, bug=False), params
    )
    assert fixed.ok


def test_a_single_wrong_entry_among_100_is_found():
    x = np.linspace(-2, 2, 100)

    def f(x):
        value, g = functions.smooth(x)
        g = g.copy()
        g[37] += 1e-3
        return value, g

    report = gradcheck.check(f, x)
    assert not report.ok
    assert report.mismatched.tolist() == [37]


def test_complex_step_is_exact_to_round_off():
    x = np.linspace(-1, 1, 6)
    report = gradcheck.check(functions.smooth_complex, x, method="complex")
    assert report.ok
    exact = functions.smooth(x)[1]
    assert np.max(np.abs(report.numeric - exact) / np.abs(exact)) < 1e-14


def test_complex_step_on_a_real_only_function_is_a_clear_error():
    with pytest.raises(TypeError, match="method='complex' needs f to accept complex input"):
        gradcheck.check(lambda x: functions.smooth(np.real(x)), np.ones(3), method="complex")


@pytest.mark.parametrize("method", ["forward", "central", "richardson"])
def test_every_method_passes_a_correct_gradient_and_fails_a_wrong_one(method):
    x = np.linspace(-1, 1, 8)
    assert gradcheck.check(functions.smooth, x, method=method).ok
    wrong = lambda x: (
        functions.smooth(x)[0],
        functions.smooth(x)[1] * np.r_[1, 1, 1, 1.01, 1, 1, 1, 1],
    )
    assert gradcheck.check(wrong, x, method=method).mismatched.tolist() == [3]


def test_richardson_is_more_accurate_than_central():
    x = np.linspace(-1, 1, 6)
    exact = functions.smooth(x)[1]
    central = gradcheck.check(functions.smooth, x, method="central", step=1e-2)
    richardson = gradcheck.check(functions.smooth, x, method="richardson", step=1e-2)
    err_c = np.max(np.abs(central.numeric - exact))
    err_r = np.max(np.abs(richardson.numeric - exact))
    assert err_r < err_c / 100


def test_the_course_check_through_check_reproduces_numerical_gradient(course_debug):
    d = course_debug
    J = lambda p: ex4.nn_cost_function(p, 3, 5, 3, d["X"], d["y"], 3.0)
    report = gradcheck.check(
        J,
        d["params"],
        blocks={"Theta1": (5, 4), "Theta2": (3, 6)},
        order="F",
        method="central",
        step=1e-4,
    )
    numgrad = gradcheck.numerical_gradient(J, d["params"])
    np.testing.assert_array_equal(report.numeric, numgrad)
    course = ex4.check_nn_gradients(3.0)
    assert report.relative_difference == course.relative_difference
    assert report.ok
    np.testing.assert_array_equal(report.step, 1e-4)


# ----- probes --------------------------------------------------------------------------------------


def _random_cost(level, seed=0):
    """x·x with random noise of ``level`` relative (a Monte Carlo estimate, say)."""
    rng = np.random.default_rng(seed)
    return lambda x: (float(x @ x) * (1 + level * rng.standard_normal()), 2 * x)


def test_small_random_noise_is_measured_and_the_verdict_stands():
    report = gradcheck.check(_random_cost(2.5e-7), np.ones(4))
    assert report.ok, str(report)
    d = report.diagnoses[0]
    assert (d.kind, d.severity) == ("nondeterministic", "warning")
    assert "treated as noise" in d.message
    assert 2.5e-7 * 4 / 3 < d.factor < 2.5e-7 * 4 * 3  # the spread measured: about 1e-6
    assert report.noise >= d.factor  # it joined the noise of f


def test_large_random_noise_makes_the_check_inconclusive():
    report = gradcheck.check(_random_cost(1e-3), np.ones(4))
    assert not report.ok
    d = report.diagnoses[0]
    assert (d.kind, d.severity) == ("nondeterministic", "fail")
    assert "inconclusive" in d.message
    assert report.summary().startswith("gradcheck FAIL: f is not deterministic")


def test_nondet_tol_sets_the_accepted_spread():
    f, x = _random_cost(1e-6), np.ones(4)
    assert gradcheck.check(f, x, nondet_tol=1e-5).ok
    strict = gradcheck.check(f, x, nondet_tol=1e-8)
    assert (strict.diagnoses[0].kind, strict.diagnoses[0].severity) == ("nondeterministic", "fail")
    assert "nondet_tol = 1e-08" in strict.diagnoses[0].message


def test_a_cost_that_mutates_its_input_is_reported():
    def f(x):
        x *= 2  # in place: x is now twice the point asked for
        return float(x @ x) / 4, x.copy()

    original = np.array([1.0, 2.0, 3.0])
    report = gradcheck.check(f, original)
    assert not report.ok
    assert report.diagnoses[0].kind == "mutates_input"
    np.testing.assert_array_equal(original, [1.0, 2.0, 3.0])  # the caller's x is untouched
    assert report.mismatched.size == 0  # copies kept the check itself right


def test_nan_at_x_stops_the_check():
    with np.errstate(invalid="ignore"):
        report = gradcheck.check(
            lambda x: (float(np.log(x[0])), np.r_[1 / x[0], 0.0]), np.array([-1.0, 1.0])
        )
    assert not report.ok
    assert report.diagnoses[0].kind == "nonfinite"
    assert report.checked.size == 0


def test_an_entry_not_finite_at_any_step_is_named_not_checked_and_no_failure():
    def f(x):  # sqrt(x1) is NaN once x1 goes below 0, and its slope infinite at x1 = 0
        return float(np.sum(x**2) + np.sqrt(x[1])), np.r_[2 * x[0], 0.0, 2 * x[2]]

    with np.errstate(invalid="ignore", divide="ignore"):
        report = gradcheck.check(f, np.array([1.0, 0.0, 2.0]))
    assert report.ok, str(report)
    assert report.checked.tolist() == [0, 2]
    (nonfinite,) = [d for d in report.diagnoses if d.kind == "nonfinite"]
    assert (nonfinite.severity, nonfinite.indices.tolist()) == ("warning", [1])
    assert "every step tried" in nonfinite.message


@pytest.mark.parametrize(
    ("name", "f", "g", "x0"),
    [
        ("sqrt 1e-12 from 0", np.sqrt, lambda v: 0.5 / np.sqrt(v), 1e-12),
        ("log 1e-12 from 0", np.log, lambda v: 1 / v, 1e-12),
        ("arcsin 1e-12 from 1", np.arcsin, lambda v: 1 / np.sqrt(1 - v**2), 1 - 1e-12),
        ("arcsin 1e-9 from 1", np.arcsin, lambda v: 1 / np.sqrt(1 - v**2), 1 - 1e-9),
        ("arcsin at 0.996", np.arcsin, lambda v: 1 / np.sqrt(1 - v**2), 0.996),
        ("arctanh at 0.996", np.arctanh, lambda v: 1 / (1 - v**2), 0.996),
        ("tan near its pole", np.tan, lambda v: 1 / np.cos(v) ** 2, 1.5),
    ],
)
def test_steps_stay_in_the_domain_and_off_the_poles(name, f, g, x0):
    # The reproductions: x ± h left the domain ("f is not finite at x ± step", FAIL) or
    # the step straddled a pole. Now: a shorter step, or one-sided towards the finite side.
    x = np.array([x0, 0.3])
    with np.errstate(invalid="ignore", divide="ignore"):
        right = gradcheck.check(lambda v: float(np.sum(f(v))), x, grad=g)
        wrong = gradcheck.check(lambda v: float(np.sum(f(v))), x, grad=lambda v: g(v) * [1.01, 1])
    assert right.ok, f"{name}: {right}"
    assert right.checked.tolist() == [0, 1], name
    assert wrong.mismatched.tolist() == [0], f"{name}: {wrong}"


def test_infinite_entries_of_x_are_not_perturbed_and_named():
    # _safe_softmax's masked logits: x = -inf. max(1, |x|)·h = inf, x ± h = NaN: it used to FAIL.
    x = np.array([-np.inf, 0.3, -1.0])
    f = lambda v: float(np.log(np.sum(np.exp(v))))
    g = lambda v: np.exp(v) / np.sum(np.exp(v))
    for mode in ("full", "directional"):
        report = gradcheck.check(f, x, grad=g, mode=mode)
        assert report.ok, str(report)
        assert any("x is not finite at 1 entry (x[0])" in n for n in report.notes), report.notes
        bad = gradcheck.check(f, x, grad=lambda v: g(v) * [1, -1, 1], mode=mode)
        assert not bad.ok, str(bad)
        assert 1 in bad.mismatched, str(bad)


def test_nan_in_the_gradient_is_reported():
    report = gradcheck.check(lambda x: (float(x @ x), np.r_[2 * x[:2], np.nan]), np.ones(3))
    assert not report.ok
    assert report.diagnoses[0].kind == "nonfinite"
    assert report.diagnoses[0].indices.tolist() == [2]


# ----- misuse ---------------------------------------------------------------------------------------


def test_misuse_raises_with_the_argument_named():
    f = functions.sum_of_squares
    with pytest.raises(ValueError, match=r"gradient must have shape \(3,\) .*got shape \(2,\)"):
        gradcheck.check(lambda x: (1.0, np.ones(2)), np.ones(3))
    with pytest.raises(ValueError, match=r"blocks add up to 4 entries \(A=2×2\) but x has 3"):
        gradcheck.check(f, np.ones(3), blocks={"A": (2, 2)})
    with pytest.raises(TypeError, match=r"x must be a float array, got dtype int64"):
        gradcheck.check(f, np.arange(3))
    with pytest.raises(ValueError, match="x must have at least one entry"):
        gradcheck.check(f, np.array([]))
    with pytest.raises(ValueError, match=r"x must be a 1-D array, got shape \(2, 2\)"):
        gradcheck.check(f, np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"scalar cost .* shape \(3,\)"):
        gradcheck.check(lambda x: (x, x), np.ones(3))
    with pytest.raises(TypeError, match="f returned only a cost and no grad= was given"):
        gradcheck.check(lambda x: float(x @ x), np.ones(3))
    with pytest.raises(ValueError, match="method must be one of"):
        gradcheck.check(f, np.ones(3), method="five-point")
    with pytest.raises(ValueError, match="mode must be one of"):
        gradcheck.check(f, np.ones(3), mode="everything")
    with pytest.raises(ValueError, match="step must be None or a positive number"):
        gradcheck.check(f, np.ones(3), step=-1e-4)
    with pytest.raises(TypeError, match="grad must be callable"):
        gradcheck.check(lambda x: 1.0, np.ones(3), grad=np.ones(3))


def test_column_and_row_gradients_are_accepted():
    x = np.array([1.0, 2.0, 3.0])
    assert gradcheck.check(lambda x: (float(x @ x), (2 * x)[:, None]), x).ok
    assert gradcheck.check(lambda x: float(x @ x), x, grad=lambda x: (2 * x)[None, :]).ok


def test_an_exception_in_f_says_where_it_was_evaluated():
    def f(x):
        if x[1] != 2.0 and x[0] == 1.0 and x[2] == 3.0:  # only entry 1 moved: its difference
            raise RuntimeError("solver diverged")
        return float(x @ x), 2 * x

    with pytest.raises(RuntimeError, match="solver diverged") as info:
        gradcheck.check(f, np.array([1.0, 2.0, 3.0]))
    assert info.value.__notes__ == [
        "gradcheck: raised while evaluating f at x + 1.53e-05 at entry x[1]."
    ]


def test_assert_gradient_raises_with_the_report():
    with pytest.raises(AssertionError, match="gradcheck FAIL"):
        gradcheck.assert_gradient(lambda x: (float(x @ x), x), np.ones(3))
    report = gradcheck.assert_gradient(functions.sum_of_squares, np.ones(3))
    assert report.ok


def test_sample_mode_checks_a_seeded_subset():
    x = np.linspace(-2, 2, 300)
    report = gradcheck.check(functions.smooth, x, mode="sample", seed=4)
    assert report.ok
    assert report.checked.size == 100
    assert report.mode == "sample"
    again = gradcheck.check(functions.smooth, x, mode="sample", seed=4)
    np.testing.assert_array_equal(report.checked, again.checked)
    assert report.evaluations < 300


@pytest.mark.parametrize("executor_type", [ThreadPoolExecutor, ProcessPoolExecutor])
def test_an_executor_gives_the_same_numbers(executor_type):
    x = np.linspace(-1, 1, 7)
    serial = gradcheck.check(functions.smooth, x)
    # spawn, not fork: forking a process that has loaded JAX or torch threads can deadlock
    kwargs = (
        {"mp_context": multiprocessing.get_context("spawn")}
        if executor_type is ProcessPoolExecutor
        else {}
    )
    with executor_type(max_workers=2, **kwargs) as pool:
        parallel = gradcheck.check(functions.smooth, x, executor=pool)
    np.testing.assert_array_equal(serial.numeric, parallel.numeric)
    assert parallel.evaluations == serial.evaluations


def test_closures_and_lambdas_run_on_processes():
    scale = 3.0

    def closure(x):  # defined inside a function: plain pickle refuses it, cloudpickle does not
        return scale * float(x @ x), scale * 2 * x

    x = np.linspace(-1, 1, 7)
    serial = gradcheck.check(closure, x)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        on_processes = gradcheck.check(closure, x, executor=pool, workers=2)
        with_lambda = gradcheck.check(lambda p: (float(p @ p), 2 * p), x, executor=pool)
    np.testing.assert_array_equal(on_processes.numeric, serial.numeric)
    assert on_processes.ok
    assert with_lambda.ok


def test_a_function_that_cannot_travel_is_a_clear_error():
    import threading

    lock = threading.Lock()

    def holds_a_lock(x):
        with lock:
            return float(x @ x), 2 * x

    with (
        ProcessPoolExecutor(max_workers=1) as pool,
        pytest.raises(TypeError, match=r"needs a function that can be pickled.*lock"),
    ):
        gradcheck.check(holds_a_lock, np.ones(3), executor=pool)


def _wobbling(level):
    """A cost that is exact and a gradient that varies between calls by ``level`` relative."""
    rng = np.random.default_rng(3)

    def f(x):
        value, g = functions.smooth(x)
        return value, g * (1 + level * rng.standard_normal(g.size))

    return f


def test_a_gradient_that_wobbles_at_round_off_is_not_nondeterministic():
    # Like atomic adds on a GPU: the cost is exact, the gradient varies in its last bits.
    report = gradcheck.check(_wobbling(1e-14), np.linspace(-1, 1, 8))
    assert report.ok, str(report)
    assert any("differs between two calls" in n for n in report.notes)


def test_a_gradient_that_varies_more_than_round_off_is_nondeterministic():
    report = gradcheck.check(_wobbling(1e-6), np.linspace(-1, 1, 8))
    d = report.diagnoses[0]
    assert d.kind == "nondeterministic"
    # 1e-6 relative is small beside the gradient: measured, tolerated, and said
    assert d.severity == "warning"
    assert "in a gradient entry" in d.message
    assert report.ok
    assert not gradcheck.check(_wobbling(1e-2), np.linspace(-1, 1, 8)).ok


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


def test_progress_on_gives_the_same_result():
    x = np.linspace(-1, 1, 30)
    assert (
        gradcheck.check(functions.smooth, x, progress=True).evaluations
        == gradcheck.check(functions.smooth, x, progress=False).evaluations
    )


def test_auto_mode_runs_full_when_cheap_and_directional_when_not(monkeypatch):
    from gradcheck import pipeline

    assert gradcheck.check(functions.smooth, np.linspace(-1, 1, 50)).mode == "full"
    assert gradcheck.check(functions.smooth, np.linspace(-1, 1, 600)).mode == "full"
    # A full check that would take longer than auto mode allows (here: any time at all, for
    # more than 100 entries) runs directionally: decided from the measured time per call.
    monkeypatch.setattr(pipeline, "AUTO_FULL_SECONDS", 0.0)
    report = gradcheck.check(functions.sum_of_squares, np.linspace(-1, 1, 6000))
    assert report.mode == "directional"
    assert report.ok
    assert report.evaluations <= 50
    assert gradcheck.check(functions.smooth, np.linspace(-1, 1, 100)).mode == "full"  # n ≤ 100


def test_what_f_prints_is_counted_not_shown(capsys, monkeypatch):
    def chatty(x):
        print("J =", float(x @ x))
        return float(x @ x), 2 * x

    report = gradcheck.check(chatty, np.ones(4))
    assert capsys.readouterr().out == ""  # the terminal is not flooded
    note = next(n for n in report.notes if "your function printed" in n)
    assert f"printed {report.evaluations} lines" in note
    assert "'J = 4.0'" in note
    monkeypatch.setenv("GRADCHECK_SHOW_OUTPUT", "1")
    again = gradcheck.check(chatty, np.ones(4))
    assert capsys.readouterr().out.count("J =") == again.evaluations


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("grad", 3), ("order", "X"), ("method", "nope"), ("step", -1), ("mode", "fast"),
        ("rtol", -1), ("atol", "a"), ("seed", -1), ("executor", 3), ("workers", 0),
        ("progress", "yes"), ("vectorized", "no"), ("checkpoint", 3), ("budget", 0),
        ("nondet_tol", -2), ("timeout", 0), ("rng", "x"), ("reseed", 3), ("points", 0),
        ("bounds", ("a",)), ("cost", 3),
    ],
)  # fmt: skip
def test_every_bad_option_is_an_error_naming_it(name, value):
    x = np.array([1.0, 2.0, 3.0])
    with pytest.raises((TypeError, ValueError), match=name):
        gradcheck.check(lambda v: (float(v @ v), 2 * v), x, **{name: value})


def test_two_paths_of_one_function_must_agree():
    """A cost-only function beside the cost-and-gradient one (fun and fun_and_grad for SciPy's
    minimize): each consistent with itself, so the gradient passes, but the L2 term is in one
    path only — named ``inconsistent``, with the two values at x."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 5)), rng.integers(0, 2, 20)
    lam = 0.1

    def loss(w, with_reg=True):
        z = X @ w
        J = float(np.mean(np.logaddexp(0, z) - y * z))
        return J + (lam / 2 * float(w @ w) if with_reg else 0.0)

    def fg(w):
        p = 1 / (1 + np.exp(-X @ w))
        return loss(w, with_reg=False), X.T @ (p - y) / len(y)

    w = rng.standard_normal(5)
    report = gradcheck.check(fg, w, cost=loss)
    assert not report.ok
    (d,) = [d for d in report.diagnoses if d.kind == "inconsistent"]
    assert d.severity == "fail"
    assert d.factor == pytest.approx(lam / 2 * float(w @ w), rel=1e-9)  # cost= minus f's
    assert f"{loss(w):.10g}" in d.message
    assert "at x" in d.message
    assert "κ = 0.1 at every point" in d.message  # the shape of the drift: an L2 term
    assert report.mismatched.size == 0  # the gradient itself agrees with fg's cost
    plain = gradcheck.check(fg, w)
    assert report.evaluations == plain.evaluations + 6
    same = gradcheck.check(fg, w, cost=lambda v: fg(v)[0])
    assert same.ok
    assert any("cost= agreed" in n for n in same.notes)
    with pytest.raises(TypeError, match="cost"):
        gradcheck.check(fg, w, cost=3)
    rows = lambda P: np.sum(P**2, axis=1) if P.ndim == 2 else 1 / 0  # (k, n) only
    vectorized = gradcheck.check(
        rows, w, grad=lambda v: 2 * v, vectorized=True, cost=lambda v: float(v @ v)
    )
    assert vectorized.ok


def test_two_paths_with_parameters_as_a_dict():
    params = {"W": np.array([[1.0, 2.0], [3.0, -1.0]]), "b": np.array([0.5, -0.5])}

    def fg(p):
        J = float(np.sum(p["W"] ** 2) + np.sum(p["b"] ** 3))
        return J, {"W": 2 * p["W"], "b": 3 * p["b"] ** 2}

    assert gradcheck.check(fg, params, cost=lambda p: fg(p)[0]).ok
    drifted = gradcheck.check(fg, params, cost=lambda p: fg(p)[0] + float(np.sum(p["b"])))
    assert [d.kind for d in drifted.diagnoses if d.severity == "fail"] == ["inconsistent"]
