"""Every call of the user's function goes through here.

The evaluator hands ``f`` a private copy of each point (so that ``f`` can never corrupt the
check), notices when ``f`` modifies its argument, counts calls, turns the return value into a
cost, and adds a note to any exception ``f`` raises saying where it was being evaluated. Points
are evaluated serially, in batches (``vectorized=True``), or on any
``concurrent.futures.Executor``; finished evaluations can be saved to a checkpoint file and
reused, and Ctrl-C stops the work and keeps what was done.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

BATCH = 64  # points per call of a vectorized f, and in flight per executor


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
    arr = np.asarray(cost)
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
    is copied, so a check of n entries never holds n points in memory.
    """

    x: np.ndarray
    count: int
    change: Callable[[int], tuple[Any, np.ndarray]]
    where: Callable[[int], str]

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[np.ndarray]:
        if self.count == 0:
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


def _call(f: Callable[[np.ndarray], Any], point: np.ndarray) -> tuple[Any, bool]:
    """``f`` on a private copy of ``point`` (one point, or a (k, n) batch); also whether ``f``
    modified it. Module-level so that process pools can pickle it."""
    arg = point.copy()
    out = f(arg)
    if np.array_equal(arg, point):
        return out, False
    return out, not np.array_equal(arg, point, equal_nan=True)


def _call_changes(
    f: Callable[[np.ndarray], Any], x: np.ndarray, changes: list[tuple[Any, np.ndarray]]
) -> list[tuple[complex | float, str, bool]]:
    # Runs in a worker: rebuilds each point from x and its changed entries; only
    # (cost, dtype, mutated) comes back, never the gradient.
    results = []
    points = Points(x, len(changes), changes.__getitem__, str)
    for position, point in enumerate(points):
        try:
            out, mutated = _call(f, point)
        except Exception as exc:
            exc.gradcheck_position = position  # type: ignore[attr-defined]
            raise
        results.append((*_cost(out), mutated))
    return results


def _cost(out: Any) -> tuple[complex | float, str]:
    """The cost ``f`` returned, as a number, and the dtype it came in."""
    cost = split_output(out)[0]
    return as_scalar(cost), np.asarray(cost).dtype.name


def _text(where: str | Callable[[], str]) -> str:
    return where if isinstance(where, str) else where()


def _key(point: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(point).tobytes()).hexdigest()


@dataclass
class _Sink:
    """Where finished costs go: the result array, the checkpoint log, the progress bar."""

    values: np.ndarray
    done: np.ndarray
    bar: Any
    log: Any

    def store(self, k: int, point: np.ndarray | str, cost: Any) -> None:
        """Keep a cost; ``point`` is the point or, already computed, its checkpoint key."""
        self.values[k], self.done[k] = as_scalar(cost), True
        if self.log is not None:
            v = self.values[k]
            key = point if isinstance(point, str) else _key(point)
            record = {"key": key, "cost": [v.real, v.imag] if v.imag else v.real}
            self.log.write(json.dumps(record) + "\n")
            self.log.flush()
        if self.bar is not None:
            self.bar[0].advance(self.bar[1])


@dataclass
class Evaluator:
    """Calls ``f`` on copies of points, counting calls and watching for mutation."""

    f: Callable[[np.ndarray], Any]
    executor: Executor | None = None
    progress: bool | None = None
    vectorized: bool = False
    checkpoint: str | os.PathLike[str] | None = None
    calls: int = 0
    mutated_at: str | None = None
    interrupted: bool = False
    seconds_in_f: float = 0.0
    _dtypes: set[str] = field(default_factory=set)
    _cache: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.checkpoint is not None:
            path = Path(self.checkpoint)
            if path.exists():
                for line in path.read_text().splitlines():
                    if line.strip():
                        record = json.loads(line)
                        value = record["cost"]
                        self._cache[record["key"]] = (
                            complex(*value) if isinstance(value, list) else value
                        )

    def __call__(
        self, point: np.ndarray, where: str | Callable[[], str] = "at x"
    ) -> tuple[Any, Any]:
        """Evaluate at one point; returns ``(cost, grad_or_None)`` as ``f`` gave them.

        ``where`` describes the point for messages; a callable is only called when needed, so
        that naming the entry costs nothing on the hot path.
        """
        t0 = time.perf_counter()
        try:
            if self.vectorized:
                out, mutated = _call(self.f, point[None, :])
                out = (np.asarray(out).reshape(-1)[0], None)
            else:
                out, mutated = _call(self.f, point)
        except Exception as exc:
            exc.add_note(f"gradcheck: raised while evaluating f {_text(where)}.")
            raise
        finally:
            self.seconds_in_f += time.perf_counter() - t0
            self.calls += 1
        if mutated and self.mutated_at is None:
            self.mutated_at = _text(where)
        cost, grad = split_output(out)
        self._dtypes.add(np.asarray(cost).dtype.name)
        return cost, grad

    def costs(self, points: Points) -> np.ndarray:
        """Costs at every point, in order (complex where ``f`` returned complex).

        After a Ctrl-C the remaining costs are NaN and ``interrupted`` is True.
        """
        # The log is closed in the finally below; a with-block would not cover the None case.
        log = Path(self.checkpoint).open("a") if self.checkpoint is not None else None  # noqa: SIM115
        sink = _Sink(
            np.full(len(points), np.nan, dtype=complex),
            np.zeros(len(points), dtype=bool),
            self._progress_bar(len(points)),
            log,
        )
        try:
            todo = self._from_checkpoint(points, sink.values, sink.done)
            if self.executor is not None:
                self._on_executor(points, todo, sink)
            elif self.vectorized:
                self._batched(points, todo, sink)
            else:
                self._serial(points, todo, sink)
        except KeyboardInterrupt:
            self.interrupted = True
        finally:
            if sink.bar is not None:
                sink.bar[0].stop()
            if log is not None:
                log.close()
        if not np.any(np.imag(sink.values[sink.done])):
            return np.real(sink.values)
        return sink.values

    def _from_checkpoint(self, points: Points, values: np.ndarray, done: np.ndarray) -> list[int]:
        if not self._cache:
            return list(range(len(points)))
        todo = []
        for k, p in enumerate(points):
            hit = self._cache.get(_key(p))
            if hit is None:
                todo.append(k)
            else:
                values[k], done[k] = hit, True
        return todo

    def _serial(self, points: Points, todo: list[int], sink: _Sink) -> None:
        wanted = set(todo)
        for k, p in enumerate(points):
            if k in wanted:
                cost, _ = self(p, partial(points.where, k))
                sink.store(k, p, cost)

    def _batched(self, points: Points, todo: list[int], sink: _Sink) -> None:
        wanted = set(todo)
        batch: list[tuple[int, np.ndarray]] = []
        for k, p in enumerate(points):
            if k in wanted:
                batch.append((k, p.copy()))
            if len(batch) == BATCH or (batch and k == len(points) - 1):
                self._run_batch(points, batch, sink)
                batch = []

    def _run_batch(self, points: Points, batch: list[tuple[int, np.ndarray]], sink: _Sink) -> None:
        stack = np.stack([p for _, p in batch])
        t0 = time.perf_counter()
        try:
            out, mutated = _call(self.f, stack)
        except Exception as exc:
            exc.add_note(
                f"gradcheck: raised while evaluating f on a batch of {len(batch)} points, "
                f"the first {points.where(batch[0][0])}."
            )
            raise
        finally:
            self.seconds_in_f += time.perf_counter() - t0
            self.calls += len(batch)
        costs = np.asarray(out).reshape(-1)
        if costs.size != len(batch):
            raise ValueError(
                f"vectorized=True: f must return one cost per row of its (k, n) input; given "
                f"k = {len(batch)} points it returned shape {np.shape(out)}."
            )
        if mutated and self.mutated_at is None:
            self.mutated_at = f"on a batch starting {points.where(batch[0][0])}"
        self._dtypes.add(costs.dtype.name)
        for (k, p), cost in zip(batch, costs, strict=True):
            sink.store(k, p, cost)

    def _on_executor(self, points: Points, todo: list[int], sink: _Sink) -> None:
        import pickle

        try:
            pickle.dumps(self.f)
        except Exception as exc:  # noqa: BLE001 (pickling fails with many exception types)
            raise TypeError(
                f"executor= needs a function that can be pickled, and f ({self.f!r}) cannot: "
                f"{exc}. Define f at module level (not a lambda or a closure), or use a "
                "ThreadPoolExecutor."
            ) from None
        # Work travels in chunks: x and f (with the data it holds) once per chunk, then only
        # the entries each point changes; only costs travel back.
        workers = getattr(self.executor, "_max_workers", None) or 2
        size = max(1, min(4 * BATCH, -(-len(todo) // (4 * workers))))
        wanted = set(todo)
        chunk: list[tuple[int, str]] = []
        in_flight: deque[tuple[list[tuple[int, str]], Future]] = deque()
        t0 = time.perf_counter()
        try:
            for k, p in enumerate(points):
                if k in wanted:
                    chunk.append((k, _key(p) if sink.log is not None else ""))
                if chunk and (len(chunk) == size or k == len(points) - 1):
                    changes = [points.change(j) for j, _ in chunk]
                    task = self.executor.submit(_call_changes, self.f, points.x, changes)  # type: ignore[union-attr]
                    in_flight.append((chunk, task))
                    chunk = []
                while len(in_flight) >= 2 * workers + 2:
                    self._collect(points, in_flight.popleft(), sink)
            while in_flight:
                self._collect(points, in_flight.popleft(), sink)
        finally:
            for _, fut in in_flight:
                fut.cancel()
            self.seconds_in_f += time.perf_counter() - t0

    def _collect(
        self, points: Points, item: tuple[list[tuple[int, str]], Future], sink: _Sink
    ) -> None:
        chunk, fut = item
        try:
            results = fut.result()
        except Exception as exc:
            k = chunk[getattr(exc, "gradcheck_position", 0)][0]
            exc.add_note(f"gradcheck: raised while evaluating f {points.where(k)}.")
            raise
        self.calls += len(chunk)
        for (k, p), (cost, dtype, mutated) in zip(chunk, results, strict=True):
            if mutated and self.mutated_at is None:
                self.mutated_at = points.where(k)
            self._dtypes.add(dtype)
            sink.store(k, p, cost)

    def _progress_bar(self, total: int) -> Any:
        show = self.progress
        if show is None:
            # Only on a terminal, and only when the work will take more than about 2 s.
            per_call = self.seconds_in_f / max(self.calls, 1)
            show = sys.stderr.isatty() and per_call * total > 2.0
        if not show or total == 0:
            return None
        from rich.console import Console
        from rich.progress import Progress

        progress = Progress(console=Console(stderr=True), transient=True)
        task = progress.add_task("gradcheck: evaluating f", total=total)
        progress.start()
        return progress, task

    @property
    def low_precision(self) -> bool:
        """Whether ``f`` returned costs in a dtype of less than 64 bits."""
        return any(d in ("float32", "float16", "complex64") for d in self._dtypes)
