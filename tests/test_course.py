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
