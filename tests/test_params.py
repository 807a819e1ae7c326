"""Parameters as dicts: deeplearning.ai's ``parameters``/``gradients`` (``dW1`` for ``W1``) and
CS231n's ``net.params`` + ``net.loss`` — in code written the learners' way, by us."""

import numpy as np
import pytest

import gradcheck

RNG = np.random.default_rng(7)


# ----- deeplearning.ai, "Gradient Checking": a 3-layer network, columns are examples ----------


def _relu(z):
    return np.maximum(0, z)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def dls_data():
    X = RNG.standard_normal((4, 3))
    Y = np.array([[1, 0, 1]])
    parameters = {
        "W1": RNG.standard_normal((5, 4)), "b1": RNG.standard_normal((5, 1)),
        "W2": RNG.standard_normal((3, 5)), "b2": RNG.standard_normal((3, 1)),
        "W3": RNG.standard_normal((1, 3)), "b3": RNG.standard_normal((1, 1)),
    }  # fmt: skip
    return X, Y, parameters


def forward_propagation_n(X, Y, parameters):
    m = X.shape[1]
    Z1 = parameters["W1"] @ X + parameters["b1"]
    A1 = _relu(Z1)
    Z2 = parameters["W2"] @ A1 + parameters["b2"]
    A2 = _relu(Z2)
    Z3 = parameters["W3"] @ A2 + parameters["b3"]
    A3 = _sigmoid(Z3)
    cost = float(np.sum(-np.log(A3) * Y - np.log(1 - A3) * (1 - Y)) / m)
    return cost, (Z1, A1, Z2, A2, Z3, A3)


def backward_propagation_n(X, Y, parameters, cache, planted=False):
    m = X.shape[1]
    _, A1, _, A2, _, A3 = cache
    dZ3 = A3 - Y
    dW3 = dZ3 @ A2.T / m
    db3 = np.sum(dZ3, axis=1, keepdims=True) / m
    dA2 = parameters["W3"].T @ dZ3
    dZ2 = dA2 * (A2 > 0)
    dW2 = dZ2 @ A1.T / m * (2 if planted else 1)  # the course's first planted bug
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m
    dA1 = parameters["W2"].T @ dZ2
    dZ1 = dA1 * (A1 > 0)
    dW1 = dZ1 @ X.T / m
    db1 = (4 if planted else 1) * np.sum(dZ1, axis=1, keepdims=True) / m  # the second
    return {"dZ3": dZ3, "dW3": dW3, "db3": db3, "dA2": dA2, "dZ2": dZ2, "dW2": dW2,
            "db2": db2, "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}  # fmt: skip


def _dls_cost(X, Y, planted):
    def cost(parameters):
        value, cache = forward_propagation_n(X, Y, parameters)
        return value, backward_propagation_n(X, Y, parameters, cache, planted)

    return cost


def test_deeplearning_ai_dicts_pass_in_one_line():
    X, Y, parameters = dls_data()
    report = gradcheck.check(_dls_cost(X, Y, planted=False), parameters)
    assert report.ok, str(report)
    assert list(report.layout.blocks) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert any("match no parameter" in n and "dZ3" in n for n in report.notes)  # the caches


def test_deeplearning_ai_planted_bugs_are_named_with_their_factors():
    X, Y, parameters = dls_data()
    report = gradcheck.check(_dls_cost(X, Y, planted=True), parameters)
    assert not report.ok
    found = {(d.kind, d.block): d.factor for d in report.diagnoses if d.severity == "fail"}
    assert found.keys() == {("scale", "W2"), ("scale", "b1")}
    assert found[("scale", "W2")] == pytest.approx(2.0, rel=1e-6)
    assert found[("scale", "b1")] == pytest.approx(4.0, rel=1e-6)


def test_the_callers_parameters_are_never_modified():
    X, Y, parameters = dls_data()
    before = {k: v.copy() for k, v in parameters.items()}
    gradcheck.check(_dls_cost(X, Y, planted=False), parameters)
    assert all(np.array_equal(parameters[k], before[k]) for k in before)


# ----- CS231n: TwoLayerNet, net.params and net.loss(X, y) -> (loss, grads) -----------------------


class TwoLayerNet:
    def __init__(self, input_dim, hidden_dim, num_classes, reg, forget_reg_in_W2=False):
        rng = np.random.default_rng(0)
        self.params = {
            "W1": 1e-1 * rng.standard_normal((input_dim, hidden_dim)),
            "b1": np.zeros(hidden_dim),
            "W2": 1e-1 * rng.standard_normal((hidden_dim, num_classes)),
            "b2": np.zeros(num_classes),
        }
        self.reg, self.forget = reg, forget_reg_in_W2

    def loss(self, X, y):
        W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
        h = np.maximum(0, X @ W1 + b1)
        scores = h @ W2 + b2
        scores = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
        n = X.shape[0]
        loss = -np.log(probs[np.arange(n), y]).mean()
        loss += 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        dscores = probs.copy()
        dscores[np.arange(n), y] -= 1
        dscores /= n
        grads = {"W2": h.T @ dscores, "b2": dscores.sum(axis=0)}
        if not self.forget:
            grads["W2"] += self.reg * W2
        dh = dscores @ W2.T
        dh[h <= 0] = 0
        grads["W1"] = X.T @ dh + self.reg * W1
        grads["b1"] = dh.sum(axis=0)
        return loss, grads


def _net_data():
    rng = np.random.default_rng(1)
    return rng.standard_normal((6, 5)), rng.integers(0, 3, 6)


def test_check_model_on_a_cs231n_two_layer_net():
    X, y = _net_data()
    net = TwoLayerNet(5, 7, 3, reg=0.3)
    before = {k: v.copy() for k, v in net.params.items()}
    report = gradcheck.check_model(net, X, y)
    assert report.ok, str(report)
    assert all(np.array_equal(net.params[k], before[k]) for k in before)  # put back


def test_check_model_names_a_regularisation_left_out_of_one_gradient():
    X, y = _net_data()
    report = gradcheck.check_model(TwoLayerNet(5, 7, 3, reg=0.3, forget_reg_in_W2=True), X, y)
    assert not report.ok
    d = report.diagnoses[0]
    assert (d.kind, d.block) == ("regularization", "W2")
    assert d.factor == pytest.approx(0.3, rel=1e-4)


def test_any_hashable_key_and_a_clear_error_for_a_missing_gradient():
    params = {("W", 0): RNG.standard_normal((2, 3)), ("W", 1): RNG.standard_normal(3)}

    def f(p):
        a, b = p[("W", 0)], p[("W", 1)]
        return float(np.sum(a**2) + np.sum(b**3)), {("W", 0): 2 * a, ("W", 1): 3 * b**2}

    report = gradcheck.check(f, params)
    assert report.ok, str(report)
    assert list(report.layout.blocks) == ["W/0", "W/1"]
    with pytest.raises(ValueError, match=r"no entry for the parameter \('W', 1\)"):
        gradcheck.check(lambda p: (f(p)[0], {("W", 0): 2 * p[("W", 0)]}), params)


# ----- CS231n's linear SVM with a gradient buffer reused between calls ---------------------------

_DW = np.zeros((4, 3))  # the learner's module-level buffer


def svm_loss_reused_buffer(W, X, y, reg, zero_it=True):
    """svm_loss_naive written with one gradient array kept between calls; forgetting to zero
    it makes every call add to the last one's gradient."""
    dW = _DW
    if zero_it:
        dW[:] = 0.0
    loss = 0.0
    for i in range(X.shape[0]):
        scores = X[i] @ W
        for j in range(W.shape[1]):
            if j == y[i]:
                continue
            margin = scores[j] - scores[y[i]] + 1
            if margin > 0:
                loss += margin
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
    n = X.shape[0]
    dW /= n if zero_it else 1.0
    loss = loss / n + reg * np.sum(W * W)
    dW += 2 * reg * W if zero_it else 0.0
    return loss, dW


def test_a_reused_gradient_buffer_that_is_zeroed_passes_and_one_that_is_not_is_stateful():
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((5, 4)), rng.integers(0, 3, 5)
    W = 0.01 * rng.standard_normal((4, 3))

    def right(w):
        loss, dW = svm_loss_reused_buffer(w.reshape(4, 3), X, y, 0.1)
        return loss, dW.ravel()  # a view of the buffer: gradcheck copies it as it arrives

    report = gradcheck.check(right, W.ravel(), blocks={"W": (4, 3)})
    assert report.ok, str(report)

    def accumulating(w):
        loss, dW = svm_loss_reused_buffer(w.reshape(4, 3), X, y, 0.1, zero_it=False)
        return loss, dW.ravel()

    report = gradcheck.check(accumulating, W.ravel(), blocks={"W": (4, 3)})
    assert not report.ok
    assert report.diagnoses[0].kind == "stateful"
