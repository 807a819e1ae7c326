"""The learner's port from the story that started this project, bug included.

``nnCost`` is the cost and gradient of the course's network written the way the learner ported
it to NumPy, in the learner's own argument order ``(nn_params, X, y, lambda_, input_layer_size,
hidden_layer_size, num_labels)`` (``nnCost_fixed`` has the sign put right;
``question_cost_function`` takes the course's order): row-major (``reshape``) unrolling, one-hot
labels by indexing an identity matrix, vectorised backprop — and one wrong sign in the
regularisation term,
``- (Σ Theta1[:, 0]² - Σ Theta2[:, 0]²)`` instead of ``- (Σ Theta1[:, 0]² + Σ Theta2[:, 0]²)``,
so that Theta2's bias column is regularised in the cost but not in the gradient.
``question_gradient_check`` is the learner's check: the course's loop, cost and gradient
computed on every call.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .ex4 import sigmoid, sigmoid_gradient


def nnCost(
    nn_params: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    lambda_: float,
    input_layer_size: int,
    hidden_layer_size: int,
    num_labels: int,
) -> tuple[float, np.ndarray]:
    """The learner's port as posted, in its own argument order: the question's bug included."""
    return _learners_port(
        nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, lambda_, sign=-1.0
    )


def nnCost_fixed(
    nn_params: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    lambda_: float,
    input_layer_size: int,
    hidden_layer_size: int,
    num_labels: int,
) -> tuple[float, np.ndarray]:
    """The learner's port with the sign put right: cost and gradient agree."""
    return _learners_port(
        nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, lambda_, sign=1.0
    )


def question_cost_function(
    nn_params: np.ndarray,
    input_layer_size: int,
    hidden_layer_size: int,
    num_labels: int,
    X: np.ndarray,
    y: np.ndarray,
    lambda_: float,
    *,
    bug: bool = True,
) -> tuple[float, np.ndarray]:
    """The learner's port in the course's argument order (``nnCostFunction``'s).

    With ``bug=False`` the sign is right and the gradient matches the cost.
    """
    return _learners_port(
        nn_params,
        input_layer_size,
        hidden_layer_size,
        num_labels,
        X,
        y,
        lambda_,
        sign=-1.0 if bug else 1.0,
    )


def _learners_port(
    nn_params: np.ndarray,
    input_layer_size: int,
    hidden_layer_size: int,
    num_labels: int,
    X: np.ndarray,
    y: np.ndarray,
    lambda_: float,
    sign: float,
) -> tuple[float, np.ndarray]:
    n1 = hidden_layer_size * (input_layer_size + 1)
    theta1 = nn_params[:n1].reshape(hidden_layer_size, input_layer_size + 1)
    theta2 = nn_params[n1:].reshape(num_labels, hidden_layer_size + 1)
    m = X.shape[0]
    a1 = np.hstack([np.ones((m, 1)), X])
    z2 = a1 @ theta1.T
    a2 = np.hstack([np.ones((m, 1)), sigmoid(z2)])
    h = sigmoid(a2 @ theta2.T)
    Y = np.eye(num_labels)[np.asarray(y).ravel().astype(int) - 1]
    J = np.sum(-Y * np.log(h) - (1 - Y) * np.log(1 - h)) / m
    # The question's line: − (ΣΘ1[:,0]² − ΣΘ2[:,0]²) where − (ΣΘ1[:,0]² + ΣΘ2[:,0]²) was meant.
    bias = np.sum(theta1[:, 0] ** 2) + sign * np.sum(theta2[:, 0] ** 2)
    J += lambda_ / (2 * m) * (np.sum(theta1**2) + np.sum(theta2**2) - bias)
    d3 = h - Y
    d2 = (d3 @ theta2[:, 1:]) * sigmoid_gradient(z2)
    g1 = d2.T @ a1 / m
    g2 = d3.T @ a2 / m
    g1[:, 1:] += lambda_ / m * theta1[:, 1:]
    g2[:, 1:] += lambda_ / m * theta2[:, 1:]
    return float(J), np.concatenate([g1.ravel(), g2.ravel()])


def question_gradient_check(cost_function: Any, theta: np.ndarray, e: float = 1e-4) -> np.ndarray:
    """The learner's loop: ``computeNumericalGradient``, with cost *and* gradient on every call."""
    numgrad = np.zeros_like(theta)
    perturb = np.zeros_like(theta)
    for p in range(theta.size):
        perturb[p] = e
        loss1, _ = cost_function(theta - perturb)
        loss2, _ = cost_function(theta + perturb)
        numgrad[p] = (loss2 - loss1) / (2 * e)
        perturb[p] = 0
    return numgrad
