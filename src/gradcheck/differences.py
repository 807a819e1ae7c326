"""Finite-difference schemes, as one table, and the estimates they make.

``SCHEMES`` holds, for each method, what the rest of the package needs to know about it: its
order, how many evaluations an entry costs, how it amplifies the noise of f, its step policy,
whether and how a suspicious entry is refined, and whether it can see a kink. Adding a method is
adding a row and the function that computes it. The user's function is reached only through an
evaluator (:mod:`gradcheck.evaluate`).

Notes
-----
Step policy (Nocedal & Wright, §8.1; Gill, Murray & Wright, §8.6): with ``r`` the relative noise
of f (at least machine epsilon), the step that balances truncation against noise is
``h = r^(1/2)·max(1, |x|)`` for forward differences, ``r^(1/3)·max(1, |x|)`` for central and
``r^(1/5)·max(1, |x|)`` for Richardson extrapolation of central differences; it is then made
exactly representable, ``h = (x + h) − x``. The complex step ``Im f(x + ih)/h`` has no
subtraction, so its step is tiny (1e-20) and its error is round-off in the derivative itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .evaluate import Evaluator, Points, Seen
from .precision import EPS

COMPLEX_STEP = 1e-20


@dataclass(frozen=True)
class Estimate:
    """Finite-difference estimates on entries ``idx``: the derivative and its error terms."""

    idx: np.ndarray
    step: np.ndarray
    numeric: np.ndarray
    roundoff: np.ndarray  # bound on the noise part of the error, per unit of ε_f
    truncation: np.ndarray  # estimated truncation error (0 where not estimated yet)
    f_plus: np.ndarray
    f_minus: np.ndarray
    seen: Seen

    def join(self, other: Estimate) -> Estimate:
        """This estimate followed by another's entries."""
        cat = np.concatenate
        return Estimate(
            cat([self.idx, other.idx]),
            cat([self.step, other.step]),
            cat([self.numeric, other.numeric]),
            cat([self.roundoff, other.roundoff]),
            cat([self.truncation, other.truncation]),
            cat([self.f_plus, other.f_plus]),
            cat([self.f_minus, other.f_minus]),
            self.seen | other.seen,
        )

    def error(self, eps_f: float, relative: float = 0.0) -> np.ndarray:
        """The estimate's error: noise ``ε_f·roundoff`` + truncation + ``relative·|numeric|``."""
        return eps_f * self.roundoff + self.truncation + relative * np.abs(self.numeric)


Compute = Callable[[Evaluator, np.ndarray, float, np.ndarray, np.ndarray, Callable], Estimate]


@dataclass(frozen=True)
class Scheme:
    """One finite-difference method and what the checker needs to know about it."""

    name: str
    describe: str  # in words, for reports and docs
    order: int  # truncation error ∝ h^order
    evaluations: int  # calls of f per entry, before any refinement
    noise_gain: float  # the noise part of the error is noise_gain·ε_f/h
    step_power: float | None  # h = r^power·max(1, |x|); None: the fixed complex step
    refine: float | None  # truncation ≈ refine·|D(h) − D(h/2)|; None: no refinement
    one_sided: bool
    sees_kinks: bool  # evaluates f on both sides, so a kink shows as a gap between them
    relative_error: float  # error proportional to |derivative| (the complex step's round-off)
    compute: Compute


def coordinate_points(
    x: np.ndarray, idx: np.ndarray, h: np.ndarray, describe: Callable[[int], str]
) -> Points:
    """``x + h[k]·e_idx[k]`` for each k; h may be negative, or imaginary (the complex step)."""
    values = x[idx] + h

    def where(k: int) -> str:
        step = h[k]
        moved = (
            f"+ i·{step.imag:.3g}"
            if np.iscomplexobj(h)
            else f"{'+' if step >= 0 else '-'} {abs(step):.3g}"
        )
        return f"at x {moved} at entry {describe(idx[k])}"

    return Points(
        x,
        idx.size,
        lambda k: (idx[k], values[k]),
        where,
        coordinates=None if np.iscomplexobj(values) else (idx, values),
    )


def _forward(
    ev: Evaluator, x: np.ndarray, f0: float, idx: np.ndarray, h: np.ndarray, describe: Callable
) -> Estimate:
    plus = ev.costs(coordinate_points(x, idx, h, describe))
    nan, zero = np.full(idx.shape, np.nan), np.zeros(idx.shape)
    gain = SCHEMES["forward"].noise_gain / h
    return Estimate(idx, h, (plus.values - f0) / h, gain, zero, plus.values, nan, plus.seen)


def _central(
    ev: Evaluator, x: np.ndarray, f0: float, idx: np.ndarray, h: np.ndarray, describe: Callable
) -> Estimate:
    # x + h and x − h of each entry one after the other, in one pass over the entries (one
    # wait for the slowest task on an executor, not two).
    signed = np.empty(2 * idx.size)
    signed[0::2], signed[1::2] = h, -h
    costs = ev.costs(coordinate_points(x, np.repeat(idx, 2), signed, describe))
    plus, minus = costs.values[0::2], costs.values[1::2]
    numeric = (plus - minus) / (2 * h)
    gain = SCHEMES["central"].noise_gain / h
    return Estimate(idx, h, numeric, gain, np.zeros(idx.shape), plus, minus, costs.seen)


def _complex(
    ev: Evaluator, x: np.ndarray, f0: float, idx: np.ndarray, h: np.ndarray, describe: Callable
) -> Estimate:
    costs = ev.costs(coordinate_points(x, idx, 1j * h, describe))
    vals = costs.values
    if not np.iscomplexobj(vals) or not np.any(np.imag(vals)):
        raise TypeError(
            "method='complex' needs f to accept complex input and carry the imaginary part "
            "through (no np.asarray(x, float), abs or comparisons on x); f returned real "
            "costs at complex points. Use method='central' instead."
        )
    nan, zero = np.full(idx.shape, np.nan), np.zeros(idx.shape)
    return Estimate(idx, h, np.imag(vals) / h, zero, zero, np.real(vals), nan, costs.seen)


def _richardson(
    ev: Evaluator, x: np.ndarray, f0: float, idx: np.ndarray, h: np.ndarray, describe: Callable
) -> Estimate:
    # Combine central differences at h and h/2 to cancel the h² term; their difference
    # measures the error that remains.
    coarse = _central(ev, x, f0, idx, h, describe)
    fine = _central(ev, x, f0, idx, h / 2, describe)
    extrapolated = (4 * fine.numeric - coarse.numeric) / 3
    truncation = np.abs(fine.numeric - coarse.numeric) / 3
    return replace(
        coarse,
        numeric=extrapolated,
        roundoff=SCHEMES["richardson"].noise_gain / h,
        truncation=truncation,
        seen=coarse.seen | fine.seen,
    )


SCHEMES: dict[str, Scheme] = {
    # name, in words, order, evaluations, noise gain, step power, refine, one-sided,
    # sees kinks, relative error, function
    "forward": Scheme(
        "forward", "forward differences", 1, 1, 2.0, 1 / 2, 2.0, True, False, 0.0, _forward
    ),
    "central": Scheme(
        "central", "central differences", 2, 2, 1.0, 1 / 3, 4 / 3, False, True, 0.0, _central
    ),
    "complex": Scheme(
        "complex",
        "complex-step differences",
        2,
        1,
        0.0,
        None,
        None,
        False,
        False,
        4 * EPS,
        _complex,
    ),
    "richardson": Scheme(
        "richardson",
        "Richardson-extrapolated central differences",
        4,
        4,
        3.0,
        1 / 5,
        None,
        False,
        False,
        0.0,
        _richardson,
    ),
}
# 'auto': central differences, suspicious entries refined at half the step (kinks recognised).
METHODS = ("auto", *SCHEMES)
AUTO = "central"


def scheme_of(method: str) -> Scheme:
    """The scheme a method name runs (``'auto'`` runs central differences)."""
    return SCHEMES[AUTO if method == "auto" else method]


def estimate(
    ev: Evaluator,
    x: np.ndarray,
    f0: float,
    idx: np.ndarray,
    h: np.ndarray,
    scheme: Scheme,
    describe: Callable[[int], str] = str,
) -> Estimate:
    """Estimate the derivative on entries ``idx`` with steps ``h`` by ``scheme``."""
    return scheme.compute(ev, x, f0, idx, h, describe)


def choose_steps(x: np.ndarray, scheme: Scheme, rel_noise: float) -> np.ndarray:
    """Per-entry steps balancing truncation against noise (see the module's Notes)."""
    if scheme.step_power is None:
        return np.full(x.shape, COMPLEX_STEP)
    h = max(rel_noise, EPS) ** scheme.step_power * np.maximum(1.0, np.abs(x))
    with np.errstate(invalid="ignore"):  # NaN where x is ±inf: those entries are not moved
        return (x + h) - x


def positive_step(value: Any, allow_none: bool = False) -> float:
    """``value`` as a positive finite float, or a ValueError naming ``step``."""
    return positive_number("step", value, allow_none)


def positive_number(name: str, value: Any, allow_none: bool = True) -> float:
    """``value`` as a positive finite float (NumPy scalars too), or a ValueError naming
    ``name``, what was expected and what was received."""
    expected = "None or a positive number" if allow_none else "a positive number"
    real = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )
    h = float(value) if real else float("nan")
    if not (h > 0 and np.isfinite(h)):
        raise ValueError(f"{name} must be {expected}, got {value!r}.")
    return h


def numerical_gradient(
    f: Callable[..., Any],
    x: Any,
    *,
    args: tuple = (),
    kwargs: dict[str, Any] | None = None,
    method: str = "central",
    step: float = 1e-4,
) -> np.ndarray:
    """Finite-difference gradient with one fixed step, exactly as the course computes it.

    With the defaults this is Ng's ``computeNumericalGradient``, bit for bit: for each entry
    ``p``, ``(J(θ + e·u_p) − J(θ − e·u_p)) / (2e)`` with ``e = 1e-4``.

    Parameters
    ----------
    f : callable
        ``f(x, *args, **kwargs)`` returns the cost, or a pair ``(cost, gradient)`` of which only
        the cost is used.
    x : array_like of shape (n,)
        The point (a column (n, 1) is accepted and flattened).
    args : tuple, optional
        Extra positional arguments for f (SciPy's convention).
    kwargs : dict, optional
        Extra keyword arguments for f.
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
    >>> numerical_gradient(lambda x, a: float(a * x @ x), np.array([1.0, 2.0]), args=(0.5,))
    array([1., 2.])
    """
    choices = ("central", "forward", "complex")
    if method not in choices:
        raise ValueError(f"method must be one of {choices}, got {method!r}.")
    step = positive_step(step)
    x = np.asarray(x, dtype=float)
    if x.ndim == 2 and 1 in x.shape:
        x = x.ravel()
    if x.ndim != 1:
        raise ValueError(f"x must be a 1-D array (or a column), got shape {x.shape}.")

    # Entry p moves to x[p] ± step exactly as in the course's θ ± perturb, and the quotient is
    # the same (loss2 − loss1) / (2e), so the numbers agree to the bit.
    ev = Evaluator(f, args=tuple(args), kwargs=dict(kwargs or {}))
    f0 = float(np.real(ev.at(x).cost)) if method == "forward" else 0.0
    idx = np.arange(x.size)
    return estimate(ev, x, f0, idx, np.full(x.size, step), SCHEMES[method]).numeric


def exact_steps(at: np.ndarray, h: np.ndarray, parts: int = 1) -> np.ndarray:
    """Steps rounded to a whole multiple of ``parts`` units in the last place of the points
    they reach, so that ``at ± h/k`` (k dividing ``parts``) are exact: at steps of 1e-13 the
    rounding of x + h would otherwise be a relative error of the step itself, times f'."""
    ulp = np.spacing(np.abs(at) + np.abs(h))
    return np.maximum(np.round(np.abs(h) / (parts * ulp)), 1.0) * parts * ulp


RESCUE_ROUNDS = 12  # a non-finite difference is tried again at steps down to h·10^-11


def rescue(
    ev: Evaluator,
    x: np.ndarray,
    f0: float,
    est: Estimate,
    eps_f: float,
    describe: Callable[[int], str] = str,
) -> tuple[Estimate, np.ndarray]:
    """Entries whose difference is not finite (a step that leaves f's domain: ``asin`` near 1,
    ``sqrt`` or ``log`` near 0), tried again at steps ten times shorter each round, centrally
    where both sides are finite, else one-sided towards the finite side (second order, from
    x + s·h/4, x + s·h/2, x + s·h), until the truncation error no longer dominates the noise or
    the noise would. Each rescued entry keeps the estimate with the smallest error (noise +
    truncation, both estimated); the rest stay NaN: f is not finite there at any step tried.

    Returns the estimate and the positions (in ``est.idx``) that were rescued: their truncation
    error is already measured, so they need no refinement."""
    bad = np.flatnonzero(~np.isfinite(est.numeric))
    if not bad.size or eps_f == 0 or not np.isfinite(f0) or est.seen.incomplete:
        return est, np.array([], dtype=np.intp)
    numeric, roundoff, trunc, step = (
        a.copy() for a in (est.numeric, est.roundoff, est.truncation, est.step)
    )
    best = np.full(bad.size, np.inf)
    live = np.ones(bad.size, dtype=bool)
    seen = est.seen
    h = np.abs(est.step[bad])
    for _ in range(RESCUE_ROUNDS):
        k = np.flatnonzero(live)
        if not k.size:
            break
        idx = est.idx[bad[k]]
        hk = h[k] = exact_steps(x[idx], h[k], 4)  # x ± h, ± h/2, ± h/4 all exact
        fractions = np.array([1.0, 0.5, 0.25])
        signed = np.concatenate([s * f * hk for f in fractions for s in (1.0, -1.0)])
        costs = ev.costs(coordinate_points(x, np.tile(idx, 6), signed, describe))
        seen = seen | costs.seen
        if costs.seen.incomplete:
            break
        v = np.real(costs.values).reshape(6, k.size)  # +h, −h, +h/2, −h/2, +h/4, −h/4
        d, err, gain = _best_of_sides(v, f0, hk, eps_f)
        # An estimate whose own truncation error is 0.3 % of it or more has not converged (a
        # derivative that is infinite at x, sqrt at 0): it is no evidence either way.
        converged = err - eps_f * gain / hk <= 3e-3 * np.abs(d)
        better = np.isfinite(d) & converged & (err < best[k])
        pos = bad[k[better]]
        numeric[pos], step[pos] = d[better], hk[better]
        roundoff[pos], trunc[pos] = (
            gain[better] / hk[better],
            err[better] - (eps_f * gain[better] / hk[better]),
        )
        best[k[better]] = err[better]
        # Done: the truncation no longer dominates the noise, or a shorter step cannot help.
        noise = eps_f * np.where(np.isfinite(gain), gain, 16.0) / hk
        settled = np.isfinite(d) & (err <= 2 * noise)
        live[k[settled | (10 * noise > best[k])]] = False
        h[k] = hk / 10
    fixed = bad[np.isfinite(best)]
    out = replace(est, numeric=numeric, roundoff=roundoff, truncation=trunc, step=step, seen=seen)
    return out, fixed


def _best_of_sides(
    v: np.ndarray, f0: float, h: np.ndarray, eps_f: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From f at x ± h, ± h/2, ± h/4 (rows of ``v``): the estimate with the smallest error
    (central where its four points are finite, else second-order one-sided), its error (noise +
    truncation) and its noise gain (the noise part is ``gain·ε_f/h``)."""
    fp, fm, fp2, fm2, fp4, fm4 = v
    central = (fp2 - fm2) / h  # step h/2
    coarse = (fp - fm) / (2 * h)
    c_err = 4 / 3 * np.abs(central - coarse) + 2 * eps_f / h
    out_d = np.where(np.isfinite(c_err), central, np.nan)
    out_e = np.where(np.isfinite(c_err), c_err, np.inf)
    gain = np.where(np.isfinite(c_err), 2.0, np.nan)
    for sign, f4, f2, f1 in ((1.0, fp4, fp2, fp), (-1.0, fm4, fm2, fm)):
        fine = sign * (-3 * f0 + 4 * f4 - f2) / (h / 2)  # second order, step h/4
        wide = sign * (-3 * f0 + 4 * f2 - f1) / h  # step h/2
        err = np.abs(fine - wide) / 3 + 16 * eps_f / h
        use = np.isfinite(err) & (err < out_e)
        out_d, out_e, gain = (
            np.where(use, fine, out_d),
            np.where(use, err, out_e),
            np.where(use, 16.0, gain),
        )
    return out_d, out_e, gain
