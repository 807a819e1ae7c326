"""Jacobians (jac, vjp, jvp) and Hessian-vector products of NumPy functions: no torch, no JAX."""

import numpy as np
import pytest

import gradcheck

# ----- NumPy Jacobians and Hessians --------------------------------------------------------------


def _f(x):
    return np.array([x[0] * x[1], np.sin(x[2]) + x[0] ** 2, np.exp(x[1] * x[2])])


def _jac(x):
    return np.array(
        [
            [x[1], x[0], 0.0],
            [2 * x[0], 0.0, np.cos(x[2])],
            [0.0, x[2] * np.exp(x[1] * x[2]), x[1] * np.exp(x[1] * x[2])],
        ]
    )


X0 = np.array([0.3, -0.7, 1.1])


@pytest.mark.parametrize("form", ["jac", "vjp", "jvp"])
def test_check_jacobian_in_every_form(form):
    kw = {"jac": _jac, "vjp": lambda x, w: _jac(x).T @ w, "jvp": lambda x, v: _jac(x) @ v}
    assert gradcheck.check_jacobian(_f, X0, **{form: kw[form]}).ok

    def bad(x):
        J = _jac(x)
        J[2, 1] *= 1.5
        return J

    wrong = {"jac": bad, "vjp": lambda x, w: bad(x).T @ w, "jvp": lambda x, v: bad(x) @ v}
    report = gradcheck.check_jacobian(_f, X0, **{form: wrong[form]})
    assert not report.ok
    assert report.mismatched.tolist() == [1]
    assert report.diagnoses[-1].message.startswith("wrong Jacobian entries: J[2, 1]")


def test_check_jacobian_needs_a_form_of_the_right_shape():
    with pytest.raises(TypeError, match="at least one of jac=, vjp=, jvp="):
        gradcheck.check_jacobian(_f, X0)
    with pytest.raises(ValueError, match=r"jac must return shape \(3, 3\)"):
        gradcheck.check_jacobian(_f, X0, jac=lambda x: np.ones((3, 2)))


def test_check_hessian_of_a_rosenbrock():
    from scipy.optimize import rosen, rosen_der, rosen_hess_prod

    x = np.array([1.2, 0.8, -0.5, 1.5])
    assert gradcheck.check_hessian(rosen, x, grad=rosen_der, hessp=rosen_hess_prod).ok
    report = gradcheck.check_hessian(
        rosen, x, grad=rosen_der, hessp=lambda x, v: rosen_hess_prod(x, v) * np.r_[1, 1, 2, 1]
    )
    assert not report.ok
    assert 2 in report.mismatched.tolist()


def test_the_number_of_outputs_comes_from_the_first_call_of_f():
    x0 = np.array([0.3, -0.7, 1.1])
    calls_at_x0 = []

    def f(x):
        if np.array_equal(x, x0):
            calls_at_x0.append(1)
        return np.array([x[0] * x[1], np.sin(x[2]), x[1] * x[2]])

    def jac(x):
        return np.array([[x[1], x[0], 0.0], [0.0, 0.0, np.cos(x[2])], [0.0, x[2], x[1]]])

    report = gradcheck.check_jacobian(f, x0, jac=jac)
    assert report.ok
    # the first call, the determinism probe and the history probe: none only to count outputs
    assert len(calls_at_x0) == 3


def test_an_output_size_that_depends_on_the_point_is_named():
    x0 = np.array([0.3, -0.7])

    def f(x):
        return x.copy() if np.array_equal(x, x0) else x[:1].copy()

    with pytest.raises(ValueError, match="f returned 1 entry here but 2 entries at x"):
        gradcheck.check_jacobian(f, x0, jac=lambda x: np.eye(2))
