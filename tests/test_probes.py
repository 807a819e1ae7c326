"""Trust: a catalogue of functions that are wrong in themselves — stateful, nondeterministic —
each caught, named, and never allowed a silent PASS; random noise measured, not treated as a bug."""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

import gradcheck
from gradcheck import ex4

from . import functions

X = np.linspace(-1, 1, 12)


class StaleGradient:
    """The right cost, and the gradient of the previous call's point: a cache keyed wrongly."""

    def __init__(self):
        self.last = None

    def __call__(self, x):
        value, g = functions.smooth(x)
        stale = g if self.last is None else self.last
        self.last = g
        return value, stale


class WarmStart:
    """An inner solve, y = ½cos(y) + Σx/10, by 4 fixed-point steps from the previous answer."""

    def __init__(self):
        self.y = 0.0

    def __call__(self, x):
        for _ in range(4):
            self.y = 0.5 * np.cos(self.y) + 0.1 * x.sum()
        dy = 0.1 / (1 + 0.5 * np.sin(self.y))  # implicit derivative of the converged y
        return float(np.sum(np.sin(x)) + self.y), np.cos(x) + dy


class Counter:
    """A call counter that leaks into the cost or the gradient."""

    def __init__(self, where):
        self.where, self.calls = where, 0

    def __call__(self, x):
        self.calls += 1
        value, g = functions.smooth(x)
        if self.where == "cost":
            return value + 1e-9 * self.calls, g
        return value, g + 1e-8 * self.calls


@pytest.mark.parametrize(
    ("f", "what"),
    [
        (StaleGradient(), "gradient"),
        (WarmStart(), "cost"),
        (Counter("cost"), "cost"),
        (Counter("gradient"), "gradient"),
    ],
    ids=["stale gradient cache", "warm start", "counter in the cost", "counter in the gradient"],
)
def test_stateful_functions_never_pass(f, what):
    report = gradcheck.check(f, X)
    assert not report.ok, str(report)
    d = report.diagnoses[0]
    assert d.kind == "stateful"
    assert d.severity == "fail"
    assert what in d.message
    assert "warm start" in d.message  # the usual causes are listed
    headline = report.summary()
    assert headline.startswith("gradcheck FAIL: f is stateful (the ")
    assert "entries agree" not in headline.split(";")[0]


def test_the_stale_cache_is_caught_by_the_history_probe_with_the_entry():
    report = gradcheck.check(StaleGradient(), X, blocks={"W": (3, 4)})
    d = report.diagnoses[0]
    assert d.kind == "stateful"
    assert "called at x again after" in d.message
    assert "W[" in d.message  # where the gradient changed
    # the verdict line says what is wrong and that the entries themselves agreed
    assert "entries checked agree within tolerance" in report.summary()


def _noisy_course_cost(level, seed=0):
    rng = np.random.default_rng(seed)
    X, y = ex4.debug_initialize_weights(5, 2), 1 + np.arange(1, 6) % 3

    def cost(p):
        J, g = ex4.nn_cost_function(p, 3, 5, 3, X, y, 1.0)
        return J * (1 + level * rng.standard_normal()), g

    params = ex4.unroll(ex4.debug_initialize_weights(5, 3), ex4.debug_initialize_weights(3, 5))
    return cost, params


def test_random_noise_of_1e_9_on_the_course_network_passes_with_a_warning():
    cost, params = _noisy_course_cost(1e-9)
    report = gradcheck.check(cost, params)
    assert report.ok, str(report)
    d = report.diagnoses[0]
    assert (d.kind, d.severity) == ("nondeterministic", "warning")
    assert "treated as noise" in d.message
    assert report.summary().startswith("gradcheck PASS: all 38 entries checked agree")
    assert "warnings: nondeterministic" in report.summary()


def test_random_noise_of_1e_3_is_inconclusive():
    cost, params = _noisy_course_cost(1e-3)
    report = gradcheck.check(cost, params)
    assert not report.ok
    d = report.diagnoses[0]
    assert (d.kind, d.severity) == ("nondeterministic", "fail")
    assert "inconclusive" in d.message
    assert "evaluation mode" in d.message  # dropout left on is the usual cause
    assert report.summary().startswith("gradcheck FAIL: f is not deterministic")


def test_noise_that_settles_after_the_first_call_is_stateful_not_random():
    calls = []

    def f(x):
        calls.append(1)
        value, g = functions.smooth(x)
        return (value + 1e-6 if len(calls) == 1 else value), g

    report = gradcheck.check(f, X)
    assert report.diagnoses[0].kind == "stateful"
    assert "on every call made back to back" in report.diagnoses[0].message


class RandomNoise:
    """``smooth`` with random relative noise in the cost (picklable, for every executor)."""

    def __init__(self, level, seed=0):
        self.level, self.rng = level, np.random.default_rng(seed)

    def __call__(self, x):
        value, g = functions.smooth(x)
        return value * (1 + self.level * self.rng.standard_normal()), g


@pytest.mark.parametrize("runner", ["serial", "threads", "processes", "dask"])
def test_a_correct_function_with_1e_10_noise_passes_on_every_executor(runner):
    f = RandomNoise(1e-10)
    if runner == "serial":
        report = gradcheck.check(f, X)
    elif runner == "threads":
        with ThreadPoolExecutor(2) as pool:
            report = gradcheck.check(f, X, executor=pool)
    elif runner == "processes":
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
            report = gradcheck.check(f, X, executor=pool, workers=2)
    else:
        with functions.dask_client(processes=False) as client:
            report = gradcheck.check(f, X, executor=client.get_executor(), workers=2)
    assert report.ok, str(report)
    assert report.diagnoses[0].kind == "nondeterministic"
    assert report.diagnoses[0].severity == "warning"


def test_nan_at_x_says_so_in_the_headline():
    with np.errstate(invalid="ignore"):
        report = gradcheck.check(lambda x: (float(np.log(-x[0])), x), np.ones(2))
    assert report.summary().startswith("gradcheck FAIL: f(x) is nan, so nothing could be checked")
    assert report.evaluations == 1  # the first call at x, nothing more


def test_a_long_run_probes_the_history_halfway_too():
    x = np.linspace(-1, 1, 600)
    f = StaleGradient()
    report = gradcheck.check(f, x, mode="full", step=1e-6)
    d = report.diagnoses[0]
    assert d.kind == "stateful"
    # halfway: after the noise probe (8), half the entries (2 × 300) and the far point (1)
    assert "called at x again after 609 other evaluations" in d.message
    assert report.evaluations == 2 + 8 + 2 * 600 + 2 + 1
    assert sum(k.kind == "stateful" for k in report.diagnoses) == 1  # said once
    short = gradcheck.check(functions.smooth, np.linspace(-1, 1, 40), mode="full")
    assert short.evaluations == 2 + 8 + 2 * 40 + 1  # short runs: only the final probe


def test_the_one_same_value_rule():
    from gradcheck.checkpoint import same_value
    from gradcheck.precision import EPS, differs

    one = 1.0 + 3 * EPS  # 3 ulps apart: the same; 5 apart: not
    assert not differs(1.0, one)
    assert differs(1.0, 1.0 + 6 * EPS)
    assert not differs(1.0, 1.0 + 1e-9, spread=1e-10)  # within 10× the spread between calls
    assert differs([1.0, np.nan, np.inf], [1.0, 1.0, np.inf]).tolist() == [False, True, False]
    assert not differs(np.nan, np.nan)
    assert same_value(2.0, 2.0 + 2 * EPS, 0.0)  # the checkpoint reads the same rule
    assert not same_value(2.0, 2.0 + 1e-12, 0.0)
