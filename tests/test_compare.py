"""The error model, written once: Tolerances.allowed, the defaults, refinement and kinks."""

import numpy as np
import pytest

from gradcheck.compare import (
    FLOAT32_EPS,
    SAFETY,
    Tolerances,
    compare_entries,
    relative_difference,
    tolerances,
)
from gradcheck.differences import SCHEMES
from gradcheck.evaluate import Evaluator
from gradcheck.noise import EPS


def test_allowed_is_the_formula_of_the_notes():
    tol = Tolerances(rtol=1e-6, atol=1e-12)
    got = tol.allowed(
        noise=np.array([1e-9]),
        truncation=2e-9,
        analytic=np.array([-3.0]),
        numeric=np.array([2.0]),
        weight=4.0,
        rounding=1e-15,
    )
    np.testing.assert_allclose(got, SAFETY * 3e-9 + 1e-6 * 3.0 + 4e-12 + 1e-15, rtol=1e-15)


def test_default_tolerances_follow_the_precision_of_f():
    a = np.array([2.0, -8.0, np.nan])
    t64 = tolerances(None, None, eps=EPS, analytic=a, wobble=0.0)
    assert (t64.rtol, t64.atol) == (1e-6, 100 * EPS * 8.0)
    t32 = tolerances(None, None, eps=FLOAT32_EPS, analytic=a, wobble=1e-12)
    assert t32.rtol == 1e-3
    assert t32.atol == pytest.approx(100 * FLOAT32_EPS * 8.0 + SAFETY * 1e-12)
    t16 = tolerances(None, None, eps=float(np.finfo(np.float16).eps), analytic=a, wobble=0.0)
    assert t16.rtol == 3e-2
    given = tolerances(1e-4, 0.0, eps=FLOAT32_EPS, analytic=a, wobble=0.0)
    assert (given.rtol, given.atol) == (1e-4, 0.0)


def test_relative_difference_is_ngs():
    n, a = np.array([1.0, 2.0]), np.array([1.0, 2.5])
    assert relative_difference(n, a) == pytest.approx(0.5 / np.linalg.norm([2.0, 4.5]))
    assert relative_difference(np.zeros(2), np.zeros(2)) == 0.0


def _compare(f, x, analytic, step):
    ev = Evaluator(f)
    f0 = float(f(x))
    c = compare_entries(
        ev,
        x,
        f0,
        analytic,
        idx=np.arange(x.size),
        steps=np.full(x.size, step),
        scheme=SCHEMES["central"],
        eps_f=2 * EPS * abs(f0),
        tol=Tolerances(1e-6, 1e-14),
        describe=str,
        shorten=False,  # the step is given: kept as it is
    )
    return c, ev.calls


def test_refinement_turns_truncation_into_tolerance_not_a_failure():
    # A large given step makes the central difference of exp off by h²/6 ≈ 1.7e-3: suspicious,
    # re-estimated at h/2, and the measured truncation error explains it.
    x = np.array([0.3, -0.2])
    c, calls = _compare(lambda p: float(np.sum(np.exp(p))), x, np.exp(x), step=0.1)
    assert c.mismatched.size == 0
    assert calls == 2 * 2 + 2 * 2  # every entry, then both refined at half the step
    assert np.all(c.error > 1e-4)
    # while a real error, ten times the truncation, stays wrong
    wrong, _ = _compare(lambda p: float(np.sum(np.exp(p))), x, np.exp(x) * [1.05, 1], step=0.1)
    assert wrong.mismatched.tolist() == [0]


def test_a_kink_inside_the_step_is_told_apart_from_a_wrong_entry():
    x = np.array([1e-7, 1.0])  # |x0| has a kink at 0, inside the step 1e-4
    c, _ = _compare(lambda p: float(np.sum(np.abs(p))), x, np.array([1.0, 1.0]), step=1e-4)
    assert c.kinks.tolist() == [0]
    assert c.mismatched.size == 0
    outside, _ = _compare(lambda p: float(np.sum(np.abs(p))), x, np.array([3.0, 1.0]), step=1e-4)
    assert outside.mismatched.tolist() == [0]  # 3 is not between the one-sided slopes −1 and 1
