"""``check()``: validate, probe, estimate, compare, diagnose — the pipeline in one place."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from functools import partial
from typing import Any

import numpy as np

from . import diagnose as _diagnose
from . import directional as _directional
from .differences import EPS, METHODS, choose_steps, estimate, positive_step
from .evaluate import Evaluator, as_scalar, explicit_points
from .layout import Layout, Order, entry_name
from .noise import noise_floor, noise_from_values, noise_points
from .report import Diagnosis, Report

MODES = ("auto", "full", "directional", "sample")
AUTO_FULL_SECONDS = 10.0  # mode="auto" runs the full check when it should take less than this
DEFAULT_BUDGET = 2000  # evaluations directional mode may spend localising wrong entries
SAFETY = 10.0
SAMPLE_SIZE = 100
GRADIENT_WOBBLE = 1e-10  # relative variation of the gradient between calls tolerated as round-off


def check(
    f: Callable[[np.ndarray], Any],
    x: Any,
    grad: Callable[[np.ndarray], Any] | None = None,
    *,
    blocks: Mapping[str, Any] | None = None,
    order: Order = "C",
    method: str = "auto",
    step: float | None = None,
    mode: str = "auto",
    rtol: float | None = None,
    atol: float | None = None,
    seed: int = 0,
    executor: Executor | None = None,
    progress: bool | None = None,
    vectorized: bool = False,
    checkpoint: str | os.PathLike[str] | None = None,
    budget: int | None = None,
) -> Report:
    """Check an analytic gradient against finite differences, entry by entry.

    Parameters
    ----------
    f : callable
        ``f(x)`` returns the cost (a float), or a pair ``(cost, gradient)`` (SciPy's
        ``jac=True`` convention, the course's ``nnCostFunction``) — detected when ``grad`` is None.
    x : array_like of shape (n,)
        Where to check; a float array (converted to a float64 copy, never modified).
    grad : callable, optional
        ``grad(x)`` returns the analytic gradient, shape (n,), (n, 1) or (1, n).
    blocks : mapping of str to shape, optional
        Names and shapes of the parts of ``x``, in order, e.g. ``{"Theta1": (25, 401),
        "Theta2": (10, 26)}``; sizes must add up to ``n``. Entries are then reported as
        ``Theta2[0, 0]``.
    order : {'C', 'F'}, default 'C'
        How each block is unrolled ('F' for MATLAB's ``Theta(:)``).
    method : {'auto', 'forward', 'central', 'complex', 'richardson'}, default 'auto'
        ``'auto'`` is central differences with Richardson refinement of suspicious entries.
    step : float, optional
        None chooses a step per entry from the noise of f; a float is used as given
        (e.g. the course's 1e-4).
    mode : {'auto', 'full', 'sample'}, default 'auto'
        ``'full'`` checks every entry; ``'sample'`` a seeded random subset of 100;
        ``'auto'`` is currently ``'full'``.
    rtol, atol : float, optional
        Relative and absolute slack added to the error model's tolerance. Defaults:
        ``rtol = 1e-6`` (1e-3 when f or the gradient is float32) and
        ``atol = 100·eps·max|analytic|``.
    seed : int, default 0
        Seeds the noise probe's direction and the sample.
    executor : concurrent.futures.Executor, optional
        Runs the evaluations of f (processes, threads, a Dask client's executor).
    progress : bool, optional
        Show a progress bar; None shows one on a terminal when the check takes over ~2 s.

    Returns
    -------
    Report
        ``ok``, ``relative_difference``, ``mismatched``, ``diagnoses``, ``evaluations`` and the
        per-entry numbers.

    Raises
    ------
    TypeError
        f returns no gradient and ``grad`` is None; ``x`` is not a float array; ``grad`` or ``f``
        not callable; ``method='complex'`` with an f that drops the imaginary part.
    ValueError
        Empty or non-1-D ``x``; gradient of the wrong length; blocks that do not add up to
        ``x.size``; an unknown method or mode; a non-positive step; f returning a non-scalar.

    Notes
    -----
    A central difference has two errors: truncation (≈ h²|f'''|/6) and noise (≈ ε_f/h). The
    noise ε_f of f at x is estimated from 8 evaluations along a random line (Moré & Wild's
    ECnoise, with 2·eps·|f| as a floor), and each step is chosen to balance the two:
    ``h = (ε_f/|f|)^(1/3)·max(1, |x_i|)``. An entry is suspicious when
    ``|a − n| > safety·(ε_f/h + trunc) + rtol·max(|a|, |n|) + atol`` with ``safety = 10``;
    each suspicious entry is re-estimated at h/2, its truncation error estimated as
    ``4/3·|D(h) − D(h/2)|``, and only then judged wrong. When the analytic value lies between
    the one-sided differences and their gap does not shrink with the step, the entry straddles
    a kink: a warning, not a mismatch.

    References
    ----------
    J. J. Moré and S. M. Wild, "Estimating computational noise", SIAM J. Sci. Comput., 2011.
    J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., §8.1.

    Examples
    --------
    >>> import numpy as np, gradcheck
    >>> f = lambda x: (float(np.sum(x ** 2)), 2 * x)
    >>> gradcheck.check(f, np.array([1.0, -2.0, 3.0])).ok
    True
    >>> bad = lambda x: (float(np.sum(x ** 2)), 2 * x * np.array([1, 1, -1]))
    >>> report = gradcheck.check(bad, np.array([1.0, -2.0, 3.0]))
    >>> report.ok, report.mismatched.tolist()
    (False, [2])
    """
    t_start = time.perf_counter()
    x, x_note = _validate_x(x)
    n = x.size
    layout = _validate_layout(blocks, order, n)
    _validate_choice("method", method, METHODS)
    _validate_choice("mode", mode, MODES)
    step = None if step is None else positive_step(step, allow_none=True)
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}.")
    if grad is not None and not callable(grad):
        raise TypeError(
            f"grad must be callable (or None when f returns (cost, gradient)), got {type(grad).__name__}."
        )

    describe = partial(entry_name, layout)
    ev = Evaluator(
        f, executor=executor, progress=progress, vectorized=bool(vectorized), checkpoint=checkpoint
    )
    rng = np.random.default_rng(seed)
    notes = [x_note] if x_note else []

    f0, analytic, low_gradient, probes, wobble = _probe(ev, grad, x, layout, notes)
    if not np.isfinite(f0):
        return _finish(
            probes,
            np.array([], dtype=np.intp),
            ev=ev,
            t_start=t_start,
            notes=notes,
            point=x,
            checked=np.array([], dtype=np.intp),
            numeric=np.full(n, np.nan),
            analytic=analytic,
            error=np.full(n, np.nan),
            tolerance=np.full(n, np.nan),
            step=np.full(n, np.nan),
            relative_difference=float("nan"),
            layout=layout,
            method=method,
            mode=mode,
            step_policy="not run",
            noise=float("nan"),
            cost=f0,
            rtol=float("nan"),
            atol=float("nan"),
        )
    resolved = "central" if method == "auto" else method
    eps_f, detected, computed_in_float32 = _noise(ev, x, f0, rng, resolved)
    rel_noise = min(eps_f / abs(f0), 1e-2) if f0 != 0 else max(eps_f, EPS)

    if step is None:
        h_all = choose_steps(x, resolved, rel_noise)
        policy = f"steps chosen per entry (noise ε_f = {eps_f:.2g})"
    else:
        h_all = np.full(n, float(step))
        policy = f"step {float(step):g} as given (noise ε_f = {eps_f:.2g})"

    resolved_mode = _resolve_mode(mode, n, resolved, ev, executor)
    if resolved_mode == "sample" and n > SAMPLE_SIZE:
        idx = np.sort(rng.choice(n, size=SAMPLE_SIZE, replace=False))
    else:
        idx = np.arange(n)

    low = ev.low_precision or computed_in_float32 or x_note is not None or low_gradient
    rtol = (1e-3 if low else 1e-6) if rtol is None else float(rtol)
    amax = float(np.max(np.abs(analytic[np.isfinite(analytic)]), initial=0.0))
    eps_g = float(np.finfo(np.float32).eps) if low else EPS
    atol = (100 * eps_g * amax if atol is None else float(atol)) + SAFETY * wobble
    noise_warnings = _diagnose.noise_warnings(
        eps_f=eps_f, detected=detected, f0=f0, low_precision=low
    )

    common = {
        "layout": layout,
        "mode": resolved_mode,
        "noise": eps_f,
        "cost": f0,
        "rtol": rtol,
        "atol": atol,
        "t_start": t_start,
        "notes": notes,
        "ev": ev,
        "point": x,
    }
    if resolved_mode == "directional":
        return _check_directional(
            x,
            analytic,
            probes,
            noise_warnings,
            rng=rng,
            rel_noise=rel_noise,
            budget=DEFAULT_BUDGET if budget is None else int(budget),
            method=method,
            **common,
        )

    est = estimate(ev, x, f0, idx, h_all[idx], resolved, describe)
    numeric = np.full(n, np.nan)
    numeric[idx] = est.numeric
    step_used = np.full(n, np.nan)
    step_used[idx] = est.step
    error = np.full(n, np.nan)
    error[idx] = eps_f * est.roundoff + est.truncation
    if resolved == "complex":
        error[idx] = 4 * EPS * np.abs(est.numeric)

    if ev.interrupted:
        # Ctrl-C: keep what was finished; entries still missing are simply not checked.
        done = np.isfinite(numeric[idx])
        notes.append(f"interrupted: {int(done.sum())} of {idx.size} entries were checked.")
        idx = idx[done]
    finite = np.isfinite(numeric[idx]) & np.isfinite(analytic[idx])
    bad_numeric = idx[~np.isfinite(numeric[idx])]
    if bad_numeric.size:
        probes.append(
            _diagnose.nonfinite_entries(bad_numeric, layout, "f is not finite at x ± step")
        )
    checked = idx[finite]

    def tolerance(err: np.ndarray, a: np.ndarray, num: np.ndarray) -> np.ndarray:
        return SAFETY * err + rtol * np.maximum(np.abs(a), np.abs(num)) + atol

    tol = np.full(n, np.nan)
    tol[checked] = tolerance(error[checked], analytic[checked], numeric[checked])
    suspicious = checked[np.abs(analytic[checked] - numeric[checked]) > tol[checked]]

    kinks = np.array([], dtype=np.intp)
    if suspicious.size and resolved in ("central", "forward") and not ev.interrupted:
        # Re-estimate suspicious entries at half the step: the change measures truncation error,
        # and one-sided differences at both steps reveal kinks.
        pos = np.searchsorted(idx, suspicious)
        half = estimate(ev, x, f0, suspicious, est.step[pos] / 2, resolved, describe)
        factor = 4 / 3 if resolved == "central" else 2.0
        trunc = factor * np.abs(est.numeric[pos] - half.numeric)
        error[suspicious] = eps_f * est.roundoff[pos] + trunc
        tol[suspicious] = tolerance(error[suspicious], analytic[suspicious], numeric[suspicious])
        still = np.abs(analytic[suspicious] - numeric[suspicious]) > tol[suspicious]
        if resolved == "central":
            is_kink = _kinks(analytic[suspicious], f0, est, pos, half, eps_f)
            kinks = suspicious[still & is_kink]
            still &= ~is_kink
        mismatched = suspicious[still]
    else:
        mismatched = suspicious
    mismatched = np.sort(mismatched)

    diagnoses = list(probes)
    if mismatched.size:
        diagnoses += _diagnose.explain(
            analytic=analytic,
            numeric=numeric,
            tolerance=tol,
            checked=checked,
            mismatched=mismatched,
            layout=layout,
            x=x,
            rtol=rtol,
        )
    diagnoses += _diagnose.kink_warning(kinks, layout) + noise_warnings
    a_c, n_c = analytic[checked], numeric[checked]
    return _finish(
        diagnoses,
        mismatched,
        checked=checked,
        numeric=numeric,
        analytic=analytic,
        error=error,
        tolerance=tol,
        step=step_used,
        relative_difference=_ng(n_c, a_c),
        method=resolved if method != "auto" else "auto (central + Richardson refinement)",
        step_policy=policy,
        **common,
    )


def _probe(
    ev: Evaluator, grad: Callable | None, x: np.ndarray, layout: Layout | None, notes: list[str]
) -> tuple[float, np.ndarray, bool, list[Diagnosis], float]:
    """Cost and gradient at x, twice: mutation, determinism and non-finite values.

    Returns f(x), the analytic gradient, whether it came in low precision, the probe
    diagnoses, and how much the gradient wobbled between the two calls.
    """
    n = x.size
    cost0, g0 = ev(x, "at x")
    raw = _analytic(grad, g0, x)
    analytic = _validate_gradient(raw, n)
    cost1, g1 = ev(x, "at x (second call, determinism probe)")
    analytic1 = _validate_gradient(_analytic(grad, g1, x), n)
    f0, f1 = as_scalar(cost0).real, as_scalar(cost1).real
    probes: list[Diagnosis] = []
    if ev.mutated_at is not None:
        probes.append(_diagnose.mutates_input(ev.mutated_at))
    # A cost that changes between calls ruins every difference; a gradient that wobbles at
    # round-off level (atomic adds on a GPU, threaded reductions) only widens the tolerance.
    wobble = 0.0
    if _differs(f0, f1) or _differs(analytic, analytic1):
        with np.errstate(invalid="ignore"):
            wobble = float(np.nanmax(np.abs(analytic - analytic1), initial=0.0))
            scale = float(np.nanmax(np.abs(analytic), initial=0.0))
        if _differs(f0, f1) or not wobble <= GRADIENT_WOBBLE * scale:
            probes.append(_diagnose.nondeterministic(f0, f1, analytic, analytic1))
        else:
            notes.append(
                f"the gradient differs between two calls at x by up to {wobble:.2g} (the cost "
                "does not): round-off in a non-deterministic reduction, such as atomic adds on "
                "a GPU. The tolerances include it."
            )
    if not np.isfinite(f0):
        probes.append(_diagnose.nonfinite_cost(f0))
    bad = np.flatnonzero(~np.isfinite(analytic))
    if bad.size and np.isfinite(f0):
        probes.append(_diagnose.nonfinite_entries(bad, layout, "your gradient is not finite"))
    low = np.asarray(raw).dtype in (np.float32, np.float16)
    return f0, analytic, bool(low), probes, wobble


def _noise(
    ev: Evaluator, x: np.ndarray, f0: float, rng: np.random.Generator, method: str
) -> tuple[float, float | None, bool]:
    """ε_f, the noise ECnoise detected (None if none), and whether f computes in float32."""
    if method == "complex":  # its error is round-off in the gradient, not noise in f
        return noise_floor(f0), None, False
    line = ev.costs(explicit_points(x, noise_points(x, rng), "on the noise-probe line"))
    values = np.concatenate([[f0], np.real(line)])
    detected = noise_from_values(values) if np.all(np.isfinite(values)) else None
    # A float32 computation cast to float64 still returns float32 numbers: noise made of
    # float32 round-off is low precision, not a noisy function.
    in_float32 = detected is not None and bool(np.all(values.astype(np.float32) == values))
    return max(noise_floor(f0), detected or 0.0), detected, in_float32


def _ng(numeric: np.ndarray, analytic: np.ndarray) -> float:
    """Ng's relative difference ``norm(n − a) / norm(n + a)``."""
    denom = np.linalg.norm(numeric + analytic)
    diff = np.linalg.norm(numeric - analytic)
    return float(diff / denom) if denom > 0 else float(diff)


def _finish(
    diagnoses: list[Diagnosis],
    mismatched: np.ndarray,
    *,
    ev: Evaluator,
    t_start: float,
    notes: list[str],
    point: np.ndarray,
    **fields: Any,
) -> Report:
    fails = any(d.severity == "fail" for d in diagnoses)
    return Report(
        ok=not fails and mismatched.size == 0 and not ev.interrupted,
        mismatched=mismatched,
        diagnoses=diagnoses,
        evaluations=ev.calls,
        seconds=time.perf_counter() - t_start,
        safety=SAFETY,
        notes=notes,
        seconds_in_f=ev.seconds_in_f,
        function=ev.f,
        x=point,
        **fields,
    )


def _resolve_mode(mode: str, n: int, method: str, ev: Evaluator, executor: Executor | None) -> str:
    if mode != "auto":
        return mode
    # Full when it is cheap: time per call so far × calls a full check needs, shared by workers.
    per_call = ev.seconds_in_f / max(ev.calls, 1)
    workers = getattr(executor, "_max_workers", 1) or 1
    calls = (1 if method in ("forward", "complex") else 2) * n
    if n <= 100 or calls * per_call / workers <= AUTO_FULL_SECONDS:
        return "full"
    return "directional"


def _check_directional(
    x: np.ndarray,
    analytic: np.ndarray,
    probes: list[Diagnosis],
    noise_warnings: list[Diagnosis],
    *,
    rng: np.random.Generator,
    rel_noise: float,
    budget: int,
    method: str,
    layout: Layout | None,
    **common: Any,
) -> Report:
    ev: Evaluator = common["ev"]
    n = x.size
    rtol, atol, eps_f = common["rtol"], common["atol"], common["noise"]
    notes: list[str] = common["notes"]
    if method not in ("auto", "central"):
        notes.append(f"directional mode uses central differences; method={method!r} was not used.")
    result = _directional.run(
        ev,
        x,
        analytic,
        eps_f=eps_f,
        rel_noise=rel_noise,
        rtol=rtol,
        atol=atol,
        rng=rng,
        budget=budget,
        layout=layout,
    )
    nan = np.full(n, np.nan)
    numeric, tol = nan.copy(), nan.copy()
    mismatched = result.mismatched
    numeric[mismatched] = result.estimates
    tol[mismatched] = result.entry_tolerance
    diagnoses = list(probes) + result.hypotheses
    if mismatched.size:
        # Entries neither localised nor in an explained block passed every test: use analytic
        # for them when naming the pattern of the localised ones.
        filled = analytic.copy()
        filled[mismatched] = result.estimates
        filled_tol = rtol * np.abs(analytic) + atol
        filled_tol[mismatched] = result.entry_tolerance
        diagnoses += _diagnose.explain(
            analytic=analytic,
            numeric=filled,
            tolerance=filled_tol,
            checked=np.arange(n),
            mismatched=mismatched,
            layout=layout,
            x=x,
            rtol=rtol,
        )
    explained = [d.indices for d in result.hypotheses if d.indices is not None]
    mismatched = (
        np.union1d(mismatched, np.concatenate(explained)).astype(np.intp)
        if explained
        else mismatched
    )
    if not result.complete:
        notes.append(
            f"localisation stopped at the evaluation budget ({budget}); more wrong entries may "
            "remain. Pass budget= to allow more."
        )
    diagnoses += noise_warnings
    verdict_failed = bool(np.any(np.abs(result.numeric - result.analytic) > result.tolerance))
    if verdict_failed and not mismatched.size and not result.hypotheses:
        diagnoses.append(
            Diagnosis(
                "localized",
                "the directional test failed but no single entry could be isolated: the errors are "
                "spread thinly over many entries. Run mode='full' to see every entry.",
            )
        )
    return _finish(
        diagnoses,
        mismatched,
        checked=result.mismatched,
        numeric=numeric,
        analytic=analytic,
        error=nan.copy(),
        tolerance=tol,
        step=nan.copy(),
        relative_difference=_ng(result.numeric, result.analytic),
        method=f"central differences along {_directional.DIRECTIONS} random directions",
        step_policy=f"step (ε_f/|f|)^(1/3) along each direction (noise ε_f = {eps_f:.2g})",
        layout=layout,
        **{k: v for k, v in common.items() if k != "layout"},
    )


def _kinks(
    a: np.ndarray, f0: float, est: Any, pos: np.ndarray, half: Any, eps_f: float
) -> np.ndarray:
    h1, h2 = est.step[pos], half.step
    up1, down1 = (est.f_plus[pos] - f0) / h1, (f0 - est.f_minus[pos]) / h1
    up2, down2 = (half.f_plus - f0) / h2, (f0 - half.f_minus) / h2
    gap1, gap2 = np.abs(up1 - down1), np.abs(up2 - down2)
    slack = SAFETY * 2 * eps_f / h2
    lo, hi = np.minimum(up2, down2) - slack, np.maximum(up2, down2) + slack
    # Smooth f: the gap between one-sided differences is h·f'' and halves with h; at a kink it
    # stays near the jump in slope.
    return (gap2 > slack) & (gap2 > 0.75 * gap1) & (a >= lo) & (a <= hi)


def _analytic(grad: Callable | None, g_from_f: Any, x: np.ndarray) -> Any:
    if grad is not None:
        return grad(x.copy())
    if g_from_f is None:
        raise TypeError(
            "f returned only a cost and no grad= was given: pass grad=your_gradient_function, "
            "or make f return (cost, gradient)."
        )
    return g_from_f


def _differs(a: Any, b: Any) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = np.maximum(np.abs(a), np.abs(b))
    with np.errstate(invalid="ignore"):
        # Bit-for-bit would be too strict for threaded reductions; 4 ulps is not.
        diff = np.abs(a - b) > 4 * EPS * scale
    return bool(np.any(diff & np.isfinite(a) & np.isfinite(b))) or bool(
        np.any(np.isfinite(a) != np.isfinite(b))
    )


def _validate_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}.")


def _validate_x(x: Any) -> tuple[np.ndarray, str | None]:
    arr = np.asarray(x)
    if arr.dtype.kind in "biu":
        raise TypeError(
            f"x must be a float array, got dtype {arr.dtype}: finite differences of an integer "
            "array make no sense. Pass x.astype(float)."
        )
    if arr.dtype.kind not in "f":
        raise TypeError(f"x must be a real float array, got dtype {arr.dtype}.")
    if arr.ndim != 1:
        raise ValueError(
            f"x must be a 1-D array, got shape {arr.shape}. Pass x.ravel() and describe the parts "
            "with blocks={name: shape}."
        )
    if arr.size == 0:
        raise ValueError("x must have at least one entry, got an empty array.")
    note = None
    if arr.dtype != np.float64:
        note = f"x was {arr.dtype}; f was evaluated at float64 copies."
    return arr.astype(np.float64, copy=True), note


def _validate_layout(blocks: Mapping[str, Any] | None, order: Order, n: int) -> Layout | None:
    if blocks is None:
        if order not in ("C", "F"):
            raise ValueError(f"order must be 'C' or 'F', got {order!r}.")
        return None
    layout = Layout(blocks, order=order)
    if layout.size != n:
        sizes = ", ".join(f"{k}={'×'.join(map(str, s))}" for k, s in layout.blocks.items())
        raise ValueError(f"blocks add up to {layout.size} entries ({sizes}) but x has {n}.")
    return layout


def _validate_gradient(g: Any, n: int) -> np.ndarray:
    arr = np.asarray(g)
    if arr.dtype == object or arr.dtype.kind not in "fiuc":
        raise TypeError(
            f"the gradient must be a numeric array, got {type(g).__name__} of dtype {arr.dtype}."
        )
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.ravel()  # MATLAB ports give (n, 1) or (1, n)
    if arr.shape != (n,):
        raise ValueError(
            f"the gradient must have shape ({n},) like x (or ({n}, 1) / (1, {n})), got shape "
            f"{np.shape(g)}. If it is a matrix, unroll it the same way as x."
        )
    return np.real(arr).astype(np.float64)
