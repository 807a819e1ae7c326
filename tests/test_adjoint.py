"""Checks without finite differences: a Jacobian's modes against each other, a Hessian's
symmetry and linearity."""

import numpy as np
import pytest

import gradcheck
from gradcheck import adjoint
from gradcheck.evaluate import Evaluator

A = np.random.default_rng(3).standard_normal((4, 6))


def f(x):
    return np.tanh(A @ x)


def jac(x):
    return (1 - np.tanh(A @ x) ** 2)[:, None] * A


def jvp(x, v):
    return jac(x) @ v


def vjp(x, w):
    return jac(x).T @ w


def vjp_one_wrong(x, w):
    g = vjp(x, w)
    g[2] *= 1.5  # not the transpose of the jvp at one entry
    return g


X = np.linspace(-0.5, 0.5, 6)


def test_right_forms_agree_and_the_check_still_runs():
    report = gradcheck.check_jacobian(f, X, jac=jac, jvp=jvp, vjp=vjp)
    assert report.ok, str(report)
    assert any("agree with each other to round-off" in n for n in report.notes)


def test_a_vjp_that_is_not_the_transpose_of_its_jvp_is_found_without_calling_f():
    calls = []

    def counted(x):
        calls.append(1)
        return f(x)

    found = adjoint.mode_consistency(X, jac=None, jvp=jvp, vjp=vjp_one_wrong)
    assert calls == []  # no call of f
    assert len(found) == 1
    assert found[0].indices.tolist() == [2]
    assert "your vjp and your jvp disagree" in found[0].message
    report = gradcheck.check_jacobian(counted, X, jvp=jvp, vjp=vjp_one_wrong)
    assert not report.ok
    assert "your vjp disagrees with your jvp" in [d.headline for d in report.diagnoses]


def test_jac_against_a_wrong_jvp_names_the_output_rows():
    def jvp_row(x, v):
        out = jvp(x, v)
        out[1] = 0.0
        return out

    found = adjoint.mode_consistency(X, jac=jac, jvp=jvp_row, vjp=None)
    assert found[0].indices.tolist() == [1]
    assert "your jvp and your jac disagree" in found[0].message


H = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, 0.5], [0.0, 0.5, 1.0]])


def quad(x):
    return 0.5 * float(x @ H @ x), H @ x


def test_an_asymmetric_hessp_is_named():
    upper = np.triu(H) * 2 - np.diag(np.diag(H))  # H's upper triangle doubled: not symmetric
    report = gradcheck.check_hessian(quad, np.ones(3), hessp=lambda x, v: upper @ v)
    assert not report.ok
    assert "your hessp is not symmetric" in [d.headline for d in report.diagnoses]
    assert gradcheck.check_hessian(quad, np.ones(3), hessp=lambda x, v: H @ v).ok


def test_a_hessp_that_is_not_linear_is_named():
    calls = []

    def drifting(x, v):  # keeps state: right twice, then 1 % larger on every further call
        calls.append(1)
        return H @ v * (1 + 0.01 * max(0, len(calls) - 2))

    found = adjoint.hessian_consistency(np.ones(3), lambda x, v: H @ v)
    assert found == []
    found = adjoint.hessian_consistency(np.ones(3), drifting)
    assert [d.headline for d in found] == ["your hessp is not linear in v"]


def test_a_single_form_still_works_and_none_is_an_error():
    assert gradcheck.check_jacobian(f, X, vjp=vjp).ok
    with pytest.raises(TypeError, match="at least one of jac=, vjp=, jvp="):
        gradcheck.check_jacobian(f, X)
    assert Evaluator  # the evaluator is not needed by the adjoint test


def test_a_transposed_jacobian_is_named_transpose():
    B = np.random.default_rng(4).standard_normal((5, 5))

    def g(x):
        return np.sin(B @ x)

    def right(x):
        return np.cos(B @ x)[:, None] * B

    x = np.linspace(-0.4, 0.4, 5)
    assert gradcheck.check_jacobian(g, x, jac=right).ok
    report = gradcheck.check_jacobian(g, x, jac=lambda x: right(x).T)
    assert not report.ok
    d = next(d for d in report.diagnoses if d.kind == "transpose")
    assert d.headline == "your jac is transposed"


# ----- several points, and the points that hide bugs ---------------------------------------------

C = np.array([[1.0, 2.0, 0.5], [2.0, -1.0, 0.3], [0.5, 0.3, 2.0]])  # symmetric


def _transposed_gradient(p):
    W = p.reshape(3, 3)
    cost = float(np.sum(C * W) + 0.5 * np.sum(W**2))
    return cost, (C + W).T.ravel()  # the bug: transposed (C + W is the gradient)


def test_a_transposed_gradient_hides_at_a_symmetric_point_and_shows_at_three():
    W = np.array([[1.0, 0.2, -0.3], [0.2, 2.0, 0.7], [-0.3, 0.7, 0.5]])  # symmetric
    at_x = gradcheck.check(_transposed_gradient, W.ravel(), blocks={"W": (3, 3)})
    assert at_x.ok  # the bug is invisible here...
    d = next(d for d in at_x.diagnoses if d.kind == "degenerate")
    assert d.severity == "warning"
    assert "W is symmetric: a transposed gradient would agree here" in d.message  # ...and said
    three = gradcheck.check(_transposed_gradient, W.ravel(), blocks={"W": (3, 3)}, points=3)
    assert not three.ok
    assert any("failed at point 2 of 3" in n for n in three.notes)
    assert three.evaluations > at_x.evaluations  # the calls at both points, added up


def test_points_passing_everywhere_say_so_and_respect_bounds():
    f = lambda x: (float(np.sum(x**3)), 3 * x**2)
    x = np.array([0.001, 1.0, 2.0])
    report = gradcheck.check(f, x, points=3, bounds=(0.0, 5.0))
    assert report.ok, str(report)
    assert any("passed at 3 points" in n for n in report.notes)
    assert report.evaluations <= 3 * gradcheck.check(f, x).evaluations  # at most 3× one point
    pts = gradcheck.pipeline.spread_points(np.array([0.001, 1.0]), 5, (0.0, 10.0), 0)
    assert len(pts) == 5
    assert all(np.all(p >= 0.0) for p in pts)
    assert not np.array_equal(pts[1], pts[0])
    with pytest.raises(ValueError, match="points must be a whole number"):
        gradcheck.check(f, np.ones(2), points=0)
