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
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .evaluate import Seen, explicit_points

if TYPE_CHECKING:  # pragma: no cover
    from .evaluate import Evaluator

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


class Noise(NamedTuple):
    """The noise level ε_f of f at x, what ECnoise detected (None: nothing above round-off),
    and whether f computes in float32."""

    eps_f: float
    detected: float | None
    float32: bool
    seen: Seen
    far: np.ndarray | None = None  # the probe line's last point, already known to be safe

    def relative(self, f0: float) -> float:
        """ε_f relative to |f(x)| (at most 1e-2; ε_f itself when f(x) = 0)."""
        return min(self.eps_f / abs(f0), 1e-2) if f0 != 0 else max(self.eps_f, EPS)


def estimate_noise(
    ev: Evaluator,
    x: np.ndarray,
    f0: float,
    rng: np.random.Generator,
    *,
    spread: float = 0.0,
    needed: bool = True,
) -> Noise:
    """ε_f at x from 8 evaluations along a random line, never below round-off nor below the
    ``spread`` measured between calls at x. ``needed=False`` (the complex step, whose error is
    round-off in the derivative) skips the evaluations."""
    floor = max(noise_floor(f0), spread)
    if not needed:
        return Noise(floor, None, False, Seen())
    points = noise_points(x, rng)
    line = ev.costs(explicit_points(x, points, "on the noise-probe line"))
    values = np.concatenate([[f0], np.real(line.values)])
    detected = noise_from_values(values) if np.all(np.isfinite(values)) else None
    # A float32 computation cast to float64 still returns float32 numbers: noise made of
    # float32 round-off is low precision, not a noisy function.
    in_float32 = detected is not None and bool(np.all(values.astype(np.float32) == values))
    return Noise(max(floor, detected or 0.0), detected, in_float32, line.seen, points[-1])
