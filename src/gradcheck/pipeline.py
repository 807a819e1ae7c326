"""``check()``: the stages of a gradient check, in order.

problem → probes → noise → tolerances → plan → comparison (entries or directions) → history
→ diagnosis → Report. Each stage is a function of the module that owns it and returns a typed
value; :func:`run` only passes them along. ``check_jacobian``, ``check_hessian`` and the
adapters build their own :class:`~gradcheck.problem.Problem` and call :func:`run` with an
:class:`Extension` (their notes, and diagnoses that need the finished comparison).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, NamedTuple, cast

import numpy as np

from . import compare, vocabulary
from ._version import __version__
from .callbacks import RestoredRng, RngSnapshot
from .checkpoint import Checkpoint, fingerprint
from .compare import Comparison, Tolerances, compare_entries
from .diagnose import crash_notes, degenerate_warnings, diagnose, noise_warnings
from .differences import METHODS, Scheme, choose_steps, positive_number, positive_step, scheme_of
from .directional import Remeasured, compare_directions
from .evaluate import Evaluator, Ledger, Seen, own_runner
from .executors import executor_workers
from .layout import Layout, Order, entry_name
from .noise import Noise, estimate_noise, noise_floor
from .output import Printed, captured
from .params import DictProblem
from .paths import compare_paths
from .paths import validated as validated_cost
from .precision import EPS, FLOAT32_EPS, eps_of
from .probes import (
    Probes,
    determinism,
    history,
    mutates_input,
    nondeterminism,
    probe,
    revisit,
)
from .problem import Problem, make_problem, validate_choice
from .report import Diagnosis, Report

MODES = ("auto", *(m.name for m in vocabulary.MODES.values() if m.asked))
AUTO_FULL_SECONDS = 10.0  # mode="auto" runs the full check when it should take less than this
DEFAULT_BUDGET = 2000  # calls of f a directional check may make localising (all calls count)
FULL_AFTER = 200  # and, for small x, at most max(2n + 100, this): then the full check decides
MIDWAY_ENTRIES = 500  # full checks of this many entries also probe f's history halfway


@dataclass(frozen=True)
class Settings:
    """How to check: the options of :func:`check` that are not about the problem itself."""

    method: str = "auto"
    step: float | None = None
    mode: str = "auto"
    rtol: float | None = None
    atol: float | None = None
    seed: int = 0
    budget: int = DEFAULT_BUDGET
    nondet_tol: float | None = None
    executor: Executor | None = None
    workers: int | None = None
    progress: bool | None = None
    checkpoint: str | os.PathLike[str] | None = None
    timeout: float | None = None

    @property
    def scheme(self) -> Scheme:
        return scheme_of(self.method)

    @property
    def step_policy(self) -> str:
        """'chosen' per entry from the noise, or 'given' by the caller."""
        return "chosen" if self.step is None else "given"

    def key(self) -> str:
        """What decides which points are evaluated (for the checkpoint's fingerprint)."""
        return f"{self.method}|{self.step!r}|{self.mode}|{self.seed}|{self.budget}"


def make_settings(
    *,
    method: str = "auto",
    step: Any = None,
    mode: str = "auto",
    rtol: Any = None,
    atol: Any = None,
    seed: Any = 0,
    budget: Any = None,
    nondet_tol: Any = None,
    executor: Executor | None = None,
    workers: Any = None,
    progress: bool | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    timeout: Any = None,
) -> Settings:
    """Validate the options (see :func:`check` for their meaning)."""
    validate_choice("method", method, METHODS)
    validate_choice("mode", mode, MODES)
    for name, value in (("rtol", rtol), ("atol", atol), ("nondet_tol", nondet_tol)):
        real = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
            value, (bool, np.bool_)
        )
        if value is not None and not (real and value >= 0):
            raise ValueError(f"{name} must be None or a number ≥ 0, got {value!r}.")
    whole = isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_))
    if not (whole and 0 <= seed < 2**63):
        raise ValueError(f"seed must be a whole number in [0, 2**63), got {seed!r}.")
    for name, value, least in (("budget", budget, 1), ("workers", workers, 1)):
        if value is not None and not (isinstance(value, (int, np.integer)) and value >= least):
            raise ValueError(f"{name} must be None or a whole number ≥ {least}, got {value!r}.")
    if progress is not None and not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be None, True or False, got {progress!r}.")
    if checkpoint is not None:
        if not isinstance(checkpoint, (str, os.PathLike)):
            raise TypeError(
                f"checkpoint must be None or a file path (str or os.PathLike), got "
                f"{type(checkpoint).__name__} {checkpoint!r}."
            )
        if os.path.isdir(checkpoint):
            raise ValueError(
                f"checkpoint must be a file path, got the folder {os.fspath(checkpoint)!r}: "
                "name a file in it, e.g. checkpoint='check.jsonl'."
            )
    runs = callable(getattr(executor, "submit", None)) or own_runner(executor)
    if executor is not None and not runs:
        raise TypeError(
            "executor must be a concurrent.futures.Executor, a dask.distributed Client "
            "(anything with .submit) or a runner of your own (gradcheck.evaluate.RunsPoints: "
            f".run(call, ledger, points, wanted, sink)), got {type(executor).__name__}."
        )
    return Settings(
        method=method,
        step=None if step is None else positive_step(step, allow_none=True),
        mode=mode,
        rtol=rtol,
        atol=atol,
        seed=int(seed),
        budget=DEFAULT_BUDGET if budget is None else int(budget),
        nondet_tol=nondet_tol,
        executor=executor,
        workers=None if workers is None else int(workers),
        progress=progress,
        checkpoint=checkpoint,
        timeout=None if timeout is None else positive_number("timeout", timeout),
    )


class Findings(NamedTuple):
    """What an :class:`Extension` sees once the comparison is done."""

    evaluator: Evaluator  # shares the check's ledger: its calls are counted
    problem: Problem
    mode: str
    mismatched: np.ndarray
    diagnoses: list[Diagnosis]
    tolerances: Tolerances


@dataclass(frozen=True)
class Extension:
    """What a caller of :func:`run` adds: notes, diagnoses made from the findings, and words of
    its own for a diagnosis (the course check states κ in units of λ/m)."""

    notes: tuple[str, ...] = ()
    explain: Callable[[Findings], tuple[list[Diagnosis], list[str]]] | None = None
    reword: Callable[[Diagnosis], Diagnosis] | None = None


@dataclass(frozen=True)
class Plan:
    """Which mode, which entries (the method and the step policy are the settings')."""

    mode: str
    entries: np.ndarray  # entries to check in full or sample mode (none in directional mode)


def check(
    f: Callable[..., Any],
    x: Any,
    grad: Callable[..., Any] | None = None,
    *,
    args: tuple = (),
    kwargs: Mapping[str, Any] | None = None,
    blocks: Mapping[str, Any] | Layout | None = None,
    order: Order = "C",
    method: str = "auto",
    step: float | None = None,
    mode: str = "auto",
    rtol: float | None = None,
    atol: float | None = None,
    seed: int = 0,
    executor: Executor | None = None,
    workers: int | None = None,
    progress: bool | None = None,
    vectorized: bool = False,
    checkpoint: str | os.PathLike[str] | None = None,
    budget: int | None = None,
    nondet_tol: float | None = None,
    precision: Any = None,
    timeout: float | None = None,
    rng: str | None = None,
    reseed: Callable[[], Any] | None = None,
    points: Any = None,
    bounds: Any = None,
    cost: Callable[..., Any] | None = None,
) -> Report:
    """Check an analytic gradient against finite differences, entry by entry.

    Parameters
    ----------
    f : callable
        ``f(x, *args, **kwargs)`` returns the cost (a float), or a pair ``(cost, gradient)``
        (SciPy's ``jac=True`` convention, the course's ``nnCostFunction``) — detected when
        ``grad`` is None.
    x : array_like of shape (n,), or a dict of arrays
        Where to check; a float array (converted to a float64 copy, never modified). A dict of
        arrays (CS231n's ``net.params``, deeplearning.ai's ``parameters``) is checked as named
        blocks: f gets a dict shaped like it, and the gradient it returns is a dict matched by
        key or by ``d`` + key (``dW1`` for ``W1``); see :mod:`gradcheck.params`.
    grad : callable, optional
        ``grad(x, *args, **kwargs)`` returns the analytic gradient, shape (n,), (n, 1) or (1, n).
    args : tuple, optional
        Extra positional arguments passed to f and grad after x (SciPy's convention:
        ``check(nnCost, nn_params, args=(X, y, 3.0, 3, 5, 3))``).
    kwargs : mapping, optional
        Extra keyword arguments passed to f and grad.
    blocks : mapping of str to shape, or Layout, optional
        Names and shapes of the parts of ``x``, in order, e.g. ``{"Theta1": (25, 401),
        "Theta2": (10, 26)}``; sizes must add up to ``n``. Entries are then reported as
        ``Theta2[0, 0]``.
    order : {'C', 'F'}, default 'C'
        How each block is unrolled ('F' for MATLAB's ``Theta(:)``).
    method : {'auto', 'forward', 'central', 'complex', 'richardson'}, default 'auto'
        ``'auto'`` is central differences with suspicious entries refined at half the step.
    step : float, optional
        None chooses a step per entry from the noise of f; a float is used as given
        (e.g. the course's 1e-4).
    mode : {'auto', 'full', 'directional', 'sample'}, default 'auto'
        ``'full'`` checks every entry; ``'directional'`` tests random directions, then localises
        the wrong entries by group testing; ``'sample'`` checks a seeded random 100 entries;
        ``'auto'`` runs ``'full'`` when n ≤ 100 or the full check should take at most 10 s
        (from the time of the first calls), ``'directional'`` otherwise.
    rtol, atol : float, optional
        Relative and absolute slack added to the error model's tolerance. Defaults:
        ``rtol = 1e-6`` (1e-3 when f or the gradient is float32) and
        ``atol = 100·eps·max|analytic|``.
    seed : int, default 0
        Seeds the noise probe's direction, the sample and the random directions.
    executor : concurrent.futures.Executor, optional
        Runs the evaluations of f (processes, threads, a Dask client), or any object with a
        ``run(call, ledger, points, wanted, sink)`` method (:class:`gradcheck.evaluate.RunsPoints`:
        a way of running f of your own).
    workers : int, optional
        How many evaluations the executor runs at once (sizes its chunks and the auto-mode
        estimate); default: the number of CPUs.
    progress : bool, optional
        Show a progress bar; None shows one on a terminal when the work takes over ~2 s.
    vectorized : bool, default False
        f takes a (k, n) array of points and returns k costs (then ``grad`` is required).
    checkpoint : path, optional
        A file where evaluations are saved as they finish; a rerun of the same problem (same
        f at x, same x, same settings) resumes from it, once the first points it holds were
        evaluated again and agree (an edited f is never given its old values). A file of
        another problem, locked by another run, or a symlink is never written (this run writes
        beside it); torn lines and records failing their checksum are skipped; a file that
        cannot be written never stops the check (see :mod:`gradcheck.checkpoint`).
    timeout : float, optional
        Seconds a call of f may take. A call past it ends the check: the report is partial
        and ``incomplete`` names the point (entry and step). It is enforced with SIGALRM (POSIX)
        in the main thread and in worker processes; not on threads or Dask workers, and not
        inside compiled code that never returns to Python.
    budget : int, optional
        The most evaluations of f a directional check makes while it localises wrong entries
        (default 2000). Every call counts, the first probe and the verdict's directions
        included: a step of the search is taken only when its calls fit.
    nondet_tol : float, optional
        The largest variation between calls at the same x accepted as noise, relative (to
        |f(x)| for the cost, to the largest gradient entry for the gradient). None accepts a
        variation while the tolerances it implies stay below a tenth of the gradient's typical
        entry; a larger one makes the check inconclusive (``nondeterministic``, a failure).
    precision : dtype, optional
        The precision f computes in, when what it returns does not say (it casts its float32
        result to a Python float): ``np.float32``, ``'float16'``, ``'bfloat16'``, a torch dtype.
        The noise floor, steps and default tolerances follow it. By default the least precise
        of x's dtype, the cost's and the gradient's (float64 in either byte order, and
        longdouble, count as float64).
    rng : {None, 'restore'}, optional
        ``'restore'``: the random states f draws from (Python's ``random``, NumPy's global
        state, torch's generators) are restored before every call, so that a cost with dropout
        or sampling is one function (:mod:`gradcheck.callbacks`).
    reseed : callable, optional
        Called before every call of f to reset randomness of other libraries.
    points : int or list of arrays, optional
        Check at x and ``points − 1`` seeded points near it (about 1 % of max(1, |x_i|)), or at
        the points given: a special x (a symmetric block, zeros) hides bugs. The first point
        that fails is the report, saying which; evaluations add up.
    bounds : (lower, upper), optional
        Keep the points of ``points=`` inside these bounds.
    cost : callable, optional
        A second, cost-only path to the same function (``cost(x, *args, **kwargs)``, what an
        optimiser's line search calls beside ``f``): compared with f's cost at x and at two
        points near it (6 more evaluations); where they differ the check fails with
        ``inconsistent`` (:mod:`gradcheck.paths`).

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
    The noise ε_f of f at x is estimated from 8 evaluations along a random line (Moré & Wild's
    ECnoise, with 2·eps·|f| and the spread between calls at x as floors), and each step balances
    truncation against noise: ``h = (ε_f/|f|)^(1/3)·max(1, |x_i|)`` for central differences
    (:mod:`gradcheck.differences`). The error model that judges each entry is
    :mod:`gradcheck.compare`; the hypotheses that name a bug, :mod:`gradcheck.diagnose`.

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
    >>> scaled = lambda x, a: (a * float(x @ x), 2 * a * x)
    >>> gradcheck.check(scaled, np.array([1.0, 2.0]), args=(3.0,)).ok
    True
    """
    if rng is not None or reseed is not None:  # randomness fixed: the same draws every call
        f, grad, cost, fixed_note = _fixed_randomness(f, grad, rng, reseed, cost)
    extension = Extension(notes=(fixed_note,)) if rng is not None or reseed is not None else None
    if isinstance(x, Mapping):  # parameters as a dict: named blocks, gradients matched by key
        given = DictProblem(f, x, grad, order)
        f, x, blocks = given.cost, given.x, given.layout
        grad = given.gradient if grad is not None else None
        cost = _on_dict(given, cost) if callable(cost) else cost
        extension = Extension(
            notes=extension.notes if extension else (),
            explain=lambda found: ([], list(given.notes)),
        )
    problem = make_problem(
        f,
        x,
        grad,
        args=args,
        kwargs=kwargs,
        blocks=blocks,
        order=order,
        vectorized=vectorized,
        precision=precision,
    )
    extension = _kappa_words(problem, extension)
    second = validated_cost(cost)
    if second is not None:  # two paths of one function: they must agree
        extension = _with_paths(extension, second, seed)
    settings = make_settings(
        method=method,
        step=step,
        mode=mode,
        rtol=rtol,
        atol=atol,
        seed=seed,
        budget=budget,
        nondet_tol=nondet_tol,
        executor=executor,
        workers=workers,
        progress=progress,
        checkpoint=checkpoint,
        timeout=timeout,
    )
    if points is None or (isinstance(points, int) and points == 1):
        if bounds is not None:
            spread_points(problem.x, 1, bounds, settings.seed)  # validated, though unused
        return run(problem, settings, extension)
    return at_points(problem, settings, extension, points, bounds)


PERTURBATION = 1e-2  # points=k: x moved by about this much, relative to max(1, |x_i|)


def spread_points(x: np.ndarray, points: Any, bounds: Any, seed: int) -> list[np.ndarray]:
    """The points of ``points=``: x, then k − 1 seeded perturbations (uniform in
    ±PERTURBATION·max(1, |x_i|), clipped into ``bounds``), or the caller's list of points."""
    if isinstance(points, (int, np.integer)) and not isinstance(points, bool):
        if points < 1:
            raise ValueError(
                f"points must be a whole number ≥ 1 or a list of points, got {points}."
            )
        rng = np.random.default_rng([seed, 13])
        scale = PERTURBATION * np.maximum(1.0, np.abs(x))
        found = [x] + [x + scale * rng.uniform(-1, 1, x.size) for _ in range(int(points) - 1)]
    elif isinstance(points, (list, tuple)) and points:
        found = [np.asarray(p, dtype=float).reshape(-1) for p in points]
        if any(p.size != x.size for p in found):
            raise ValueError(
                f"points must each have x's {x.size} entries, got {[p.size for p in found]}."
            )
    else:
        raise TypeError(f"points must be a whole number or a list of points, got {points!r}.")
    if bounds is not None:
        try:
            lower, upper = (np.broadcast_to(np.asarray(b, dtype=float), x.shape) for b in bounds)
        except (TypeError, ValueError):
            raise ValueError(
                f"bounds must be (lower, upper), numbers or arrays of x's {x.size} entries, "
                f"got {bounds!r}."
            ) from None
        found = [found[0], *(np.clip(p, lower, upper) for p in found[1:])]
    return found


def at_points(
    problem: Problem, settings: Settings, extension: Extension | None, points: Any, bounds: Any
) -> Report:
    """The check at several points (``points=``): the first report that fails, saying at which
    point; else the report at x, saying how many points passed. Evaluations add up."""
    where = spread_points(problem.x, points, bounds, settings.seed)  # validates both
    total = 0
    first: Report | None = None
    for k, p in enumerate(where):
        report = run(replace(problem, x=p), settings, extension)
        total += report.evaluations
        first = first or report
        if not report.ok:
            said = (
                "x itself"
                if k == 0
                else f"point {k + 1} of {len(where)} (x moved by ≈ {PERTURBATION:g}·max(1, |x_i|), seed {settings.seed})"
            )
            note = f"failed at {said}; " + (
                f"the {k} point(s) before it passed." if k else "the other points were not checked."
            )
            return replace(report, evaluations=total, notes=[*report.notes, note])
    assert first is not None
    note = f"passed at {len(where)} points: x and {len(where) - 1} more (points={points!r})."
    return replace(first, evaluations=total, notes=[*first.notes, note])


def _kappa_words(problem: Problem, extension: Extension | None) -> Extension | None:
    """κ in units of λ/m when f's arguments include the course's λ and X (gradcheck.course)."""
    from .course import kappa_in_lambda_over_m  # course builds on this module

    reword = kappa_in_lambda_over_m(problem.f, problem.args, problem.kwargs, problem.layout)
    if reword is None:
        return extension
    if extension is None:
        return Extension(reword=reword)
    return replace(extension, reword=reword)


def _on_dict(given: DictProblem, cost: Callable[..., Any]) -> Callable[..., Any]:
    """A cost-only function of the parameters' dict, as a function of the flat vector."""
    return lambda z, *args, **kwargs: cost(given.unpack(z), *args, **kwargs)


def _with_paths(extension: Extension | None, cost: Callable[..., Any], seed: Any) -> Extension:
    """The extension that also compares the cost-only path with f's (gradcheck.paths)."""
    paths = partial(compare_paths, cost, seed if isinstance(seed, int) else 0)
    if extension is None or extension.explain is None:
        return replace(extension or Extension(), explain=paths)
    first = extension.explain

    def both(found: Findings) -> tuple[list[Diagnosis], list[str]]:
        d1, n1 = first(found)
        d2, n2 = paths(found)
        return [*d1, *d2], [*n1, *n2]

    return replace(extension, explain=both)


def _fixed_randomness(
    f: Callable[..., Any],
    grad: Callable[..., Any] | None,
    rng: str | None,
    reseed: Callable[[], Any] | None,
    cost: Any = None,
) -> tuple[Callable[..., Any], Callable[..., Any] | None, Any, str]:
    """f (and grad, and the cost-only path) with the random states restored before every call
    (gradcheck.callbacks)."""
    if rng not in (None, "restore"):
        raise ValueError(f"rng must be None or 'restore', got {rng!r}.")
    if reseed is not None and not callable(reseed):
        raise TypeError(f"reseed must be a callable that resets f's randomness, got {reseed!r}.")
    snapshot = RngSnapshot(states=rng == "restore", reseed=reseed)
    how = "rng='restore'" if rng else "reseed="
    note = (
        "the derivative was checked under fixed randomness: the random states f draws from were "
        f"restored before every call ({how}), so every call drew the same numbers."
    )
    same = RestoredRng(grad, snapshot) if grad is not None else None
    second = RestoredRng(cost, snapshot) if callable(cost) else cost
    return RestoredRng(f, snapshot), same, second, note


def run(
    problem: Problem,
    settings: Settings,
    extension: Extension | None = None,
    ledger: Ledger | None = None,
) -> Report:
    """The stages of a check, in order (see the module docstring)."""
    clock = time.perf_counter()
    ev = Evaluator(
        problem.f,
        args=problem.args,
        kwargs=problem.kwargs,
        executor=settings.executor,
        workers=settings.workers,
        progress=settings.progress,
        vectorized=problem.vectorized,
        timeout=settings.timeout,
        ledger=ledger or Ledger(),
    )
    rng = np.random.default_rng(settings.seed)
    with captured() as printed:  # what f prints is counted, not shown (gradcheck.output)
        probes = probe(ev, problem)  # f and its gradient at x: one call
        if not probes.usable:
            return _report(problem, settings, ev, clock, probes, None, extension, printed)
        plan = make_plan(problem, settings, ev, rng)  # the mode, 'auto' decided from that call
        if vocabulary.MODES[plan.mode].by_direction:
            judged = _directional(ev, problem, settings, probes, rng)
        else:
            judged = _full(ev, problem, settings, probes, plan, rng)
    return _report(problem, settings, judged.ev, clock, judged.probes, judged, extension, printed)


def make_plan(
    problem: Problem, settings: Settings, ev: Evaluator, rng: np.random.Generator
) -> Plan:
    """The mode (``'auto'``: full when it should take at most 10 s, from the time per call so
    far and the executor's workers) and the entries to check."""
    n, scheme = problem.n, settings.scheme
    mode = settings.mode
    if mode == "auto":
        per_call = ev.ledger.per_call
        workers = executor_workers(settings.executor, settings.workers) if settings.executor else 1
        full = n <= 100 or scheme.evaluations * n * per_call / workers <= AUTO_FULL_SECONDS
        mode = "full" if full else "directional"
    return Plan(mode, vocabulary.MODES[mode].entries(n, rng))


class Judged(NamedTuple):
    """What a mode's stages produced after the first probe."""

    probes: Probes
    noise: Noise
    tol: Tolerances
    steps: np.ndarray
    comparison: Comparison
    stateful: list[Diagnosis]
    ev: Evaluator  # the evaluator the stages ended with (its checkpoint, if any)


def _full(
    ev: Evaluator,
    problem: Problem,
    settings: Settings,
    probes: Probes,
    plan: Plan,
    rng: np.random.Generator,
) -> Judged:
    """Full and sample mode: determinism, noise, tolerances, every entry, history."""
    probes = determinism(ev, problem, probes)
    ev = _with_checkpoint(ev, problem, settings, probes)
    x, f0, scheme = problem.x, probes.cost, settings.scheme
    noise = estimate_noise(
        ev,
        x,
        f0,
        rng,
        spread=probes.spread,
        needed=scheme.noise_gain > 0,
        eps=precision(problem, probes),
    )
    tol = tolerances(problem, settings, probes, noise)
    if noise.seen.incomplete:  # Ctrl-C (or a lost worker) while probing the noise: stop here
        nothing = _nothing_compared(problem.n)
        return Judged(probes, noise, tol, nothing.step, nothing, [], ev)
    if settings.step is None:
        steps = choose_steps(x, scheme, noise.relative(f0))
    else:
        steps = np.full(problem.n, settings.step)
    stateful: list[Diagnosis] = []

    def midway() -> Seen:  # long runs: the history probe halfway too, after a far point
        found, seen = history(ev, problem, probes, ev.calls - probes.calls, noise.far)
        stateful.extend(found)
        return seen

    comparison = compare_entries(
        ev,
        x,
        f0,
        probes.analytic,
        idx=plan.entries,
        steps=steps,
        scheme=scheme,
        eps_f=noise.eps_f,
        tol=tol,
        describe=partial(entry_name, problem.layout),
        mode=plan.mode,
        midway=midway if plan.entries.size >= MIDWAY_ENTRIES else None,
        shorten=settings.step is None,
    )
    if not comparison.incomplete:
        found, seen = history(ev, problem, probes, after=ev.calls - probes.calls)
        stateful = stateful or found  # the first time it showed is enough
        comparison = replace(comparison, seen=comparison.seen | seen)
    return Judged(probes, noise, tol, steps, comparison, stateful, ev)


def _directional(
    ev: Evaluator, problem: Problem, settings: Settings, probes: Probes, rng: np.random.Generator
) -> Judged:
    """Directional mode: three directions (noise measured only if a failure is borderline),
    localisation if they fail, then f at x again — the history and determinism probe in one.
    A function found to vary at random is checked again with that spread as its noise."""
    ev = _with_checkpoint(ev, problem, settings, probes)
    notes: tuple[str, ...] = ()
    if settings.method not in ("auto", "central"):
        notes += (
            f"directional mode uses central differences; method={settings.method!r} was not used.",
        )
    x, f0 = problem.x, probes.cost
    noise = Noise(noise_floor(f0, precision(problem, probes)), None, False, Seen())

    def adopt(found: Noise) -> Remeasured:
        tol = tolerances(problem, settings, probes, found)
        return Remeasured(found, found.eps_f, max(found.relative(f0), EPS) ** (1 / 3), tol)

    def remeasure() -> Remeasured:  # the noise measured (8 calls), and what follows from it
        eps = precision(problem, probes)
        return adopt(estimate_noise(ev, x, f0, rng, spread=probes.spread, eps=eps))

    for attempt in range(2):
        _, eps_f, step, tol = adopt(noise)
        outcome = compare_directions(
            ev,
            x,
            f0,
            probes.analytic,
            eps_f=eps_f,
            step=step,
            tol=tol,
            rng=rng,
            # Localising spends no more than a full check would: past that, every entry decides.
            budget=min(settings.budget, max(2 * problem.n + 100, FULL_AFTER)),
            layout=problem.layout,
            remeasure=remeasure,
            notes=notes,
        )
        noise, tol, comparison = outcome.noise or noise, outcome.tol, outcome.comparison
        if comparison.incomplete or attempt == 1:
            break
        probes = revisit(ev, problem, probes, after=ev.calls - probes.calls)
        if not probes.random or any(d.kind == "stateful" for d in probes.diagnoses):
            break
        noise = noise._replace(eps_f=max(noise.eps_f, probes.spread))  # spread is noise: again
    unsure = comparison.unexplained_failure or comparison.nonfinite_directions
    stair = comparison.stair is not None or noise.stair is not None  # jumps, not slopes
    unsure |= stair and comparison.mismatched.size > 0
    if unsure and not comparison.incomplete and 2 * problem.n <= settings.budget:
        # Directions failed (or left f's domain) and no entry could be isolated: that is no
        # evidence about any entry. When the budget allows, every entry decides instead.
        full = _full(ev, problem, settings, probes, Plan("full", np.arange(problem.n)), rng)
        note = (
            "the directional test failed without isolating a wrong entry (a kink, a domain "
            "edge or an error spread thinly); every entry was checked instead."
        )
        notes = (note, *full.comparison.notes)
        return full._replace(comparison=replace(full.comparison, notes=notes))
    return Judged(probes, noise, tol, np.array([step]), comparison, [], ev)


def tolerances(problem: Problem, settings: Settings, probes: Probes, noise: Noise) -> Tolerances:
    """The error model's slack for this check: the caller's rtol and atol, or the defaults for
    the precision of f (see :func:`gradcheck.compare.tolerances`)."""
    return compare.tolerances(
        settings.rtol,
        settings.atol,
        eps=precision(problem, probes, noise),
        analytic=probes.analytic,
        wobble=probes.wobble,
    )


def precision(problem: Problem, probes: Probes, noise: Noise | None = None) -> float:
    """The unit round-off of what f computes in: the least precise of x (or ``precision=``),
    the cost and gradient at x (both in ``probes.eps``), the costs seen since, and float32 when
    the noise probe's values are all float32 numbers."""
    seen = probes.seen | (noise.seen if noise is not None else Seen())
    eps = max([probes.eps, *(eps_of(d) for d in seen.dtypes)])  # probes.eps has precision=''s
    return max(eps, FLOAT32_EPS) if noise is not None and noise.float32 else eps


def _with_checkpoint(
    ev: Evaluator, problem: Problem, settings: Settings, probes: Probes
) -> Evaluator:
    """The evaluator with the checkpoint of this problem (keyed by its fingerprint, which needs
    the first probes), opened once: a full check after a directional attempt keeps it. Its
    notes join the report's when it is closed."""
    if settings.checkpoint is None or ev.checkpoint is not None:
        return ev
    fp = fingerprint(
        problem.x, settings.key(), __version__, probes.cost, probes.analytic, probes.spread
    )
    return replace(ev, checkpoint=Checkpoint.open(settings.checkpoint, fp))


def _diagnoses(
    problem: Problem, settings: Settings, probes: Probes, judged: Judged | None, seen: Seen
) -> list[Diagnosis]:
    """In order: what is wrong with f itself, then with the gradient, then warnings."""
    first = list(probes.diagnoses)
    if seen.grad_mutated_at is not None:
        first.insert(0, mutates_input(seen.grad_mutated_at, "grad"))
    if seen.mutated_at is not None:
        first.insert(0, mutates_input(seen.mutated_at))
    if judged is None:
        return first
    noise, tol, comparison = judged.noise, judged.tol, judged.comparison
    if probes.random:
        # The part of a typical entry's tolerance that the spread between calls causes.
        gain = settings.scheme.noise_gain or 1.0
        spread = gain * noise.eps_f / float(np.median(judged.steps)) + probes.wobble
        part = float(tol.allowed(noise=spread, analytic=0.0, numeric=0.0, weight=0.0))
        first.insert(0, nondeterminism(probes, part, settings.nondet_tol))
    found, warnings = diagnose(
        comparison, analytic=probes.analytic, tol=tol, layout=problem.layout, x=problem.x
    )
    warnings += noise_warnings(
        eps_f=noise.eps_f,
        detected=noise.detected,
        f0=probes.cost,
        low_precision=precision(problem, probes, noise) > EPS or seen.low_precision,
        stair=(noise.stair or comparison.stair) if not comparison.stairs.size else None,
    )
    warnings += degenerate_warnings(problem.x, problem.layout)
    return first + judged.stateful + found + warnings


def _report(
    problem: Problem,
    settings: Settings,
    ev: Evaluator,
    clock: float,
    probes: Probes,
    judged: Judged | None,
    extension: Extension | None,
    printed: Printed,
) -> Report:
    """The report, with what an extension adds and what f printed."""
    c = judged.comparison if judged is not None else _nothing_compared(problem.n)
    seen = probes.seen | c.seen | (judged.noise.seen if judged is not None else Seen())
    with crash_notes() as crashed:
        diagnoses = _diagnoses(problem, settings, probes, judged, seen)
    notes = [*problem.notes, *probes.notes, *c.notes, *crashed]
    if printed.note() is not None:
        notes.append(cast(str, printed.note()))
    if ev.checkpoint is not None:  # the check is over: flushed, unlocked, and what it noticed
        ev.checkpoint.close()
        notes += ev.checkpoint.notes
    tol = judged.tol if judged is not None else Tolerances(float("nan"), float("nan"))
    if extension is not None:
        notes += extension.notes
        if extension.reword is not None:
            diagnoses = [extension.reword(d) for d in diagnoses]
        if extension.explain is not None:
            found = Findings(ev, problem, c.mode, c.mismatched, diagnoses, tol)
            more, more_notes = extension.explain(found)
            diagnoses, notes = diagnoses + more, notes + more_notes
    fails = any(d.severity == "fail" for d in diagnoses)
    incomplete = ""
    if seen.interrupted:
        incomplete = "interrupted before the check finished"
    elif seen.timed_out is not None:
        incomplete = seen.timed_out
    elif seen.lost:
        incomplete = f"a worker process died evaluating f {seen.lost[0]}"
        notes += [
            f"a worker process died twice evaluating f {where}: that point was not evaluated. "
            "Find out why f kills its process there (memory, a crash in compiled code); with "
            "checkpoint= a rerun keeps what was done."
            for where in seen.lost
        ]
    return Report(
        ok=not fails and c.mismatched.size == 0 and not incomplete,
        relative_difference=c.relative_difference,
        mismatched=c.mismatched,
        diagnoses=diagnoses,
        evaluations=ev.calls,
        checked=c.checked,
        numeric=c.numeric,
        analytic=probes.analytic,
        error=c.error,
        tolerance=c.tolerance,
        step=c.step,
        layout=problem.layout,
        method=settings.method,
        mode=c.mode,
        step_policy=settings.step_policy if judged is not None else "none",
        noise=judged.noise.eps_f if judged is not None else float("nan"),
        cost=probes.cost,
        seconds=time.perf_counter() - clock,
        rtol=tol.rtol,
        atol=tol.atol,
        safety=tol.safety,
        notes=notes,
        seconds_in_f=ev.seconds_in_f,
        directions=c.directions,
        incomplete=incomplete,
        resolution=c.resolution,
    )


def _nothing_compared(n: int) -> Comparison:
    nan, empty = np.full(n, np.nan), np.array([], dtype=np.intp)
    return Comparison(nan, nan, nan, nan, empty, empty, empty, float("nan"), "none")
