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
from .precision import EPS, FLOAT32_EPS

if TYPE_CHECKING:  # pragma: no cover
    from .evaluate import Evaluator


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
    # On scaled values: squares of differences of costs near 1e200 would overflow.
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    if not (np.isfinite(scale) and scale > 0):
        return None
    if kinked(values / scale):
        return None  # a kink crossed by the line (relu, abs, max): not noise
    levels, sign_change = [], []
    table = values / scale
    for k in range(1, values.size - 1):
        table = np.diff(table)
        gamma = factorial(k) ** 2 / factorial(2 * k)
        levels.append(np.sqrt(gamma * np.mean(table**2)))
        sign_change.append(table.min() < 0 < table.max())
    for k in range(len(levels) - 2):
        window = levels[k : k + 3]
        if min(window) > 0 and max(window) <= 4 * min(window) and sign_change[k]:
            return float(levels[k]) * scale
    return None


KINK_ROUNDOFF = 64  # first differences within this many units of round-off count as equal


def kinked(values: np.ndarray) -> bool:
    """Whether f along the line is two straight pieces: its first differences are one value,
    then (after at most one step that holds the kink) another, each equal within round-off. A
    kink (relu, abs, max, a hinge) crossed by the noise line makes the differences' table look
    like noise to ECnoise — non-zero at every order, changing sign — and widened every step
    around it; noise never leaves its first differences equal to round-off."""
    steps = np.diff(np.asarray(values, dtype=float))
    if steps.size < 4:
        return False
    scale = float(np.max(np.abs(values)))
    tol = KINK_ROUNDOFF * EPS * max(scale, 1e-300)
    same = np.abs(np.diff(steps)) <= tol  # consecutive steps equal
    breaks = np.flatnonzero(~same)
    if breaks.size == 0:
        return False  # one straight piece: ECnoise finds no noise there anyway
    if breaks.size == 1:
        return True  # the kink at a sample
    # the kink between two samples: one step in between, the runs on both sides equal
    return breaks.size == 2 and breaks[1] == breaks[0] + 1


def staircase(values: np.ndarray) -> float | None:
    """The typical jump of a piecewise-constant f seen along the noise line (most consecutive
    values exactly equal, a few jumps), or None. Jumps of a staircase are not noise: widening
    the step over them would compare an average slope with the (right) derivative 0."""
    steps = np.diff(np.asarray(values, dtype=float))
    jumps = steps[steps != 0]
    if steps.size < 4 or not jumps.size or jumps.size > steps.size // 2:
        return None
    return float(np.median(np.abs(jumps)))


def noise_points(
    x: np.ndarray, rng: np.random.Generator, count: int = 8, spacing: float = 1e-4
) -> list[np.ndarray]:
    """``count`` points ``x + k·δ·p`` (k = 1..count) along a random direction ``p``.

    Each component of ``p`` is ±u_i·max(1, |x_i|), u_i uniform in [0.5, 1.5), normalised to
    unit 2-norm so that the smooth part of f changes by about ``δ·|∇f|`` per step, whatever the
    dimension. The magnitudes are drawn, not ±1: with ±1 a linear piece with equal coefficients
    (Σ relu(x_i) past a kink) can be exactly flat along the line, which reads as a staircase.
    """
    sign = rng.choice([-1.0, 1.0], size=x.shape)
    direction = sign * rng.uniform(0.5, 1.5, size=x.shape) * np.maximum(1.0, np.abs(x))
    direction[~np.isfinite(x)] = 0.0  # entries at ±inf (masked logits) are never moved
    direction /= np.linalg.norm(direction) or 1.0
    return [x + k * spacing * direction for k in range(1, count + 1)]


def noise_floor(f0: float, eps: float = EPS) -> float:
    """Round-off any cost carries: a couple of units in the last place of |f| in the precision
    f computes in (``eps``, float64's unless f is known to compute in less)."""
    return 2 * eps * abs(f0)


class Noise(NamedTuple):
    """The noise level ε_f of f at x, what ECnoise detected (None: nothing above round-off),
    and whether f computes in float32."""

    eps_f: float
    detected: float | None
    float32: bool
    seen: Seen
    far: np.ndarray | None = None  # the probe line's last point, already known to be safe
    scale: float = 0.0  # the largest |f| seen on the noise line
    stair: float | None = None  # the jump of a piecewise-constant f seen on the line

    def relative(self, f0: float) -> float:
        """ε_f relative to the scale of f (at most 1e-2; ε_f itself when f is 0 all along).
        The scale is |f(x)|, or the largest |f| on the noise line when that is larger: a cost
        that cancels to round-off at x (Σ x³ on a symmetric grid) says nothing of the step."""
        scale = max(abs(f0), self.scale)
        return min(self.eps_f / scale, 1e-2) if scale != 0 else max(self.eps_f, EPS)


def estimate_noise(
    ev: Evaluator,
    x: np.ndarray,
    f0: float,
    rng: np.random.Generator,
    *,
    spread: float = 0.0,
    needed: bool = True,
    eps: float = EPS,
) -> Noise:
    """ε_f at x from 8 evaluations along a random line, never below round-off in the precision
    f computes in (``eps``) nor below the ``spread`` measured between calls at x.
    ``needed=False`` (the complex step, whose error is round-off in the derivative) skips the
    evaluations."""
    if not needed:
        return Noise(max(noise_floor(f0, eps), spread), None, False, Seen())
    points = noise_points(x, rng)
    line = ev.costs(explicit_points(x, points, "on the noise-probe line"))
    values = np.concatenate([[f0], np.real(line.values)])
    finite = values[np.isfinite(values)]
    scale = float(np.max(np.abs(finite))) if finite.size else 0.0
    floor = max(noise_floor(max(abs(f0), scale), eps), spread)
    stair = staircase(values) if finite.size == values.size else None
    detected = noise_from_values(values) if finite.size == values.size and not stair else None
    # A float32 computation cast to float64 still returns float32 numbers: noise made of
    # float32 round-off is low precision, not a noisy function.
    with np.errstate(over="ignore"):
        in_float32 = detected is not None and bool(np.all(values.astype(np.float32) == values))
    if in_float32:
        floor = max(floor, noise_floor(scale, FLOAT32_EPS))
    eps_f = max(floor, detected or 0.0)
    return Noise(eps_f, detected, in_float32, line.seen, points[-1], scale, stair)
