import numpy as np
import pytest

import gradcheck
from gradcheck import ex4
from gradcheck.examples import question_gradient_check


def _course_loop(J, theta):
    # computeNumericalGradient.m, line for line
    numgrad = np.zeros(theta.shape)
    perturb = np.zeros(theta.shape)
    e = 1e-4
    for p in range(theta.size):
        perturb[p] = e
        loss1 = J(theta - perturb)[0]
        loss2 = J(theta + perturb)[0]
        numgrad[p] = (loss2 - loss1) / (2 * e)
        perturb[p] = 0
    return numgrad


def test_numerical_gradient_is_the_course_loop_bit_for_bit(course_debug):
    p, X, y = course_debug["params"], course_debug["X"], course_debug["y"]
    J = lambda q: ex4.nn_cost_function(q, 3, 5, 3, X, y, 3.0)
    expected = _course_loop(J, p)
    np.testing.assert_array_equal(gradcheck.numerical_gradient(J, p), expected)
    np.testing.assert_array_equal(gradcheck.numerical_gradient(lambda q: J(q)[0], p), expected)
    np.testing.assert_array_equal(ex4.compute_numerical_gradient(J, p), expected)
    np.testing.assert_array_equal(question_gradient_check(J, p), expected)


def test_forward_and_complex_methods():
    f = lambda x: np.sum(np.exp(x) * np.sin(x))
    x = np.array([0.3, -1.2, 2.0])
    exact = np.exp(x) * (np.sin(x) + np.cos(x))
    fwd = gradcheck.numerical_gradient(f, x, method="forward", step=1e-7)
    np.testing.assert_allclose(fwd, exact, rtol=1e-6)
    cs = gradcheck.numerical_gradient(f, x, method="complex", step=1e-20)
    np.testing.assert_allclose(cs, exact, rtol=1e-15)


def test_halving_the_step_cuts_the_central_error_about_four_times():
    f = lambda x: float(np.sum(np.exp(np.sin(x))))
    x = np.array([0.4, 1.1, -0.7])
    exact = np.cos(x) * np.exp(np.sin(x))
    errors = [
        np.abs(gradcheck.numerical_gradient(f, x, step=h) - exact) for h in (1e-2, 5e-3, 2.5e-3)
    ]
    ratios = np.concatenate([errors[0] / errors[1], errors[1] / errors[2]])
    assert np.all((ratios > 3.8) & (ratios < 4.2)), ratios


def test_numerical_gradient_rejects_bad_arguments():
    with pytest.raises(ValueError, match="method must be one of"):
        gradcheck.numerical_gradient(np.sum, np.ones(2), method="richardson-ish")
    with pytest.raises(ValueError, match="step must be a positive number"):
        gradcheck.numerical_gradient(np.sum, np.ones(2), step=0)
    with pytest.raises(ValueError, match=r"x must be a 1-D array .*\(2, 2\)"):
        gradcheck.numerical_gradient(np.sum, np.ones((2, 2)))
