"""A fully connected network of any depth, with backprop written by hand and checked by gradcheck."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize, special

from ..layout import Layout, Order


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return special.expit(z)


def _sigmoid_prime(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    return a * (1 - a)


def _tanh_prime(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    return 1 - a**2


def _relu_prime(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    return (z > 0).astype(z.dtype)


# name → (activation, derivative given (z, activation(z)))
ACTIVATIONS: dict[
    str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray, np.ndarray], np.ndarray]]
] = {
    "sigmoid": (_sigmoid, _sigmoid_prime),
    "tanh": (np.tanh, _tanh_prime),
    "relu": (lambda z: np.maximum(z, 0.0), _relu_prime),
}


def _sigmoid_loss(z: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
    # Per-class cross-entropy (the course's cost), computed stably from the logits:
    # −log σ(z) = logaddexp(0, −z), −log(1 − σ(z)) = logaddexp(0, z).
    loss = np.sum(Y * np.logaddexp(0, -z) + (1 - Y) * np.logaddexp(0, z))
    return float(loss), special.expit(z) - Y


def _softmax_loss(z: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
    log_p = special.log_softmax(z, axis=1)
    return float(-np.sum(Y * log_p)), np.exp(log_p) - Y


# name → loss(logits, one-hot) returning (summed loss, d loss / d logits)
OUTPUTS: dict[str, Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]] = {
    "sigmoid": _sigmoid_loss,
    "softmax": _softmax_loss,
}

NAMINGS = ("wb", "theta")


@dataclass(frozen=True)
class FitResult:
    """What :meth:`Network.fit` returns: the parameters, the cost per iteration, SciPy's result."""

    params: np.ndarray
    history: list[float]
    result: optimize.OptimizeResult


@dataclass(frozen=True)
class Network:
    """A fully connected classifier: any number of layers, L2 penalty on weights, not biases.

    Parameters
    ----------
    sizes : sequence of int
        Layer sizes from input to output, e.g. ``(64, 25, 10)``.
    hidden : {'sigmoid', 'tanh', 'relu'}, default 'sigmoid'
        Activation of the hidden layers.
    output : {'sigmoid', 'softmax'}, default 'sigmoid'
        ``'sigmoid'``: independent sigmoids with per-class cross-entropy (the course's cost);
        ``'softmax'``: softmax with cross-entropy.
    lambda_ : float, default 0
        L2 strength: the cost gets ``λ/(2m)·Σ W²`` over the weights (biases excluded).
    order : {'C', 'F'}, default 'C'
        How each block is unrolled into the flat parameter vector.
    naming : {'wb', 'theta'}, default 'wb'
        ``'wb'``: blocks ``W1`` (out × in), ``b1`` (out,), …; ``'theta'``: the course's
        ``Theta1`` (out × (in + 1)) with the bias in column 0.

    Labels are integers ``0..K-1`` (the scikit-learn convention; :mod:`gradcheck.ex4` keeps the
    course's ``1..K``).

    Examples
    --------
    >>> net = Network((4, 3, 2), lambda_=0.1)
    >>> net.layout.names
    ('W1', 'b1', 'W2', 'b2')
    >>> params = net.init_params(np.random.default_rng(0))
    >>> X, y = np.ones((5, 4)), np.array([0, 1, 0, 1, 1])
    >>> J, grad = net.loss_and_grad(params, X, y)
    >>> grad.shape == params.shape
    True
    """

    sizes: tuple[int, ...]
    hidden: str = "sigmoid"
    output: str = "sigmoid"
    lambda_: float = 0.0
    order: Order = "C"
    naming: str = "wb"
    layout: Layout = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        sizes, layout = _validated(self)
        object.__setattr__(self, "sizes", sizes)
        object.__setattr__(self, "layout", layout)

    @property
    def n_params(self) -> int:
        return self.layout.size

    def _weights(self, params: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        blocks = self.layout.unpack(params)
        layers = []
        for k in range(1, len(self.sizes)):
            if self.naming == "theta":
                theta = blocks[f"Theta{k}"]
                layers.append((theta[:, 1:], theta[:, 0]))
            else:
                layers.append((blocks[f"W{k}"], blocks[f"b{k}"]))
        return layers

    def _pack(self, grads: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        arrays = {}
        for k, (gw, gb) in enumerate(grads, start=1):
            if self.naming == "theta":
                arrays[f"Theta{k}"] = np.hstack([gb[:, None], gw])
            else:
                arrays[f"W{k}"], arrays[f"b{k}"] = gw, gb
        return self.layout.pack(arrays)

    def init_params(self, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """Weights uniform in ±√(6/(fan_in + fan_out)) (Glorot; the course's ε_init), biases 0."""
        rng = np.random.default_rng(0 if rng is None else rng)
        grads = []
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:], strict=True):
            eps = np.sqrt(6.0 / (n_in + n_out))
            grads.append((rng.uniform(-eps, eps, size=(n_out, n_in)), np.zeros(n_out)))
        return self._pack(grads)

    def _check_params(self, params: Any) -> np.ndarray:
        params = np.asarray(params, dtype=float)
        if params.shape != (self.n_params,):
            raise ValueError(
                f"params must have shape ({self.n_params},) for sizes {self.sizes} "
                f"({dict(self.layout.blocks)}), got {params.shape}."
            )
        return params

    def _check_data(self, X: Any, y: Any = None) -> tuple[np.ndarray, np.ndarray | None]:
        return _data(self.sizes, X, y)

    def _forward(
        self, layers: list[tuple[np.ndarray, np.ndarray]], X: np.ndarray
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        act = ACTIVATIONS[self.hidden][0]
        a, zs, acts = X, [], [X]
        for k, (W, b) in enumerate(layers):
            z = a @ W.T + b
            zs.append(z)
            if k < len(layers) - 1:
                a = act(z)
                acts.append(a)
        return zs, acts

    def loss_and_grad(self, params: Any, X: Any, y: Any) -> tuple[float, np.ndarray]:
        """Cost and gradient (by backpropagation) at ``params`` on data ``X``, ``y``.

        Returns ``(J, grad)`` with ``J = (1/m)·Σ loss + λ/(2m)·Σ W²``; ``grad`` is unrolled like
        ``params``.
        """
        params = self._check_params(params)
        X, y = self._check_data(X, y)
        m = X.shape[0]
        layers = self._weights(params)
        zs, acts = self._forward(layers, X)
        Y = np.eye(self.sizes[-1])[y]
        loss, delta = OUTPUTS[self.output](zs[-1], Y)
        J = loss / m + self.lambda_ / (2 * m) * sum(float(np.sum(W**2)) for W, _ in layers)
        delta = delta / m
        derivative = ACTIVATIONS[self.hidden][1]
        grads = []
        for k in range(len(layers) - 1, -1, -1):
            W, _ = layers[k]
            grads.append((delta.T @ acts[k] + self.lambda_ / m * W, delta.sum(axis=0)))
            if k:
                delta = (delta @ W) * derivative(zs[k - 1], acts[k])
        return float(J), self._pack(grads[::-1])

    def predict_proba(self, params: Any, X: Any) -> np.ndarray:
        """Output activations (sigmoid or softmax) for each row of ``X``."""
        zs, _ = self._forward(self._weights(self._check_params(params)), self._check_data(X)[0])
        return (
            special.softmax(zs[-1], axis=1) if self.output == "softmax" else special.expit(zs[-1])
        )

    def predict(self, params: Any, X: Any) -> np.ndarray:
        """Predicted labels ``0..K-1``."""
        return np.argmax(self.predict_proba(params, X), axis=1)

    def fit(
        self,
        X: Any,
        y: Any,
        *,
        params0: Any = None,
        method: str = "L-BFGS-B",
        maxiter: int = 400,
        rng: np.random.Generator | int | None = None,
        progress: bool | None = None,
    ) -> FitResult:
        """Train with ``scipy.optimize.minimize`` (L-BFGS-B or CG) from ``params0`` or a fresh init.

        ``progress`` shows a bar with the current cost (None: only on a terminal).
        """
        if method not in ("L-BFGS-B", "CG"):
            raise ValueError(f"method must be 'L-BFGS-B' or 'CG', got {method!r}.")
        if int(maxiter) < 1:
            raise ValueError(f"maxiter must be a positive integer, got {maxiter!r}.")
        X, y = self._check_data(X, y)
        p0 = self.init_params(rng) if params0 is None else self._check_params(params0).copy()
        return _train(self.loss_and_grad, p0, X, y, method, int(maxiter), progress)


def _validated(net: Network) -> tuple[tuple[int, ...], Layout]:
    """The network's sizes as ints and its layout, once every option is checked."""
    sizes = tuple(int(s) for s in net.sizes)
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(
            f"sizes must list at least an input and an output size, all ≥ 1, got {net.sizes!r}."
        )
    if net.hidden not in ACTIVATIONS:
        raise ValueError(f"hidden must be one of {sorted(ACTIVATIONS)}, got {net.hidden!r}.")
    if net.output not in OUTPUTS:
        raise ValueError(f"output must be one of {sorted(OUTPUTS)}, got {net.output!r}.")
    if net.naming not in NAMINGS:
        raise ValueError(f"naming must be one of {NAMINGS}, got {net.naming!r}.")
    if not net.lambda_ >= 0:
        raise ValueError(f"lambda_ must be ≥ 0, got {net.lambda_!r}.")
    blocks: dict[str, tuple[int, ...]] = {}
    for k, (n_in, n_out) in enumerate(itertools.pairwise(sizes), start=1):
        if net.naming == "theta":
            blocks[f"Theta{k}"] = (n_out, n_in + 1)
        else:
            blocks[f"W{k}"] = (n_out, n_in)
            blocks[f"b{k}"] = (n_out,)
    return sizes, Layout(blocks, order=net.order)


def _data(sizes: tuple[int, ...], X: Any, y: Any = None) -> tuple[np.ndarray, np.ndarray | None]:
    """X (m × inputs) and y (m integer labels 0..K-1) as arrays, checked."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != sizes[0]:
        raise ValueError(f"X must have shape (m, {sizes[0]}), got {X.shape}.")
    if y is None:
        return X, None
    y = np.asarray(y)
    k = sizes[-1]
    if y.shape != (X.shape[0],):
        raise ValueError(
            f"y must have shape ({X.shape[0]},), one label per row of X, got {y.shape}."
        )
    if y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= k:
        raise ValueError(
            f"y must hold integer labels 0..{k - 1}, got dtype {y.dtype} with values "
            f"{np.unique(y)[:10].tolist()}."
        )
    return X, y


def _train(
    fg: Callable[..., tuple[float, np.ndarray]],
    p0: np.ndarray,
    X: np.ndarray,
    y: np.ndarray | None,
    method: str,
    maxiter: int,
    progress: bool | None,
) -> FitResult:
    """``scipy.optimize.minimize`` on ``fg`` from ``p0``, the cost after each iteration kept and
    shown on a bar (None: only on a terminal)."""
    history: list[float] = []
    show = sys.stderr.isatty() if progress is None else progress
    bar = None
    if show:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        bar = Progress(
            TextColumn("training"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} it"),
            TextColumn("cost {task.fields[cost]}"),
            TimeElapsedColumn(),
            transient=True,
        )
        task = bar.add_task("fit", total=maxiter, cost="-")
        bar.start()

    def callback(intermediate_result: optimize.OptimizeResult) -> None:
        history.append(float(intermediate_result.fun))
        if bar is not None:
            bar.update(task, advance=1, cost=f"{history[-1]:.5f}")

    try:
        result = optimize.minimize(
            fg,
            p0,
            args=(X, y),
            jac=True,
            method=method,
            options={"maxiter": maxiter},
            callback=callback,
        )
    finally:
        if bar is not None:
            bar.stop()
    return FitResult(params=result.x, history=history, result=result)
