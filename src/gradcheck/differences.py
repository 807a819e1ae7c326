"""Finite-difference estimates of a gradient: forward, central, complex step, Richardson.

Pure functions over arrays; the user's function is reached only through an evaluator
(see :mod:`gradcheck.evaluate`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .evaluate import Evaluator, Points, as_scalar, split_output
from .noise import EPS

METHODS = ("auto", "forward", "central", "complex", "richardson")
COMPLEX_STEP = 1e-20


def coordinate_points(
    x: np.ndarray, idx: np.ndarray, h: np.ndarray, describe: Callable[[int], str], label: str
) -> Points:
    """``x + h[k]·e_idx[k]`` for each k (h may be complex, for the complex step)."""
    return Points(
        x,
        idx.size,
        lambda k: (idx[k], x[idx[k]] + h[k]),
        lambda k: f"at x {label} {h[k]:.3g} at entry {describe(idx[k])}",
    )


def numerical_gradient(
    f: Callable[[np.ndarray], Any], x: Any, *, method: str = "central", step: float = 1e-4
) -> np.ndarray:
    """Finite-difference gradient with one fixed step, exactly as the course computes it.

    With the defaults this is Ng's ``computeNumericalGradient``, bit for bit: for each entry
    ``p``, ``(J(θ + e·u_p) − J(θ − e·u_p)) / (2e)`` with ``e = 1e-4``.

    Parameters
    ----------
    f : callable
        ``f(x)`` returns the cost, or a pair ``(cost, gradient)`` of which only the cost is used.
    x : array_like of shape (n,)
        The point (a column (n, 1) is accepted and flattened).
    method : {'central', 'forward', 'complex'}, default 'central'
        ``'forward'`` uses ``(f(x + h·u_p) − f(x)) / h``; ``'complex'`` uses
        ``Im f(x + i·h·u_p) / h`` and needs ``f`` to accept complex input.
    step : float, default 1e-4
        The step ``h``, used as given.

    Returns
    -------
    ndarray of shape (n,)

    Examples
    --------
    >>> numerical_gradient(lambda x: float(np.sum(x ** 3)), np.array([1.0, 2.0]))
    array([ 3.00000001, 12.00000001])
    """
    if method not in ("central", "forward", "complex"):
        raise ValueError(
            f"method must be one of ('central', 'forward', 'complex'), got {method!r}."
        )
    step = positive_step(step)
    x = np.asarray(x, dtype=float)
    if x.ndim == 2 and 1 in x.shape:
        x = x.ravel()
    if x.ndim != 1:
        raise ValueError(f"x must be a 1-D array (or a column), got shape {x.shape}.")

    # Entry p moves to x[p] ± step exactly as in the course's θ ± perturb, and the quotient is
    # the same (loss2 − loss1) / (2e), so the numbers agree to the bit.
    ev = Evaluator(f)
    f0 = as_scalar(split_output(ev(x))[0]).real if method == "forward" else 0.0
    idx = np.arange(x.size)
    return estimate(ev, x, f0, idx, np.full(x.size, step), method).numeric


def positive_step(value: Any, allow_none: bool = False) -> float:
    """``value`` as a positive finite float, or a ValueError naming ``step``."""
    expected = "None or a positive float" if allow_none else "a positive float"
    real = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    h = float(value) if real else float("nan")
    if not (h > 0 and np.isfinite(h)):
        raise ValueError(f"step must be {expected}, got {value!r}.")
    return h


def choose_steps(x: np.ndarray, method: str, rel_noise: float) -> np.ndarray:
    """Per-entry steps balancing truncation against round-off/noise.

    ``h = r^(1/2)·max(1, |x|)`` for forward, ``r^(1/3)·max(1, |x|)`` for central and
    ``r^(1/5)·max(1, |x|)`` for Richardson, where ``r`` is f's relative noise (at least machine
    epsilon). The step is then made exactly representable: ``h = (x + h) − x``.
    """
    if method == "complex":
        return np.full(x.shape, COMPLEX_STEP)
    power = {"forward": 1 / 2, "central": 1 / 3, "richardson": 1 / 5}[method]
    h = max(rel_noise, EPS) ** power * np.maximum(1.0, np.abs(x))
    return (x + h) - x


@dataclass(frozen=True)
class Estimate:
    """Finite-difference estimates on entries ``idx``: the derivative and its round-off term."""

    idx: np.ndarray
    step: np.ndarray
    numeric: np.ndarray
    roundoff: np.ndarray  # bound on the noise part of the error, per unit of ε_f
    truncation: np.ndarray  # estimated truncation error (0 where not estimated yet)
    f_plus: np.ndarray
    f_minus: np.ndarray


def estimate(
    ev: Evaluator,
    x: np.ndarray,
    f0: float,
    idx: np.ndarray,
    h: np.ndarray,
    method: str,
    describe: Callable[[int], str] = str,
) -> Estimate:
    """Estimate the derivative on entries ``idx`` with steps ``h`` by ``method``."""
    nan = np.full(idx.shape, np.nan)
    zero = np.zeros(idx.shape)
    if method == "complex":
        vals = ev.costs(coordinate_points(x, idx, 1j * h, describe, "+ i·"))
        if not np.iscomplexobj(vals) or not np.any(np.imag(vals)):
            raise TypeError(
                "method='complex' needs f to accept complex input and carry the imaginary part "
                "through (no np.asarray(x, float), abs or comparisons on x); f returned real "
                "costs at complex points. Use method='central' instead."
            )
        return Estimate(idx, h, np.imag(vals) / h, zero, zero, np.real(vals), nan)
    plus = ev.costs(coordinate_points(x, idx, h, describe, "+"))
    if method == "forward":
        return Estimate(idx, h, (plus - f0) / h, 2.0 / h, zero, plus, nan)
    minus = ev.costs(coordinate_points(x, idx, -h, describe, "-"))
    central = (plus - minus) / (2 * h)
    if method == "central":
        return Estimate(idx, h, central, 1.0 / h, zero, plus, minus)
    # Richardson: combine steps h and h/2 to cancel the h² term; the difference between the two
    # central estimates measures the remaining error.
    half = estimate(ev, x, f0, idx, h / 2, "central", describe)
    extrapolated = (4 * half.numeric - central) / 3
    return Estimate(idx, h, extrapolated, 3.0 / h, np.abs(half.numeric - central) / 3, plus, minus)
