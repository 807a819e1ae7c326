"""Estimating the noise level ε_f of a function at a point (Moré & Wild's ECnoise idea).

Evaluate f at equally spaced points along a random direction and form the table of finite
differences. For a smooth function the k-th differences shrink like δ^k; noise does not shrink:
it makes the differences change sign and, scaled by γ_k = (k!)²/(2k)!, their root mean square
settles at the noise's standard deviation. ECnoise accepts the first order k at which the
scaled levels of orders k, k+1, k+2 agree within a factor 4 and the k-th differences change sign.

References
----------
J. J. Moré and S. M. Wild, "Estimating computational noise", SIAM J. Sci. Comput. 33(3),
1292–1314, 2011.
"""

from __future__ import annotations

from math import factorial

import numpy as np

EPS = float(np.finfo(float).eps)  # float64 machine epsilon, shared by the whole package


def noise_from_values(values: np.ndarray) -> float | None:
    """ECnoise's estimate from costs at equally spaced points; None when no noise is detected.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> smooth = np.exp(np.linspace(0, 1e-6, 9))
    >>> level = noise_from_values(smooth + 1e-9 * rng.standard_normal(9))
    >>> 2e-10 < level < 5e-9
    True
    """
    values = np.asarray(values, dtype=float)
    levels, sign_change = [], []
    table = values
    for k in range(1, values.size - 1):
        table = np.diff(table)
        gamma = factorial(k) ** 2 / factorial(2 * k)
        levels.append(np.sqrt(gamma * np.mean(table**2)))
        sign_change.append(table.min() < 0 < table.max())
    for k in range(len(levels) - 2):
        window = levels[k : k + 3]
        if min(window) > 0 and max(window) <= 4 * min(window) and sign_change[k]:
            return float(levels[k])
    return None


def noise_points(
    x: np.ndarray, rng: np.random.Generator, count: int = 8, spacing: float = 1e-4
) -> list[np.ndarray]:
    """``count`` points ``x + k·δ·p`` (k = 1..count) along a random direction ``p``.

    Each component of ``p`` is ±1 scaled by ``max(1, |x_i|)``, normalised to unit 2-norm so
    that the smooth part of f changes by about ``δ·|∇f|`` per step, whatever the dimension.
    """
    direction = rng.choice([-1.0, 1.0], size=x.shape) * np.maximum(1.0, np.abs(x))
    direction /= np.linalg.norm(direction)
    return [x + k * spacing * direction for k in range(1, count + 1)]


def noise_floor(f0: float) -> float:
    """Round-off any float64 cost carries: a couple of units in the last place of |f|."""
    return 2 * EPS * abs(f0)
