"""MATLAB-compatible port of the Coursera Machine Learning exercise 4 (neural network learning).

Same function names (in snake_case), same argument order and the same conventions as the
course's Octave/MATLAB code, so that a learner can port line by line and compare numbers:

- parameters are unrolled column-major, ``nn_params = [Theta1(:); Theta2(:)]``;
- ``Theta1`` is ``hidden × (input + 1)``, ``Theta2`` is ``labels × (hidden + 1)``, bias in column 0;
- labels are ``1..K`` (the course maps the digit 0 to label 10);
- everything is float64.

The course's own numbers, reproduced by the tests of this module:

- ``check_nn_gradients()`` — cost 2.1009505699024653 at the debug parameters (λ = 0) and
  2.1463598150243586 (λ = 3); relative difference about 2e-11.
- With the course's ``ex4weights.mat`` and ``ex4data1.mat`` (5,000 digits, not shipped with this
  package; :func:`load_data` reads it when you have it) the course reports costs 0.287629
  (λ = 0), 0.383770 (λ = 1) and 0.576051 (λ = 3).

Examples
--------
>>> from gradcheck import ex4
>>> round(float(ex4.sigmoid_gradient(0.0)), 6)
0.25
>>> float(ex4.debug_initialize_weights(5, 3)[0, 1])   # sin(6) / 10, filled column-major
-0.027941549819892587
>>> result = ex4.check_nn_gradients()
>>> result.relative_difference < 1e-9
True
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from typing import Any

import numpy as np

from .differences import numerical_gradient
from .layout import Layout, Order

__all__ = [
    "NNGradientCheck",
    "check_nn_gradients",
    "compute_numerical_gradient",
    "debug_initialize_weights",
    "debug_problem",
    "load_data",
    "load_weights",
    "nn_cost_function",
    "predict",
    "rand_initialize_weights",
    "sigmoid",
    "sigmoid_gradient",
    "unroll",
]


def sigmoid(z: Any) -> np.ndarray:
    """Logistic function ``1 ./ (1 + exp(-z))``, exactly as the course writes it."""
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))


def sigmoid_gradient(z: Any) -> np.ndarray:
    """Derivative of the sigmoid, ``g .* (1 - g)`` with ``g = sigmoid(z)``."""
    g = sigmoid(z)
    return g * (1.0 - g)


def debug_initialize_weights(fan_out: int, fan_in: int) -> np.ndarray:
    """Deterministic weights of shape ``(fan_out, 1 + fan_in)`` for gradient checks.

    MATLAB: ``reshape(sin(1:numel(W)), size(W)) / 10`` — filled column-major.
    """
    shape = (int(fan_out), 1 + int(fan_in))
    return np.sin(np.arange(1, shape[0] * shape[1] + 1)).reshape(shape, order="F") / 10


# checkNNGradients' network: 3 inputs, 5 hidden units, 3 labels, m = 5 examples.
DEBUG_SIZES = {"input_layer_size": 3, "hidden_layer_size": 5, "num_labels": 3}
DEBUG_M = 5


def debug_problem(order: Order = "F") -> tuple[np.ndarray, np.ndarray, np.ndarray, Layout]:
    """``checkNNGradients``' problem: the debug parameters unrolled in ``order`` ('F' is the
    course's ``[Theta1(:); Theta2(:)]``), ``X = debug_initialize_weights(5, 2)``,
    ``y = 1 + mod(1:5, 3)``, and the layout of the parameters.

    >>> params, X, y, layout = debug_problem()
    >>> params.size, X.shape, y.tolist(), layout.names
    (38, (5, 3), [2, 3, 1, 2, 3], ('Theta1', 'Theta2'))
    """
    sizes = DEBUG_SIZES
    theta1 = debug_initialize_weights(sizes["hidden_layer_size"], sizes["input_layer_size"])
    theta2 = debug_initialize_weights(sizes["num_labels"], sizes["hidden_layer_size"])
    X = debug_initialize_weights(DEBUG_M, sizes["input_layer_size"] - 1)
    y = 1 + np.arange(1, DEBUG_M + 1) % sizes["num_labels"]
    layout = Layout({"Theta1": theta1.shape, "Theta2": theta2.shape}, order=order)
    return layout.pack({"Theta1": theta1, "Theta2": theta2}), X, y, layout


def rand_initialize_weights(
    L_in: int, L_out: int, rng: np.random.Generator | int | None = None
) -> np.ndarray:
    """Random weights of shape ``(L_out, 1 + L_in)``, uniform in ``[-0.12, 0.12]``.

    ``rng`` is a ``numpy.random.Generator`` or a seed; None means seed 0, so that the result is
    reproducible unless you ask otherwise.
    """
    epsilon_init = 0.12
    rng = np.random.default_rng(0 if rng is None else rng)
    return rng.random((int(L_out), 1 + int(L_in))) * 2 * epsilon_init - epsilon_init


def unroll(*thetas: np.ndarray) -> np.ndarray:
    """``[Theta1(:); Theta2(:); ...]``: concatenate matrices unrolled column-major."""
    return np.concatenate([np.asarray(t, dtype=float).ravel(order="F") for t in thetas])


def _reshape_params(
    nn_params: Any, input_layer_size: int, hidden_layer_size: int, num_labels: int
) -> tuple[np.ndarray, np.ndarray]:
    nn_params = np.asarray(nn_params, dtype=float)
    if nn_params.ndim == 2 and 1 in nn_params.shape:
        nn_params = nn_params.ravel()  # a MATLAB column vector (n, 1)
    n1 = hidden_layer_size * (input_layer_size + 1)
    n2 = num_labels * (hidden_layer_size + 1)
    if nn_params.ndim != 1 or nn_params.size != n1 + n2:
        raise ValueError(
            f"nn_params must hold {n1 + n2} values for sizes input={input_layer_size}, "
            f"hidden={hidden_layer_size}, labels={num_labels} "
            f"({hidden_layer_size}×{input_layer_size + 1} Theta1 + "
            f"{num_labels}×{hidden_layer_size + 1} Theta2), got shape {nn_params.shape}."
        )
    theta1 = nn_params[:n1].reshape((hidden_layer_size, input_layer_size + 1), order="F")
    theta2 = nn_params[n1:].reshape((num_labels, hidden_layer_size + 1), order="F")
    return theta1, theta2


def _validate_data(
    X: Any, y: Any, input_layer_size: int, num_labels: int
) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != input_layer_size:
        raise ValueError(
            f"X must be a 2-D array of shape (m, input_layer_size={input_layer_size}), "
            f"got shape {X.shape}."
        )
    y_arr = np.asarray(y)
    if y_arr.ndim == 2 and y_arr.shape[1] == 1:
        y_arr = y_arr[:, 0]  # the course's y is an m×1 column
    if y_arr.ndim != 1 or y_arr.shape[0] != X.shape[0]:
        raise ValueError(
            f"y must hold one label per row of X: expected shape ({X.shape[0]},) or "
            f"({X.shape[0]}, 1), got {np.shape(y)}."
        )
    labels = y_arr.astype(float)
    bad = (labels != np.round(labels)) | (labels < 1) | (labels > num_labels)
    if np.any(bad):
        first = np.flatnonzero(bad)[:5]
        raise ValueError(
            f"y must hold integer labels 1..{num_labels} (the course's convention: digit 0 is "
            f"label 10); got {y_arr[first].tolist()} at rows {first.tolist()}."
        )
    return X, labels.astype(np.intp)


def nn_cost_function(
    nn_params: Any,
    input_layer_size: int,
    hidden_layer_size: int,
    num_labels: int,
    X: Any,
    y: Any,
    lambda_: float,
) -> tuple[float, np.ndarray]:
    """Cost and gradient of the course's two-layer sigmoid network (``nnCostFunction``).

    Parameters
    ----------
    nn_params : array of shape (n,)
        ``[Theta1(:); Theta2(:)]``, unrolled column-major, with
        ``n = hidden*(input+1) + labels*(hidden+1)``.
    input_layer_size, hidden_layer_size, num_labels : int
        Layer sizes.
    X : array of shape (m, input_layer_size)
        One example per row.
    y : array of shape (m,) or (m, 1)
        Labels ``1..num_labels``.
    lambda_ : float
        Regularisation strength; the bias columns are not regularised.

    Returns
    -------
    J : float
        ``(1/m) Σ Σ [−Y log h − (1−Y) log(1−h)] + λ/(2m) (Σ Θ1[:,1:]² + Σ Θ2[:,1:]²)``.
    grad : array of shape (n,)
        Its gradient by backpropagation, unrolled like ``nn_params``.

    Raises
    ------
    ValueError
        If ``nn_params`` has the wrong length for the sizes, ``X`` the wrong number of columns,
        or ``y`` labels outside ``1..num_labels``.

    Notes
    -----
    The labels are one-hot encoded by indexing an identity matrix (MATLAB's ``eye(K)(y,:)``),
    so a class absent from ``y`` still has its column (``pandas.get_dummies`` would silently
    drop it and shift every later class).

    Examples
    --------
    >>> X = debug_initialize_weights(5, 2)
    >>> y = 1 + np.arange(1, 6) % 3
    >>> p = unroll(debug_initialize_weights(5, 3), debug_initialize_weights(3, 5))
    >>> J, grad = nn_cost_function(p, 3, 5, 3, X, y, 0.0)
    >>> round(J, 10), grad.shape
    (2.1009505699, (38,))
    """
    theta1, theta2 = _reshape_params(nn_params, input_layer_size, hidden_layer_size, num_labels)
    X, labels = _validate_data(X, y, input_layer_size, num_labels)
    m = X.shape[0]

    a1 = np.hstack([np.ones((m, 1)), X])
    z2 = a1 @ theta1.T
    a2 = np.hstack([np.ones((m, 1)), sigmoid(z2)])
    h = sigmoid(a2 @ theta2.T)
    Y = np.eye(num_labels)[labels - 1]

    J = np.sum(-Y * np.log(h) - (1 - Y) * np.log(1 - h)) / m
    J += lambda_ / (2 * m) * (np.sum(theta1[:, 1:] ** 2) + np.sum(theta2[:, 1:] ** 2))

    d3 = h - Y
    d2 = (d3 @ theta2[:, 1:]) * sigmoid_gradient(z2)
    theta1_grad = d2.T @ a1 / m
    theta2_grad = d3.T @ a2 / m
    theta1_grad[:, 1:] += lambda_ / m * theta1[:, 1:]
    theta2_grad[:, 1:] += lambda_ / m * theta2[:, 1:]
    return float(J), unroll(theta1_grad, theta2_grad)


def compute_numerical_gradient(J: Any, theta: Any) -> np.ndarray:
    """The course's ``computeNumericalGradient``: central differences with ``e = 1e-4``.

    ``J(theta)`` may return the cost or ``(cost, grad)``. Same numbers as the course's loop,
    bit for bit; see :func:`gradcheck.numerical_gradient`.
    """
    return numerical_gradient(J, theta, method="central", step=1e-4)


@dataclass(frozen=True)
class NNGradientCheck:
    """Result of :func:`check_nn_gradients`: the course's two columns and their difference."""

    numgrad: np.ndarray
    grad: np.ndarray
    relative_difference: float
    cost: float

    def __str__(self) -> str:
        rows = "\n".join(
            f"  {n: .6e}  {a: .6e}" for n, a in zip(self.numgrad, self.grad, strict=True)
        )
        return (
            f"{rows}\n"
            "The above two columns you get should be very similar.\n"
            "(Left-Your Numerical Gradient, Right-Analytical Gradient)\n\n"
            "If your backpropagation implementation is correct, then \n"
            "the relative difference will be small (less than 1e-9). \n\n"
            f"Relative Difference: {self.relative_difference:g}"
        )


def check_nn_gradients(
    lambda_: float = 0.0, *, verbose: bool = False, cost_function: Any = None
) -> NNGradientCheck:
    """The course's ``checkNNGradients``: a small network, numeric vs backprop gradient.

    Input 3, hidden 5, 3 labels, m = 5, ``X = debug_initialize_weights(5, 2)``,
    ``y = 1 + mod(1:5, 3)``, parameters from :func:`debug_initialize_weights`.

    Parameters
    ----------
    lambda_ : float, default 0
        Regularisation strength.
    verbose : bool, default False
        Print the course's two columns and the relative difference.
    cost_function : callable, optional
        A function with :func:`nn_cost_function`'s signature to check instead of ours (your own
        port, say).

    Returns
    -------
    NNGradientCheck
        ``numgrad``, ``grad``, ``relative_difference`` (``norm(n−a)/norm(n+a)``) and ``cost``.
    """
    cost_function = nn_cost_function if cost_function is None else cost_function
    nn_params, X, y, _ = debug_problem("F")
    sizes = DEBUG_SIZES

    def cost_func(p: np.ndarray) -> tuple[float, np.ndarray]:
        return cost_function(
            p,
            sizes["input_layer_size"],
            sizes["hidden_layer_size"],
            sizes["num_labels"],
            X,
            y,
            lambda_,
        )

    cost, grad = cost_func(nn_params)
    grad = np.asarray(grad, dtype=float).ravel()
    numgrad = compute_numerical_gradient(cost_func, nn_params)
    diff = float(np.linalg.norm(numgrad - grad) / np.linalg.norm(numgrad + grad))
    result = NNGradientCheck(numgrad=numgrad, grad=grad, relative_difference=diff, cost=float(cost))
    if verbose:
        print(result)
    return result


def predict(Theta1: Any, Theta2: Any, X: Any) -> np.ndarray:
    """Predicted labels ``1..K`` for each row of ``X`` (the course's ``predict``)."""
    Theta1 = np.asarray(Theta1, dtype=float)
    Theta2 = np.asarray(Theta2, dtype=float)
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] + 1 != Theta1.shape[1]:
        raise ValueError(
            f"X must have shape (m, {Theta1.shape[1] - 1}) to match Theta1 {Theta1.shape}, "
            f"got {X.shape}."
        )
    if Theta2.shape[1] != Theta1.shape[0] + 1:
        raise ValueError(
            f"Theta2 must have {Theta1.shape[0] + 1} columns to follow Theta1 {Theta1.shape}, "
            f"got shape {Theta2.shape}."
        )
    m = X.shape[0]
    h1 = sigmoid(np.hstack([np.ones((m, 1)), X]) @ Theta1.T)
    h2 = sigmoid(np.hstack([np.ones((m, 1)), h1]) @ Theta2.T)
    return np.argmax(h2, axis=1) + 1


def _load_mat(path: str | PathLike[str], keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    from scipy.io import loadmat

    data = loadmat(path)
    missing = [k for k in keys if k not in data]
    if missing:
        found = sorted(k for k in data if not k.startswith("__"))
        raise ValueError(
            f"{path} has no variable(s) {missing}: expected {list(keys)}, found {found}."
        )
    return {k: data[k] for k in keys}


def load_weights(path: str | PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """``Theta1`` and ``Theta2`` from the course's ``ex4weights.mat``, as float64."""
    d = _load_mat(path, ("Theta1", "Theta2"))
    return d["Theta1"].astype(float), d["Theta2"].astype(float)


def load_data(path: str | PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """``X`` (m × 400, float64) and ``y`` (m,, labels 1..10) from the course's ``ex4data1.mat``."""
    d = _load_mat(path, ("X", "y"))
    return d["X"].astype(float), d["y"].ravel().astype(np.intp)
