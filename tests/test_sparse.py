"""A sparse Jacobian of a 1-D finite-difference Laplacian, n = 10,000, in O(colours) calls."""

import numpy as np
import pytest
from scipy import sparse

import gradcheck

N = 10_000


def residual(u):
    """r(u) = L u + u³ with L the 1-D Laplacian (tridiagonal): J = L + 3 diag(u²)."""
    r = -2 * u + u**3
    r[1:] += u[:-1]
    r[:-1] += u[1:]
    return r


def laplacian_jac(u):
    return sparse.diags([np.ones(N - 1), -2 + 3 * u**2, np.ones(N - 1)], [-1, 0, 1], format="csc")


PATTERN = sparse.diags([np.ones(N - 1), np.ones(N), np.ones(N - 1)], [-1, 0, 1], format="csc")
U = np.sin(np.linspace(0, 3, N))


def test_a_right_sparse_jacobian_in_few_calls():
    report = gradcheck.check_jacobian(residual, U, jac=laplacian_jac, sparsity=PATTERN)
    assert report.ok, str(report)
    # 3 colours: 6 calls, one at x, and at most one refinement at half the step per colour
    assert report.evaluations <= 1 + 2 * 3 + 2 * 3


def test_a_structural_error_and_a_wrong_value_are_named():
    def coupled(u):  # f depends on u[9000] at row 17, which the pattern says it cannot
        r = residual(u)
        r[17] += 0.5 * u[9000]
        return r

    def wrong_value(u):
        J = laplacian_jac(u).tolil()
        J[4321, 4322] = 1.1  # the right value is 1
        return J.tocsc()

    report = gradcheck.check_jacobian(coupled, U, jac=wrong_value, sparsity=PATTERN)
    assert not report.ok
    messages = " ".join(d.message for d in report.diagnoses)
    assert "J[17, 9000]" in messages  # structurally zero, yet the difference is 0.5
    assert "structurally zero" in messages
    assert "J[4321, 4322]: analytic 1.1" in messages
    # the colours and their refinements, then 2 calls for a column alone and 2 per halving
    assert report.evaluations <= 13 + 4 + 2 * np.log2(N) + 2


def test_the_pattern_must_have_the_jacobians_shape():
    with pytest.raises(ValueError, match="sparsity must have the Jacobian's shape"):
        gradcheck.check_jacobian(residual, U, jac=laplacian_jac, sparsity=np.ones((3, 3)))
