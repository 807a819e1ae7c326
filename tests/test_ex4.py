"""The port must give the course's numbers (Octave/MATLAB), to the last bits where arithmetic allows."""

import numpy as np
import pytest
from scipy.io import savemat

from gradcheck import ex4

SUM_SQ_NONBIAS = 961.40693929604731  # Σ Θ1[:,1:]² + Σ Θ2[:,1:]² of ex4weights.mat


def test_sigmoid_and_its_gradient():
    assert ex4.sigmoid_gradient(0.0) == 0.25
    np.testing.assert_allclose(
        ex4.sigmoid(np.array([-1.0, 0.0, 1.0])),
        [0.2689414213699951, 0.5, 0.7310585786300049],
        rtol=1e-15,
    )
    z = np.linspace(-5, 5, 11)
    np.testing.assert_allclose(ex4.sigmoid_gradient(z), ex4.sigmoid(z) * (1 - ex4.sigmoid(z)))


def test_debug_initialize_weights_fills_column_major_like_matlab():
    W = ex4.debug_initialize_weights(5, 3)
    assert W.shape == (5, 4)
    assert W[0, 1] == np.sin(6) / 10 == -0.027941549819892587
    assert W[1, 0] == np.sin(2) / 10
    np.testing.assert_array_equal(W.ravel(order="F"), np.sin(np.arange(1, 21)) / 10)


@pytest.mark.parametrize(
    ("lambda_", "cost"), [(0.0, 2.1009505699024653), (3.0, 2.1463598150243586)]
)
def test_check_nn_gradients_reproduces_the_course(lambda_, cost):
    result = ex4.check_nn_gradients(lambda_)
    assert result.cost == pytest.approx(cost, rel=1e-14)
    assert result.numgrad.shape == result.grad.shape == (38,)
    assert result.relative_difference < 1e-9  # Octave prints 2.3355e-11 and 2.2540e-11
    assert result.relative_difference > 1e-12  # a real finite-difference, not a copy of grad
    np.testing.assert_allclose(result.numgrad, result.grad, atol=1e-9)


def test_check_nn_gradients_prints_the_two_columns_only_when_asked(capsys):
    ex4.check_nn_gradients(0.0)
    assert capsys.readouterr().out == ""
    result = ex4.check_nn_gradients(0.0, verbose=True)
    out = capsys.readouterr().out
    assert "Relative Difference:" in out
    assert "Left-Your Numerical Gradient" in out
    assert len([line for line in out.splitlines() if line.startswith("  ")]) == 38
    assert f"{result.relative_difference:g}" in out


def _grader_case():
    Xm = np.sin(np.arange(1, 33)).reshape(16, 2, order="F") / 5
    ym = 1 + np.arange(1, 17) % 4
    t1 = np.sin(np.arange(1, 25, 2).reshape(4, 3, order="F"))
    t2 = np.cos(np.arange(1, 41, 2).reshape(4, 5, order="F"))
    return ex4.unroll(t1, t2), Xm, ym


@pytest.mark.parametrize(
    ("lambda_", "expected"), [(0.0, 3.087449158158643), (1.5, 3.647041255559591)]
)
def test_the_course_graders_case(lambda_, expected):
    params, Xm, ym = _grader_case()
    J, grad = ex4.nn_cost_function(params, 2, 4, 4, Xm, ym, lambda_)
    assert abs(J - expected) < 1e-13
    numgrad = ex4.compute_numerical_gradient(
        lambda p: ex4.nn_cost_function(p, 2, 4, 4, Xm, ym, lambda_), params
    )
    assert np.linalg.norm(numgrad - grad) / np.linalg.norm(numgrad + grad) < 1e-9


def test_y_as_a_matlab_column_gives_the_same_cost():
    params, Xm, ym = _grader_case()
    J1, g1 = ex4.nn_cost_function(params, 2, 4, 4, Xm, ym, 1.5)
    J2, g2 = ex4.nn_cost_function(params[:, None], 2, 4, 4, Xm, ym[:, None].astype(float), 1.5)
    assert J1 == J2
    np.testing.assert_array_equal(g1, g2)


def test_one_hot_keeps_a_class_absent_from_y():
    # Labels 1 and 3 only: class 2 must still have its column (get_dummies would drop it and
    # shift class 3 into column 2).
    params, Xm, _ = _grader_case()
    y = np.where(np.arange(16) % 2 == 0, 1, 3)
    J, _ = ex4.nn_cost_function(params, 2, 4, 4, Xm, y, 0.0)
    theta1 = params[:12].reshape(4, 3, order="F")
    theta2 = params[12:].reshape(4, 5, order="F")
    a2 = np.hstack([np.ones((16, 1)), ex4.sigmoid(np.hstack([np.ones((16, 1)), Xm]) @ theta1.T)])
    h = ex4.sigmoid(a2 @ theta2.T)
    Y = np.zeros((16, 4))
    Y[np.arange(16), y - 1] = 1
    assert pytest.approx(np.sum(-Y * np.log(h) - (1 - Y) * np.log(1 - h)) / 16, rel=1e-14) == J


def test_course_weights_regularisation_adds_exactly_the_non_bias_sum(weights_path, rng):
    theta1, theta2 = ex4.load_weights(weights_path)
    assert theta1.shape == (25, 401)
    assert theta2.shape == (10, 26)
    assert np.sum(theta1[:, 1:] ** 2) + np.sum(theta2[:, 1:] ** 2) == pytest.approx(
        SUM_SQ_NONBIAS, rel=1e-14
    )
    m = 50
    X = rng.random((m, 400))
    y = rng.integers(1, 11, size=m)
    params = ex4.unroll(theta1, theta2)
    J0, g0 = ex4.nn_cost_function(params, 400, 25, 10, X, y, 0.0)
    for lambda_ in (1.0, 3.0):
        J, g = ex4.nn_cost_function(params, 400, 25, 10, X, y, lambda_)
        assert pytest.approx(lambda_ * SUM_SQ_NONBIAS / (2 * m), rel=1e-10) == J - J0
        expected = (
            ex4.unroll(
                np.hstack([np.zeros((25, 1)), theta1[:, 1:]]),
                np.hstack([np.zeros((10, 1)), theta2[:, 1:]]),
            )
            * lambda_
            / m
        )
        np.testing.assert_allclose(g - g0, expected, rtol=1e-9, atol=1e-15)
        # Column-major: Theta1(:, 1) is entries 0..24, Theta2(:, 1) entries 10025..10034.
        bias = np.r_[np.arange(25), 25 * 401 + np.arange(10)]
        assert np.all((g - g0)[bias] == 0)


def test_rand_initialize_weights_is_seeded_and_bounded():
    W = ex4.rand_initialize_weights(400, 25, rng=np.random.default_rng(1))
    assert W.shape == (25, 401)
    assert np.abs(W).max() <= 0.12
    assert np.abs(W).max() > 0.11  # uses the whole range
    np.testing.assert_array_equal(W, ex4.rand_initialize_weights(400, 25, rng=1))
    np.testing.assert_array_equal(
        ex4.rand_initialize_weights(3, 2), ex4.rand_initialize_weights(3, 2)
    )


def test_predict_returns_labels_one_to_k(weights_path, rng):
    theta1, theta2 = ex4.load_weights(weights_path)
    X = rng.random((20, 400))
    p = ex4.predict(theta1, theta2, X)
    assert p.shape == (20,)
    assert p.min() >= 1
    assert p.max() <= 10
    h1 = ex4.sigmoid(np.hstack([np.ones((20, 1)), X]) @ theta1.T)
    h2 = ex4.sigmoid(np.hstack([np.ones((20, 1)), h1]) @ theta2.T)
    np.testing.assert_array_equal(p, np.argmax(h2, axis=1) + 1)


def test_load_data_reads_a_course_style_mat_file(tmp_path):
    path = tmp_path / "ex4data1.mat"
    X = np.arange(12.0).reshape(3, 4)
    savemat(path, {"X": X, "y": np.array([[10], [1], [5]], dtype=np.uint8)})
    X2, y2 = ex4.load_data(path)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, [10, 1, 5])
    assert X2.dtype == np.float64


def test_mat_file_without_the_keys_is_a_clear_error(tmp_path):
    path = tmp_path / "other.mat"
    savemat(path, {"W": np.zeros((2, 2))})
    with pytest.raises(ValueError, match=r"no variable\(s\) \['Theta1', 'Theta2'\].*found \['W'\]"):
        ex4.load_weights(path)
    with pytest.raises(ValueError, match=r"\['X', 'y'\]"):
        ex4.load_data(path)


def test_bad_arguments_say_what_was_expected(course_debug):
    X, y, p = course_debug["X"], course_debug["y"], course_debug["params"]
    with pytest.raises(ValueError, match=r"nn_params must hold 38 values .*got shape \(37,\)"):
        ex4.nn_cost_function(p[:-1], 3, 5, 3, X, y, 0.0)
    with pytest.raises(ValueError, match=r"labels 1..3.*\[4\] at rows \[0\]"):
        ex4.nn_cost_function(p, 3, 5, 3, X, np.r_[4, y[1:]], 0.0)
    with pytest.raises(ValueError, match=r"labels 1..3"):
        ex4.nn_cost_function(p, 3, 5, 3, X, y - 1, 0.0)
    with pytest.raises(ValueError, match=r"shape \(m, input_layer_size=3\), got shape \(5, 4\)"):
        ex4.nn_cost_function(p, 3, 5, 3, np.ones((5, 4)), y, 0.0)
    with pytest.raises(ValueError, match=r"one label per row"):
        ex4.nn_cost_function(p, 3, 5, 3, X, y[:4], 0.0)


def test_check_nn_gradients_finds_a_broken_cost_function(course_debug):
    def broken(p, il, hl, nl, X, y, lam):
        J, g = ex4.nn_cost_function(p, il, hl, nl, X, y, lam)
        return J, g * 2

    assert ex4.check_nn_gradients(0.0, cost_function=broken).relative_difference == pytest.approx(
        1 / 3, rel=1e-6
    )
