"""Every call of the user's function goes through here.

The evaluator hands ``f`` a private copy of each point (so that ``f`` can never corrupt the
check), notices when ``f`` modifies its argument, counts calls, turns the return value into a
cost, and adds a note to any exception ``f`` raises saying where it was being evaluated. Points
are evaluated by a runner (``RUNNERS``: serially, in batches with ``vectorized=True``, as
(entry, value) pairs to a function that builds its points; :class:`gradcheck.executors.Pool`
on any ``concurrent.futures.Executor`` or Dask client; or a runner of the caller's own,
:class:`RunsPoints`); finished evaluations can be saved to a checkpoint and reused, and Ctrl-C
stops the work and keeps what was done.

The :class:`Evaluator` is a value. What it saw — the dtypes ``f`` returned, whether it
modified its input, whether the work was interrupted — comes back with the values (``Seen``),
never through attributes to be read later. The only running state is the :class:`Ledger`:
calls and seconds spent inside ``f``, memory reused for points, what was sent to workers, and
the verdict of the trial of a vmap's batches (:class:`Batching`).
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any, NamedTuple, Protocol, cast, runtime_checkable

import numpy as np

from .checkpoint import Checkpoint, point_key
from .precision import EPS, eps_of

BATCH = 64  # points per call of a vectorized f


class Seen(NamedTuple):
    """What evaluations showed besides their values."""

    dtypes: frozenset[str] = frozenset()
    mutated_at: str | None = None  # where f was first seen modifying its input
    interrupted: bool = False  # Ctrl-C stopped the work
    lost: tuple[str, ...] = ()  # points whose evaluation killed a worker, twice
    grad_mutated_at: str | None = None  # where ``grad=`` was first seen modifying its input
    timed_out: str | None = None  # where a call of f ran past ``timeout=`` (the check ended)

    def __or__(self, other: Seen) -> Seen:
        return Seen(
            self.dtypes | other.dtypes,
            self.mutated_at if self.mutated_at is not None else other.mutated_at,
            self.interrupted or other.interrupted,
            self.lost + other.lost,
            self.grad_mutated_at if self.grad_mutated_at is not None else other.grad_mutated_at,
            self.timed_out if self.timed_out is not None else other.timed_out,
        )

    @property
    def incomplete(self) -> bool:
        """Whether some evaluations are missing (Ctrl-C, a call past its timeout, or points
        that killed workers)."""
        return self.interrupted or bool(self.lost) or self.timed_out is not None

    @property
    def low_precision(self) -> bool:
        """Whether ``f`` returned costs in a dtype of less than 64 bits."""
        return any(eps_of(d) > EPS for d in self.dtypes)


class Output(NamedTuple):
    """One call of ``f`` at one point: its cost and gradient as ``f`` gave them."""

    cost: Any
    grad: Any
    seen: Seen


class Costs(NamedTuple):
    """Costs at a set of points (NaN where the work was interrupted) and what was seen."""

    values: np.ndarray
    seen: Seen


def split_output(out: Any) -> tuple[Any, Any]:
    """``(cost, grad)`` from what ``f`` returned: a scalar, or a 2-tuple/list (cost, gradient)."""
    if isinstance(out, (tuple, list)):
        if len(out) != 2:
            raise ValueError(
                "f must return a scalar cost or a pair (cost, gradient); "
                f"it returned a {type(out).__name__} of length {len(out)}."
            )
        return out[0], out[1]
    return out, None


def as_scalar(cost: Any) -> complex | float:
    """The cost as a Python number; a size-1 array (a MATLAB 1×1) is accepted."""
    if isinstance(cost, (str, bytes, bool, np.bool_)):
        raise TypeError(
            "f must return its cost as a number (or a pair (cost, gradient)); it returned "
            f"{type(cost).__name__} {cost!r:.60}. Return the float itself."
        )
    arr = np.asarray(cost)
    if arr.dtype.kind in "bSUV":
        raise TypeError(
            f"f must return its cost as a number; it returned an array of dtype {arr.dtype}."
        )
    if arr.size != 1 or arr.dtype == object:
        raise ValueError(
            "f must return a scalar cost (or a pair (cost, gradient)); it returned "
            f"{type(cost).__name__} of shape {arr.shape}. If your function is vector-valued, "
            "check a scalar such as a weighted sum of its outputs."
        )
    value = arr.reshape(())[()]
    if np.iscomplexobj(arr):
        return complex(value)
    return float(value)


@dataclass(frozen=True)
class Points:
    """``count`` points, each ``x`` with the entries ``change(k)[0]`` set to ``change(k)[1]``.

    Iterating yields one reused buffer, valid until the next item: only what is handed to ``f``
    is copied, so a check of n entries never holds n points in memory. With ``owned=True`` each
    ``change(k)`` returns a whole new point ``(slice(None), point)`` that nobody else holds, and
    it is handed to ``f`` as it is (no buffer, no copy: directions over millions of entries).
    """

    x: np.ndarray
    count: int
    change: Callable[[int], tuple[Any, np.ndarray]]
    where: Callable[[int], str]
    owned: bool = False
    # Each point moves one entry: (entries, values), for functions that build the points
    # themselves (an adapter on a GPU: ``f.coordinates(x, entries, values)``).
    coordinates: tuple[np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[np.ndarray]:
        if self.count == 0:
            return
        if self.owned:
            for k in range(self.count):
                yield self.change(k)[1]
            return
        first = self.change(0)
        buffer = self.x.astype(np.result_type(self.x, first[1]), copy=True)
        for k in range(self.count):
            idx, values = first if k == 0 else self.change(k)
            buffer[idx] = values
            yield buffer
            buffer[idx] = self.x[idx]


def explicit_points(x: np.ndarray, points: list[np.ndarray], where: str) -> Points:
    """Points given in full (a few of them: the noise probe's line, say)."""
    everything = slice(None)
    return Points(x, len(points), lambda k: (everything, points[k]), lambda k: where)


SAMPLED = 100_000  # above this size, a point handed over as it is is checked on a sample


class _Alarm(BaseException):
    """Raised by SIGALRM inside a call of f that ran past its timeout (a BaseException, so that
    an ``except Exception`` in f does not swallow it)."""


class FunctionTimeout(TimeoutError):
    """A call of f did not return within ``timeout=`` seconds; ``where`` names the point."""

    def __init__(self, seconds: float, where: str) -> None:
        super().__init__(f"f did not return within timeout={seconds:g} s {where}".rstrip())
        self.seconds, self.where = seconds, where

    def __reduce__(self) -> Any:  # travels back from worker processes
        return (FunctionTimeout, (self.seconds, self.where), self.__dict__)


@contextmanager
def _deadline(seconds: float | None) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (SIGALRM: POSIX, main thread only; elsewhere, and
    in compiled code that does not return to Python, no timeout applies)."""
    usable = (
        seconds is not None
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def ring(signum: int, frame: Any) -> None:
        raise _Alarm

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, cast(float, seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@runtime_checkable
class ReadsOnly(Protocol):
    """A vectorized f that copies what it reads and never writes into or keeps its input
    (``reads_only = True``): it is handed a batch's rows as they are, without a private copy
    (watched on a sample). The torch adapter's batched function is one."""

    reads_only: bool


@runtime_checkable
class BuildsPoints(Protocol):
    """A vectorized f that builds perturbed points itself from (entry, value) pairs — on a GPU,
    so that a point of n entries never exists on the host: ``coordinates(x, entries, values)``
    returns one cost per pair, ``batch_size`` pairs at a time."""

    batch_size: int

    def coordinates(self, x: np.ndarray, entries: np.ndarray, values: np.ndarray) -> Any: ...


@runtime_checkable
class Batching(Protocol):
    """A vectorized f whose batches come from a transformation that may refuse a function or
    change what it computes (``torch.func.vmap``, ``jax.vmap``), with its one-point twin
    ``serial(point)``. Its batches are used only after they agreed with ``serial``: on the
    first batch of ``batch_from`` points or more, two of its points go through both (four
    evaluations, counted like any), the batch on a private copy that must come back unchanged.
    Smaller batches (a directional verdict's six points), and every batch once the trial failed,
    are evaluated one point at a time with ``serial``. The trial's verdict is the ledger's
    ``batches`` (``AGREED``, ``REFUSED``, ``DIFFERED`` or ``WROTE``)."""

    batch_from: int
    serial: Callable[..., Any]


AGREED, REFUSED, DIFFERED, WROTE = "agreed", "refused", "differed", "wrote into its input"


@dataclass(frozen=True)
class Vmapped:
    """A batched function and its one-point twin, declared as :class:`Batching` (what an
    adapter whose batches come from a vmap hands to the evaluator)."""

    batched: Callable[..., Any]
    serial: Callable[..., Any]
    batch_from: int = 16

    def __call__(self, points: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        return self.batched(points, *args, **kwargs)


def reads_only(f: Any) -> bool:
    """Whether f declares :class:`ReadsOnly` (and says True)."""
    return isinstance(f, ReadsOnly) and bool(f.reads_only)


class Call(NamedTuple):
    """The user's function with the extra arguments it is always called with, and the longest
    a call may take (``timeout``, seconds; None: no limit)."""

    f: Callable[..., Any]
    args: tuple = ()
    kwargs: Mapping[str, Any] = {}
    timeout: float | None = None

    def __call__(
        self, point: np.ndarray, copy: bool = True, into: np.ndarray | None = None
    ) -> tuple[Any, bool]:
        """``f`` on a private copy of ``point`` (one point, or a (k, n) batch; written
        ``into`` memory given for it); also whether ``f`` modified it. With ``copy=False`` the
        point is already private and is handed over as it is; whether f modifies it is then
        seen on a sample of its entries when it is large (a sweeping ``x -= …`` is caught, a
        single changed entry may not be). A call past ``timeout`` raises :class:`_Alarm`."""
        if self.timeout is not None:
            with _deadline(self.timeout):
                return self._call(point, copy, into)
        return self._call(point, copy, into)

    def _call(
        self, point: np.ndarray, copy: bool = True, into: np.ndarray | None = None
    ) -> tuple[Any, bool]:
        if copy:
            if into is None:
                arg = point.copy()
            else:
                arg = into
                np.copyto(arg, point)
            out = self.f(arg, *self.args, **self.kwargs)
            if np.array_equal(arg, point):
                return out, False
            return out, not np.array_equal(arg, point, equal_nan=True)
        watch = (
            slice(None)
            if point.size <= SAMPLED
            else np.linspace(0, point.shape[-1] - 1, 512, dtype=np.intp)  # of each row
        )
        before = point[..., watch].copy()
        out = self.f(point, *self.args, **self.kwargs)
        return out, not np.array_equal(point[..., watch], before, equal_nan=True)


# Whether sys.getrefcount tells that nothing else holds an array (CPython up to 3.13; later
# versions may not count every reference, so points are then always fresh memory).
_UNSHARED = sys.implementation.name == "cpython" and sys.version_info < (3, 14)
REUSED = 65_536  # points of this many entries or more are written into reused memory


@dataclass
class Spare:
    """Memory for points of n entries. A point handed to f that nothing refers to any more
    once f returned (f did not keep it, nor a view of it) is written over for a later point:
    a fresh array costs its page faults, about as much as building the point. At most two
    are kept, so that an f that keeps its points never makes this keep more."""

    handed: list[np.ndarray] = field(default_factory=list)

    def take(self, like: np.ndarray) -> np.ndarray:
        """An array shaped like ``like``, its contents undefined."""
        for point in self.handed:  # (not enumerate: its tuple would count as a reference)
            if (
                _UNSHARED
                and point.shape == like.shape
                and point.dtype == like.dtype
                and sys.getrefcount(point) <= 3  # the list, `point`, the argument
            ):
                self.handed = [p for p in self.handed if p is not point]
                return point
        return np.empty_like(like)

    def hand(self, point: np.ndarray) -> np.ndarray:
        """Note that ``point`` goes to f (and may come back for reuse)."""
        self.handed = [*self.handed[-1:], point]
        return point

    def clear(self) -> None:
        self.handed = []


def _batch_text(points: Points, count: int, first: int) -> str:
    return f"on a batch of {count} points, the first {points.where(first)}"


def _cost(out: Any) -> tuple[complex | float, str]:
    """The cost ``f`` returned, as a number, and the dtype it came in."""
    cost = split_output(out)[0]
    if type(cost) is float or type(cost) is np.float64:  # the common case, fast
        return float(cost), "float64"
    return as_scalar(cost), np.asarray(cost).dtype.name


def _text(where: str | Callable[[], str]) -> str:
    return where if isinstance(where, str) else where()


def raised_in_user_code(exc: BaseException, what: str, where: str) -> None:
    """Mark an exception of the user's code (``what``: f, grad, a vjp): a note saying where it
    was being evaluated, and ``exc.gradcheck_where``, the typed marker the command reads to
    tell "your function raised" (exit 3) from a usage error (exit 2)."""
    exc.add_note(f"gradcheck: raised while evaluating {what} {where}.")
    exc.gradcheck_where = f"{what} {where}"  # type: ignore[attr-defined]


def _raised_at(exc: BaseException, where: str | Callable[[], str]) -> None:
    """The note every exception of f gets: where it was being evaluated."""
    raised_in_user_code(exc, "f", _text(where))


@dataclass
class Sink:
    """The one bookkeeper of a set of evaluations, whoever ran them: values, what was seen,
    the checkpoint, the progress bar."""

    values: np.ndarray
    done: np.ndarray
    checkpoint: Checkpoint | None
    bar: Any
    dtypes: set[str] = field(default_factory=set)
    mutated_at: str | None = None
    interrupted: bool = False
    lost: list[str] = field(default_factory=list)
    timed_out: str | None = None

    def store(
        self, k: int, key: str, cost: Any, dtype: str, mutated: bool, where: Callable[[int], str]
    ) -> None:
        """Keep a cost; ``where(k)`` names the point, only when a message needs it."""
        self.values[k], self.done[k] = cost, True
        self.dtypes.add(dtype)
        if mutated and self.mutated_at is None:
            self.mutated_at = where(k)
        if self.checkpoint is not None:
            self.checkpoint.record(key, self.values[k])
        if self.bar is not None:
            self.bar[0].advance(self.bar[1])

    def store_many(
        self,
        ks: np.ndarray,
        keys: dict[int, str],
        out: Any,
        mutated: bool,
        where: Callable[[int], str],
    ) -> None:
        """Keep the costs of a batch (f's output, one per point ``ks[j]``) in one step: what
        ``store`` does point by point, without a Python step per point (a GPU's batches bring
        millions of them)."""
        costs = np.asarray(out).reshape(-1)
        if costs.size != ks.size:
            raise ValueError(
                f"vectorized=True: f must return one cost per point of a batch (per row of a "
                f"(k, n) input); given k = {ks.size} points it returned shape {np.shape(out)}."
            )
        if costs.dtype == object:  # numbers as Python objects: each read as ``store`` reads it
            self.values[ks] = [as_scalar(c) for c in costs]
        else:
            self.values[ks] = costs
        self.done[ks] = True
        self.dtypes.add(costs.dtype.name)
        if mutated and self.mutated_at is None:
            self.mutated_at = where(int(ks[0]))
        if self.checkpoint is not None:
            for k in ks.tolist():
                self.checkpoint.record(keys[k], self.values[k])
        if self.bar is not None:
            self.bar[0].advance(self.bar[1], ks.size)

    def seen(self) -> Seen:
        return Seen(
            frozenset(self.dtypes),
            self.mutated_at,
            self.interrupted,
            tuple(self.lost),
            timed_out=self.timed_out,
        )


@dataclass
class Ledger:
    """The running state of one check, shared by its evaluators (and the only running state
    there is): calls of the user's function and seconds inside it, memory reused for points of
    n entries, what was sent once to an executor's workers (f pickled by value, its Dask
    futures), kept so that it is sent once per check, and whether f's batches agreed with one
    point at a time (:class:`Batching`)."""

    calls: int = 0
    seconds: float = 0.0
    spare: Spare = field(default_factory=Spare, repr=False)
    sent: dict[str, Any] = field(default_factory=dict, repr=False)
    batches: str | None = None  # the trial of a Batching f's batches: AGREED, REFUSED, …

    def spend(self, t0: float, calls: int) -> None:
        """Count ``calls`` evaluations of f that began at ``t0`` (``time.perf_counter``)."""
        self.seconds += time.perf_counter() - t0
        self.calls += calls

    @property
    def per_call(self) -> float:
        """Seconds per call of f so far (0 before the first)."""
        return self.seconds / max(self.calls, 1)


def own_runner(executor: Any) -> bool:
    """Whether ``executor=`` is a runner of the caller's own: a :class:`RunsPoints` without
    ``submit`` (an Executor, and a Dask client, whose ``run`` is something else, have one)."""
    return isinstance(executor, RunsPoints) and not callable(getattr(executor, "submit", None))


# A runner evaluates the points ``wanted`` (index → checkpoint key) of ``points`` into the
# sink: it is given f (the Call) and the check's ledger, never an evaluator (see RUNNERS).
Runner = Callable[[Call, Ledger, Points, dict[int, str], Sink], None]


@runtime_checkable
class RunsPoints(Protocol):
    """A way of running f that is none of the built-in ones (a cluster, a queue), passed as
    ``executor=``: its ``run`` is the runner (an object with ``submit`` is an Executor). It evaluates each wanted point (``points`` yields
    them in order; ``points.change(k)`` is what point k changes in ``points.x``) with ``call``,
    counts each call in ``ledger.calls``, and keeps each cost with ``sink.store``."""

    def run(
        self, call: Call, ledger: Ledger, points: Points, wanted: dict[int, str], sink: Sink
    ) -> None: ...


@dataclass(frozen=True)
class Evaluator:
    """Calls ``f(point, *args, **kwargs)`` on copies of points, counting calls and time in the
    ledger. A value: what it holds never changes (a checkpoint opened later makes a new one,
    ``dataclasses.replace``); the running state is the ledger's."""

    f: Callable[..., Any]
    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    executor: Executor | None = None
    workers: int | None = None  # evaluations the executor runs at once (default: CPU count)
    progress: bool | None = None
    vectorized: bool = False
    checkpoint: Checkpoint | None = None
    timeout: float | None = None  # seconds a call of f may take
    ledger: Ledger = field(default_factory=Ledger)

    @property
    def calls(self) -> int:
        """Calls of f so far (by every evaluator sharing this one's ledger)."""
        return self.ledger.calls

    @property
    def seconds_in_f(self) -> float:
        return self.ledger.seconds

    @cached_property
    def call(self) -> Call:
        """f with its arguments (built once: it is called for every point)."""
        return Call(self.f, tuple(self.args), dict(self.kwargs), self.timeout)

    @cached_property
    def runner(self) -> Runner:
        """How the points are evaluated: the row of RUNNERS this evaluator's options pick."""
        if own_runner(self.executor):
            return cast(Runner, self.executor.run)  # type: ignore[union-attr]
        if self.executor is not None:
            from .executors import Pool  # the executor runner, its payload and Dask rows

            return cast(Runner, Pool(self.executor, self.workers).run)
        return RUNNERS["batched" if self.vectorized else "serial"]

    def outputs(self, points: Points) -> list[Any]:
        """What f returns at each point, as it returns it (a vector for ``check_jacobian``)."""
        return [
            timed(self.call, self.ledger, p, partial(points.where, k))[0]
            for k, p in enumerate(points)
        ]

    def at(self, point: np.ndarray, where: str | Callable[[], str] = "at x") -> Output:
        """Evaluate at one point; returns the cost and gradient as ``f`` gave them.

        ``where`` describes the point for messages; a callable is only called when needed, so
        that naming the entry costs nothing on the hot path.
        """
        if isinstance(self.f, Batching):  # one point: its one-point twin
            one = self.call._replace(f=self.f.serial)
            out, mutated = timed(one, self.ledger, point, where)
            out = (_cost(out)[0], None)
        elif self.vectorized:
            out, mutated = timed(self.call, self.ledger, point[None, :], where)
            out = (np.asarray(out).reshape(-1)[0], None)
        else:
            out, mutated = timed(self.call, self.ledger, point, where)
        cost, grad = split_output(out)
        seen = Seen(frozenset({np.asarray(cost).dtype.name}), _text(where) if mutated else None)
        return Output(cost, grad, seen)

    def costs(self, points: Points) -> Costs:
        """Costs at every point, in order (complex where ``f`` returned complex).

        After a Ctrl-C the remaining costs are NaN and ``seen.interrupted`` is True.
        """
        sink = Sink(
            np.full(len(points), np.nan, dtype=complex),
            np.zeros(len(points), dtype=bool),
            self.checkpoint,
            _progress_bar(self.progress, self.ledger, len(points)),
        )
        try:
            todo = _from_checkpoint(self.checkpoint, points, sink)
            self.runner(self.call, self.ledger, points, todo, sink)
        except KeyboardInterrupt:
            sink.interrupted = True
        except FunctionTimeout as exc:
            sink.timed_out = str(exc)
        finally:
            if sink.bar is not None:
                sink.bar[0].stop()
            if self.checkpoint is not None:
                self.checkpoint.flush()
        values = sink.values
        if not np.any(np.imag(values[sink.done])):
            values = np.real(values)
        return Costs(values, sink.seen())


@contextmanager
def inside_f(
    call: Call, ledger: Ledger, calls: int, where: str | Callable[[], str]
) -> Iterator[None]:
    """Time and count ``calls`` evaluations of f (a batch); an exception gets a note saying
    where."""
    t0 = time.perf_counter()
    try:
        yield
    except Exception as exc:
        _raised_at(exc, where)
        raise
    except _Alarm:
        raise timeout_error(call, where) from None
    finally:
        ledger.spend(t0, calls)


def timed(
    call: Call,
    ledger: Ledger,
    point: np.ndarray,
    where: str | Callable[[], str],
    copy: bool = True,
) -> tuple[Any, bool]:
    """One call of f, counted and timed; an exception gets a note saying where. (The hot path:
    written out rather than through ``inside_f``, whose generator costs more than the call
    itself for a cheap f.)"""
    into = None
    if copy and point.ndim == 1 and point.size >= REUSED:
        into = ledger.spare.hand(ledger.spare.take(point))
    t0 = time.perf_counter()
    try:
        return call(point, copy=copy, into=into)
    except Exception as exc:
        _raised_at(exc, where)
        raise
    except _Alarm:
        raise timeout_error(call, where) from None
    finally:
        ledger.spend(t0, 1)


def timeout_error(call: Call, where: str | Callable[[], str]) -> FunctionTimeout:
    """The error of a call past its timeout, naming the point (a note says where, as for an
    error of f's own)."""
    exc = FunctionTimeout(cast(float, call.timeout), _text(where))
    _raised_at(exc, where)
    return exc


def _from_checkpoint(checkpoint: Checkpoint | None, points: Points, sink: Sink) -> dict[int, str]:
    """The points still to evaluate, in order, each with its checkpoint key (``""`` without a
    checkpoint); the others are filled in."""
    if checkpoint is None:
        return dict.fromkeys(range(len(points)), "")
    todo = {}
    for k, p in enumerate(points):
        key = point_key(p)
        hit = checkpoint.get(key)
        if hit is None:
            todo[k] = key
        else:
            sink.values[k], sink.done[k] = hit, True
    return todo


def serial(call: Call, ledger: Ledger, points: Points, wanted: dict[int, str], sink: Sink) -> None:
    """One point at a time."""
    each = iter(points)
    for k in range(len(points)):  # not enumerate(): its tuple would keep the last point
        p = next(each)
        if k not in wanted:
            continue
        if points.owned:  # handed to f as it is: its memory may serve a later point
            ledger.spare.hand(p)
        out, mutated = timed(call, ledger, p, partial(points.where, k), copy=not points.owned)
        cost, dtype = _cost(out)
        sink.store(k, wanted[k], cost, dtype, mutated, points.where)
        del p, out  # before the next point is built: nothing here refers to this one


def batched(call: Call, ledger: Ledger, points: Points, wanted: dict[int, str], sink: Sink) -> None:
    """``BATCH`` points at a time, as the rows of one (k, n) array (``vectorized=True``); a
    function that builds its points itself is given (entry, value) pairs instead."""
    if points.coordinates is not None and isinstance(call.f, BuildsPoints):
        coordinates(call, ledger, points, wanted, sink)
        return
    batch: list[int] = []  # the points in the stack's rows
    stack: np.ndarray | None = None  # rows of the batch (copied for f unless reads_only)
    for k, p in enumerate(points):
        if k in wanted:
            if stack is None:  # the points' dtype: complex for the complex step
                stack = np.empty((min(BATCH, len(wanted)), p.size), dtype=p.dtype)
            stack[len(batch)] = p  # the one copy of the buffer's point
            batch.append(k)
            if points.owned:
                ledger.spare.hand(p)  # copied: its memory may serve a later point
        if len(batch) == BATCH or (batch and k == len(points) - 1):
            ks = np.array(batch, dtype=np.intp)
            _run_batch(call, ledger, points, ks, wanted, cast(np.ndarray, stack)[: ks.size], sink)
            batch = []


def coordinates(
    call: Call, ledger: Ledger, points: Points, wanted: dict[int, str], sink: Sink
) -> None:
    """Batches of (entry, value) pairs to a function that builds the points itself: a point of
    n entries never exists here (n in the millions, the function on a GPU)."""
    entries, values = points.coordinates  # type: ignore[misc]
    base = points.x.copy()
    base.flags.writeable = False  # the function may keep it; nobody may change it
    f = cast(BuildsPoints, call.f)
    size, build = int(f.batch_size or BATCH), f.coordinates
    order = np.fromiter(wanted, dtype=np.intp, count=len(wanted))
    for start in range(0, order.size, size):
        ks = order[start : start + size]
        if isinstance(f, Batching):
            pairs = (entries[ks[:2]], values[ks[:2]])
            if not _batches_agree(call, ledger, ks.size, _built(base, *pairs)):
                one = Points(base, ks.size, partial(_pair, entries, values, ks), str)
                _one_at_a_time(call, ledger, ks, wanted, iter(one), points.where, sink)
                continue
        with inside_f(call, ledger, ks.size, partial(_batch_text, points, ks.size, int(ks[0]))):
            out = build(base, entries[ks], values[ks], *call.args, **call.kwargs)
        sink.store_many(ks, wanted, out, False, str)


def _run_batch(
    call: Call,
    ledger: Ledger,
    points: Points,
    ks: np.ndarray,
    keys: dict[int, str],
    stack: np.ndarray,
    sink: Sink,
) -> None:
    # An f that declares ``reads_only`` (it copies what it reads, and neither writes into nor
    # keeps its input: the torch adapter) is handed the batch's rows as they are, watched on a
    # sample; any other f gets a private copy.
    if isinstance(call.f, Batching) and not _batches_agree(call, ledger, ks.size, _rows(stack)):
        _one_at_a_time(call, ledger, ks, keys, iter(stack), points.where, sink)
        return
    private = not reads_only(call.f)
    first = int(ks[0])
    with inside_f(call, ledger, ks.size, partial(_batch_text, points, ks.size, first)):
        out, mutated = call(stack, copy=private)
    sink.store_many(ks, keys, out, mutated, lambda k: f"on a batch starting {points.where(k)}")


def _pair(
    entries: np.ndarray, values: np.ndarray, ks: np.ndarray, j: int
) -> tuple[Any, np.ndarray]:
    """The change that makes point ``ks[j]``: its entry and value."""
    k = int(ks[j])
    return entries[k], values[k]


Trial = Callable[[], tuple[np.ndarray, Callable[[np.ndarray], bool]]]


def _built(x: np.ndarray, entries: np.ndarray, values: np.ndarray) -> Trial:
    """The trial's points, x with one entry changed each (built only when asked), and the
    test that they came back as they were (no copy of them kept: points of n entries)."""

    def intact(rows: np.ndarray) -> bool:
        for row, e, v in zip(rows, entries, values, strict=True):
            if row[e] != v:
                return False
            row[e] = x[e]
            same = np.array_equal(row, x)
            row[e] = v
            if not same:
                return False
        return True

    def build() -> tuple[np.ndarray, Callable[[np.ndarray], bool]]:
        rows = np.stack([x] * entries.size)
        rows[np.arange(entries.size), entries] = values
        return rows, intact

    return build


def _rows(stack: np.ndarray) -> Trial:
    """The trial's points: the first two rows of a batch (a copy handed over)."""
    return lambda: (stack[:2].copy(), lambda rows: np.array_equal(rows, stack[:2]))


def _batches_agree(
    call: Call,
    ledger: Ledger,
    size: int,
    trial: Trial,
) -> bool:
    """Whether a Batching f's batch of ``size`` points goes through its batches: it is large
    enough, and the trial (run once per check on two of its points: ``trial()`` gives them,
    private, and the test that they came back unchanged) found them agreeing with
    ``serial``."""
    f = cast(Batching, call.f)
    if size < f.batch_from:
        return False
    if ledger.batches is None:
        ledger.batches = _trial(call, ledger, *trial())
    return ledger.batches == AGREED


def _trial(
    call: Call, ledger: Ledger, handed: np.ndarray, intact: Callable[[np.ndarray], bool]
) -> str:
    """Two points through f's batches (``handed``: private) and, found unchanged, through
    ``serial``."""
    t0 = time.perf_counter()
    try:
        got = np.asarray(call.f(handed, *call.args, **call.kwargs), dtype=float).reshape(-1)
    except Exception:  # noqa: BLE001 (a vmap refuses many functions; serial will say why)
        return REFUSED
    finally:
        ledger.spend(t0, len(handed))  # evaluated, whether the batch was refused or not
    if not intact(handed):
        return WROTE
    one = call._replace(f=cast(Batching, call.f).serial)
    where = "checking f's batches against one point at a time"
    want = [_cost(timed(one, ledger, row, where)[0])[0] for row in handed]
    same = got.shape == (len(want),) and np.allclose(got, want, rtol=1e-12, atol=0)
    return AGREED if same else DIFFERED


def _one_at_a_time(
    call: Call,
    ledger: Ledger,
    ks: np.ndarray,
    keys: dict[int, str],
    rows: Iterator[np.ndarray],
    where: Callable[[int], str],
    sink: Sink,
) -> None:
    """The points ``ks`` of a batch (``rows``, in order) through a Batching f's ``serial``,
    each on a private copy."""
    one = call._replace(f=cast(Batching, call.f).serial)
    for k in ks.tolist():
        out, mutated = timed(one, ledger, next(rows), partial(where, k))
        cost, dtype = _cost(out)
        sink.store(k, keys[k], cost, dtype, mutated, where)


# The ways to evaluate a set of points, by name; the executor runner (processes, threads, a
# Dask cluster) is gradcheck.executors.Pool.run.
RUNNERS: dict[str, Runner] = {"serial": serial, "batched": batched, "coordinates": coordinates}


def _progress_bar(show: bool | None, ledger: Ledger, total: int) -> Any:
    if show is None:
        # Only on a terminal, and only when the work will take more than about 2 s.
        show = sys.stderr.isatty() and ledger.per_call * total > 2.0
    if not show or total == 0:
        return None
    from rich.console import Console
    from rich.progress import Progress

    progress = Progress(console=Console(stderr=True), transient=True)
    task = progress.add_task("gradcheck: evaluating f", total=total)
    progress.start()
    return progress, task
