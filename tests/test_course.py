"""The course's check for anyone's nnCostFunction: binding by name or position, κ in λ/m."""

import numpy as np
import pytest

import gradcheck
from gradcheck import course, ex4
from gradcheck.examples import nnCost, nnCost_fixed


def test_the_questions_code_unchanged_with_args_names_theta2s_bias_column():
    X, y = ex4.debug_initialize_weights(5, 2), 1 + np.arange(1, 6) % 3
    theta1, theta2 = ex4.debug_initialize_weights(5, 3), ex4.debug_initialize_weights(3, 5)
    nn_params = np.r_[theta1.ravel(), theta2.ravel()]  # the learner unrolls row-major
    report = gradcheck.check(
        nnCost, nn_params, args=(X, y, 3.0, 3, 5, 3), blocks={"Theta1": (5, 4), "Theta2": (3, 6)}
    )
    assert report.mismatched.tolist() == [20, 26, 32]
    d = report.diagnoses[0]
    assert (d.kind, d.block, d.factor) == ("regularization", "Theta2", pytest.approx(1.2))
    assert gradcheck.check(nnCost_fixed, nn_params, args=(X, y, 3.0, 3, 5, 3)).ok
    # keyword arguments work the same way
    kw = {"X": X, "y": y, "lambda_": 3.0, "input_layer_size": 3, "hidden_layer_size": 5}
    again = gradcheck.check(nnCost, nn_params, kwargs={**kw, "num_labels": 3})
    assert again.mismatched.tolist() == [20, 26, 32]


def test_binding_by_name_any_case_and_any_order():
    def mine(Lambda, num_labels, X, Y, hidden_layer_size, input_layer_size, NN_PARAMS):
        return ex4.nn_cost_function(
            NN_PARAMS, input_layer_size, hidden_layer_size, num_labels, X, Y, Lambda
        )

    binding = course.bind(mine)
    assert binding.by_name
    assert binding.names == {
        "nn_params": "NN_PARAMS",
        "input_layer_size": "input_layer_size",
        "hidden_layer_size": "hidden_layer_size",
        "num_labels": "num_labels",
        "X": "X",
        "y": "Y",
        "lambda": "Lambda",
    }
    assert course.check_course(mine).ok


def test_binding_falls_back_to_the_courses_order():
    def mine(p, a, b, c, data, labels, reg_strength):
        return ex4.nn_cost_function(p, a, b, c, data, labels, reg_strength)

    result = course.check_course(mine)
    assert not result.binding.by_name
    assert result.ok
    assert "in the course's order" in str(result)


def test_a_function_that_is_not_an_nn_cost_function_is_a_clear_error():
    with pytest.raises(TypeError, match=r"does not look like the course's nnCostFunction"):
        course.bind(lambda theta, X: 0.0)


@pytest.mark.parametrize(
    ("bug", "units", "words"),
    [
        ("bias regularised in the cost", 1, "your cost regularises Theta2's bias column"),
        ("bias regularised in the gradient", -1, "your gradient regularises Theta2's bias column"),
        ("question", 2, "your cost counts Theta2's bias column twice"),
    ],
)
def test_kappa_is_said_in_units_of_lambda_over_m(bug, units, words):
    def port(nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, lambda_):
        J, g = ex4.nn_cost_function(
            nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, lambda_
        )
        bias = np.arange(20, 23)  # Theta2(:, 1), column-major
        m = X.shape[0]
        if bug == "bias regularised in the gradient":
            g = g.copy()
            g[bias] += lambda_ / m * nn_params[bias]
        else:
            times = 2 if bug == "question" else 1
            J += times * lambda_ / (2 * m) * float(np.sum(nn_params[bias] ** 2))
        return J, g

    result = course.check_course(port, lambda_=2.0)
    assert result.reports[0].ok  # at λ = 0 every bug of the L2 term vanishes
    d = result.reports[1].diagnoses[0]
    assert d.kind == "regularization"
    assert d.factor == pytest.approx(units * 2.0 / 5, rel=1e-5)
    assert f"κ = {units}·λ/m: {words}" in d.message


# ----- every real port's conventions (written by us, the ways learners write them) -------------


def _forward_backward(Theta1, Theta2, X, Y, lambda_, reg_grad_bug=False):
    """A NumPy port with one-hot Y (m × K): J and the two gradients."""
    m = X.shape[0]
    a1 = np.hstack([np.ones((m, 1)), X])
    z2 = a1 @ Theta1.T
    a2 = np.hstack([np.ones((m, 1)), ex4.sigmoid(z2)])
    h = ex4.sigmoid(a2 @ Theta2.T)
    J = -np.sum(Y * np.log(h) + (1 - Y) * np.log(1 - h)) / m
    J += lambda_ / (2 * m) * (np.sum(Theta1[:, 1:] ** 2) + np.sum(Theta2[:, 1:] ** 2))
    d3 = h - Y
    d2 = (d3 @ Theta2[:, 1:]) * ex4.sigmoid_gradient(z2)
    g1, g2 = d2.T @ a1 / m, d3.T @ a2 / m
    g1[:, 1:] += (2 if reg_grad_bug else 1) * lambda_ / m * Theta1[:, 1:]  # the bug: 2λ/m
    g2[:, 1:] += lambda_ / m * Theta2[:, 1:]
    return J, g1, g2


def _thetas(nn_params, input_layer_size, hidden_layer_size, num_labels):
    cut = hidden_layer_size * (input_layer_size + 1)
    Theta1 = nn_params[:cut].reshape(hidden_layer_size, input_layer_size + 1, order="F")
    Theta2 = nn_params[cut:].reshape(num_labels, hidden_layer_size + 1, order="F")
    return Theta1, Theta2


def _unroll(g1, g2):
    return np.r_[g1.ravel(order="F"), g2.ravel(order="F")]


def zero_based(nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, lambda_):
    Theta1, Theta2 = _thetas(nn_params, input_layer_size, hidden_layer_size, num_labels)
    Y = np.eye(num_labels)[y]  # labels 0..K−1: 1..K raises at K
    J, g1, g2 = _forward_backward(Theta1, Theta2, X, Y, lambda_)
    return J, _unroll(g1, g2)


def one_hot(nn_params, input_layer_size, hidden_layer_size, num_labels, X, Y, lambda_):
    Theta1, Theta2 = _thetas(nn_params, input_layer_size, hidden_layer_size, num_labels)
    if Y.ndim != 2 or Y.shape[1] != num_labels:
        raise ValueError("Y must be one-hot, m × K")
    J, g1, g2 = _forward_backward(Theta1, Theta2, X, Y, lambda_)
    return J, _unroll(g1, g2)


def column(nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, lambda_):
    if y.ndim != 2:
        raise ValueError("y must be a column, m × 1")
    Theta1, Theta2 = _thetas(nn_params, input_layer_size, hidden_layer_size, num_labels)
    Y = (y == np.arange(1, num_labels + 1)).astype(float)
    J, g1, g2 = _forward_backward(Theta1, Theta2, X, Y, lambda_)
    return J, _unroll(g1, g2)


def separate_thetas(Theta1, Theta2, input_layer_size, hidden_layer_size, num_labels, X, y, lmbda):
    Y = np.eye(num_labels)[y - 1]
    return _forward_backward(Theta1, Theta2, X, Y, lmbda)  # J, Theta1_grad, Theta2_grad


def cost_only(nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, lambda_):
    Theta1, Theta2 = _thetas(nn_params, input_layer_size, hidden_layer_size, num_labels)
    return _forward_backward(Theta1, Theta2, X, np.eye(num_labels)[y - 1], lambda_)[0]


def grad_only(nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, lambda_):
    Theta1, Theta2 = _thetas(nn_params, input_layer_size, hidden_layer_size, num_labels)
    _, g1, g2 = _forward_backward(Theta1, Theta2, X, np.eye(num_labels)[y - 1], lambda_)
    return _unroll(g1, g2)


def reg_gradient_bug(nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, lambda_):
    Theta1, Theta2 = _thetas(nn_params, input_layer_size, hidden_layer_size, num_labels)
    J, g1, g2 = _forward_backward(
        Theta1, Theta2, X, np.eye(num_labels)[y - 1], lambda_, reg_grad_bug=True
    )
    return J, _unroll(g1, g2)


@pytest.mark.parametrize(
    ("fn", "labels"),
    [(zero_based, "0..K-1"), (one_hot, "onehot"), (column, "column")],
)
def test_label_conventions_are_found_and_said(fn, labels):
    result = course.check_course(fn)
    assert result.ok, str(result)
    assert any(f"labels passed as {labels}" in n for n in result.reports[0].notes)


def test_weights_as_two_arguments_with_three_return_values():
    result = course.check_course(separate_thetas)
    assert result.ok, str(result)
    assert result.binding.split
    assert "Theta1=Theta1, Theta2=Theta2" in result.binding.describe()


def test_a_cost_and_a_gradient_function_of_their_own():
    result = course.check_course(cost_only, grad=grad_only)
    assert result.ok, str(result)


def test_a_regularisation_gradient_bug_is_placed_in_the_regularisation_part():
    result = course.check_course(reg_gradient_bug)
    assert result.reports[0].ok  # λ = 0 passes
    report = result.reports[1]
    assert not report.ok
    assert sorted(report.mismatched) == sorted(report.layout.indices("Theta1")[5:])  # Theta1[:, 1:]
    d = report.diagnoses[0]
    assert "regularisation" in d.message or "λ/m" in d.message


def test_a_partial_name_match_never_falls_back_silently():
    def mine(nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, lambda_val, extra):
        return ex4.nn_cost_function(
            nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, lambda_val
        )

    with pytest.raises(TypeError, match="bound by name so far: nn_params=nn_params"):
        course.bind(mine)

    def one_left(nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, lambda_val):
        return mine(nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, lambda_val, 0)

    binding = course.bind(one_left)
    assert binding.names["lambda"] == "lambda_val"
    assert "lambda_val is the one parameter left, taken as lambda" in binding.describe()


def test_plain_check_states_kappa_in_units_of_lambda_over_m_when_it_can():
    X, y = ex4.debug_initialize_weights(5, 2), 1 + np.arange(1, 6) % 3
    theta1, theta2 = ex4.debug_initialize_weights(5, 3), ex4.debug_initialize_weights(3, 5)
    nn_params = np.r_[theta1.ravel(), theta2.ravel()]
    blocks = {"Theta1": (5, 4), "Theta2": (3, 6)}
    report = gradcheck.check(nnCost, nn_params, args=(X, y, 3.0, 3, 5, 3), blocks=blocks)
    assert "With λ = 3 and m = 5, κ = 2·λ/m" in report.diagnoses[0].message  # λ and X found
    unnamed = gradcheck.check(  # a function whose parameters are not the course's: no λ/m
        lambda p, a, b, c, d, e, g: nnCost(p, a, b, c, d, e, g),
        nn_params,
        args=(X, y, 3.0, 3, 5, 3),
        blocks=blocks,
    )
    assert "λ/m" not in unnamed.diagnoses[0].message
