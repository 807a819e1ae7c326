import itertools

import numpy as np
import pytest

import gradcheck
from gradcheck import nn


def _data(rng, m=12, n_in=5, k=3):
    X = rng.standard_normal((m, n_in))
    y = rng.integers(0, k, size=m)
    return X, y


@pytest.mark.parametrize(
    ("hidden", "output", "lambda_"),
    list(itertools.product(["sigmoid", "tanh", "relu"], ["sigmoid", "softmax"], [0.0, 0.7])),
)
def test_backprop_matches_finite_differences(hidden, output, lambda_, rng):
    net = nn.Network((5, 4, 3, 3), hidden=hidden, output=output, lambda_=lambda_)
    X, y = _data(rng)
    params = rng.standard_normal(net.n_params)
    f = lambda p: net.loss_and_grad(p, X, y)
    numgrad = gradcheck.numerical_gradient(f, params, step=1e-5)
    grad = f(params)[1]
    rel = np.linalg.norm(numgrad - grad) / np.linalg.norm(numgrad + grad)
    assert rel < 1e-8
    report = gradcheck.check(f, params, blocks=net.layout.blocks)
    assert report.ok, str(report)
    assert report.mismatched.size == 0


@pytest.mark.parametrize("order", ["C", "F"])
def test_theta_naming_is_the_course_network(order, rng):
    from gradcheck import ex4

    net = nn.Network((3, 5, 3), naming="theta", order=order, lambda_=3.0)
    assert net.layout.blocks == {"Theta1": (5, 4), "Theta2": (3, 6)}
    theta1, theta2 = ex4.debug_initialize_weights(5, 3), ex4.debug_initialize_weights(3, 5)
    X = ex4.debug_initialize_weights(5, 2)
    y = 1 + np.arange(1, 6) % 3
    params = net.layout.pack({"Theta1": theta1, "Theta2": theta2})
    J, grad = net.loss_and_grad(params, X, y - 1)
    J_course, grad_course = ex4.nn_cost_function(ex4.unroll(theta1, theta2), 3, 5, 3, X, y, 3.0)
    assert pytest.approx(J_course, rel=1e-13) == J
    got = net.layout.unpack(grad)
    course = {
        "Theta1": grad_course[:20].reshape(5, 4, order="F"),
        "Theta2": grad_course[20:].reshape(3, 6, order="F"),
    }
    for name in got:
        np.testing.assert_allclose(got[name], course[name], rtol=1e-12, atol=1e-15)


def test_regularisation_spares_the_biases(rng):
    X, y = _data(rng)
    params = rng.standard_normal(nn.Network((5, 4, 3)).n_params)
    g0 = nn.Network((5, 4, 3)).loss_and_grad(params, X, y)[1]
    net = nn.Network((5, 4, 3), lambda_=2.0)
    g1 = net.loss_and_grad(params, X, y)[1]
    diff = net.layout.unpack(g1 - g0)
    w = net.layout.unpack(params)
    np.testing.assert_allclose(diff["W1"], 2.0 / 12 * w["W1"], rtol=1e-10)
    np.testing.assert_array_equal(diff["b1"], 0)
    np.testing.assert_array_equal(diff["b2"], 0)


def test_digits_are_embedded_with_their_labels():
    X, y = nn.load_digits()
    assert X.shape == (1797, 64)
    assert y.shape == (1797,)
    assert X.min() == 0
    assert X.max() == 1
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    raw, _ = nn.load_digits(scaled=False)
    assert raw.max() == 16


def test_a_64_25_10_network_reaches_95_percent_on_digits():
    X, y = nn.load_digits()
    X_train, X_test, y_train, y_test = nn.train_test_split(X, y)
    net = nn.Network((64, 25, 10), lambda_=1.0)
    fit = net.fit(X_train, y_train, maxiter=400, rng=0, progress=False)
    accuracy = np.mean(net.predict(fit.params, X_test) == y_test)
    assert accuracy >= 0.95
    assert len(fit.history) >= 50
    assert fit.history[-1] < fit.history[0]
    assert fit.history[-1] == pytest.approx(fit.result.fun)


def test_cg_training_lowers_the_cost(rng):
    X, y = _data(rng, m=40)
    net = nn.Network((5, 6, 3), lambda_=0.1)
    p0 = net.init_params(0)
    fit = net.fit(X, y, method="CG", maxiter=30, params0=p0, progress=False)
    assert fit.result.fun < net.loss_and_grad(p0, X, y)[0]
    assert np.all(np.diff(fit.history) <= 1e-12)


def test_network_errors_name_the_argument(rng):
    with pytest.raises(ValueError, match="hidden must be one of"):
        nn.Network((2, 2), hidden="swish")
    with pytest.raises(ValueError, match="output must be one of"):
        nn.Network((2, 2), output="linear")
    with pytest.raises(ValueError, match="sizes must list"):
        nn.Network((2,))
    net = nn.Network((5, 4, 3))
    X, y = _data(rng)
    p = net.init_params(0)
    with pytest.raises(ValueError, match=r"params must have shape \(39,\)"):
        net.loss_and_grad(p[:-1], X, y)
    with pytest.raises(ValueError, match=r"X must have shape \(m, 5\)"):
        net.loss_and_grad(p, X[:, :4], y)
    with pytest.raises(ValueError, match=r"labels 0..2"):
        net.loss_and_grad(p, X, y + 1)
    with pytest.raises(ValueError, match="method must be"):
        net.fit(X, y, method="adam")
    with pytest.raises(ValueError, match="test_fraction"):
        nn.train_test_split(X, y, test_fraction=1.5)
