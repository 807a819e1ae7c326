"""Evaluations on an executor: processes, threads, a Dask cluster.

Work travels in chunks: f and its data once (pickled by value with cloudpickle, and on Dask
scattered to every worker once), then per chunk only x and the entries each point changes; only
costs travel back. A chunk holds at most ``CHUNK_SECONDS`` of work, so that a kill loses little
(results are saved as each chunk returns). An exception of f's own keeps its type and gets a note
saying where; a worker that dies, or a task whose data died with its worker, is retried point by
point, and a point is blamed only when it fails on its own. The command's worker processes exit
when their parent dies and are terminated on Ctrl-C (:func:`watch_parent`, :func:`stop_pool`).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import threading
import time
from collections import deque
from concurrent.futures import BrokenExecutor, Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from .evaluate import (
    Call,
    FunctionTimeout,
    Ledger,
    Points,
    Sink,
    _Alarm,
    _cost,
    _raised_at,
    timeout_error,
)

CHUNK = 1024  # most points in one task on an executor (about four tasks a worker)
CHUNK_SECONDS = 0.25  # and at most this much work: a kill loses no more than a chunk's


@dataclass(frozen=True)
class Pool:
    """The executor runner's row: an executor, and how many evaluations it runs at once."""

    executor: Executor
    workers: int | None = None  # default: as a Dask client says, or the CPU count

    def run(
        self, call: Call, ledger: Ledger, points: Points, wanted: dict[int, str], sink: Sink
    ) -> None:
        """Evaluate the points ``wanted`` on the executor, into ``sink`` (a Runner)."""
        # Work travels in chunks: x and f (with the data it holds) once per chunk, then only
        # the entries each point changes; only costs travel back.
        todo = list(wanted.items())
        remote = _Remote(self.executor, call, ledger, points, sink)
        workers = executor_workers(self.executor, self.workers)
        size = max(1, min(CHUNK, -(-len(todo) // (4 * workers))))
        if ledger.per_call > 0:  # a chunk's results are saved when it returns: keep them short
            size = max(1, min(size, int(CHUNK_SECONDS / ledger.per_call)))
        in_flight: deque[tuple[list[tuple[int, str]], Future]] = deque()
        t0 = time.perf_counter()
        try:
            for start in range(0, len(todo), size):
                chunk = todo[start : start + size]
                in_flight.append((chunk, remote.submit([points.change(k) for k, _ in chunk])))
                while len(in_flight) >= 2 * workers + 2:
                    remote.collect(*in_flight.popleft())
            while in_flight:
                remote.collect(*in_flight.popleft())
        finally:
            for _, fut in in_flight:
                fut.cancel()
            remote.close()
            ledger.spend(t0, 0)  # the calls are counted as their chunks return


def scattered(call: Call, ledger: Ledger, client: Any, again: bool = False) -> Any:
    """The payload, sent once to every worker of a Dask client (a future of it, kept in the
    ledger); ``again`` sends it anew (the workers that held it died)."""
    key = f"dask {id(client)}"
    held = ledger.sent.get(key)
    if again or held is None or held[0] is not client or not _same(held[1], call):
        # hash=False: a key of its own. Hashed by content, a second check of the same f on
        # the same client shares the first one's key and loses the data when the first
        # check's future is released (tests/test_evaluate.py).
        future = client.scatter(payload(call, ledger), broadcast=True, hash=False)
        ledger.sent[key] = held = (client, call, future)
    return held[2]


def payload(call: Call, ledger: Ledger) -> tuple[str, bytes]:
    """The function and its arguments, pickled by value once per check (cloudpickle, kept in
    the ledger), with a key."""
    key = f"payload {id(call.f)}"
    held = ledger.sent.get(key)
    if held is not None and _same(held[0], call):
        return cast(tuple[str, bytes], held[1])
    try:
        import cloudpickle

        blob = cloudpickle.dumps(call)
    except Exception as exc:  # noqa: BLE001 (pickling fails with many exception types)
        raise TypeError(
            f"executor= needs a function that can be pickled, and f ({call.f!r}) cannot: "
            f"{type(exc).__name__}: {exc}. Objects such as open files, locks or live "
            "connections cannot travel to another process: create them inside f, or use a "
            "ThreadPoolExecutor."
        ) from None
    ledger.sent[key] = (call, (hashlib.sha1(blob).hexdigest(), blob))
    return cast(tuple[str, bytes], ledger.sent[key][1])


def _same(a: Call, b: Call) -> bool:
    """The same function with the same argument objects (evaluators of one check built from
    one another: what was sent for one serves the other)."""
    return (
        a.f is b.f
        and a.timeout == b.timeout
        and len(a.args) == len(b.args)
        and all(p is q for p, q in zip(a.args, b.args, strict=True))
        and a.kwargs.keys() == b.kwargs.keys()
        and all(a.kwargs[k] is b.kwargs[k] for k in a.kwargs)
    )


_WORKER_CALLS: dict[str, Call] = {}  # in a worker process: the functions it has unpickled


def _call_changes(
    payload: tuple[str, bytes] | Call, x: np.ndarray, changes: list[tuple[Any, np.ndarray]]
) -> list[tuple[complex | float, str, bool]]:
    # Runs in a worker: rebuilds each point from x and its changed entries; only
    # (cost, dtype, mutated) comes back, never the gradient. The function arrives pickled by
    # value (cloudpickle: closures and notebook functions work) and is unpickled once per worker.
    if isinstance(payload, Call):
        call = payload
    else:
        key, blob = payload
        if key not in _WORKER_CALLS:
            _WORKER_CALLS.clear()  # one check at a time: keep only the latest function
            _WORKER_CALLS[key] = pickle.loads(blob)
        call = _WORKER_CALLS[key]
    results: list[tuple[complex | float, str, bool]] = []
    points = Points(x, len(changes), changes.__getitem__, str)
    for position, point in enumerate(points):
        try:
            out, mutated = call(point)
        except Exception as exc:
            exc.gradcheck_position = position  # type: ignore[attr-defined]
            exc.gradcheck_done = results  # type: ignore[attr-defined]
            raise
        except _Alarm:
            late = FunctionTimeout(cast(float, call.timeout), "")
            late.gradcheck_position = position  # type: ignore[attr-defined]
            late.gradcheck_done = results  # type: ignore[attr-defined]
            raise late from None
        results.append((*_cost(out), mutated))
    return results


class _Remote:
    """Evaluations on an executor: chunks submitted, results collected into the sink.

    An exception raised by f itself keeps its type and gets a note saying where. Any other
    failure — a worker process that died, a task the cluster lost — is retried once, point by
    point (on a process of our own if the user's pool is broken), so that a point whose
    evaluation kills a worker again is named and the rest of the work is kept.
    """

    def __init__(
        self, executor: Executor, call: Call, ledger: Ledger, points: Points, sink: Sink
    ) -> None:
        self.call, self.ledger, self.points, self.sink = call, ledger, points, sink
        self.executor: Any = executor
        self.own: Executor | None = None
        threads = isinstance(self.executor, ThreadPoolExecutor)
        self.payload: Any = call if threads else payload(call, ledger)
        self.options: dict[str, Any] = {}
        self.dask = is_dask_client(self.executor)
        if self.dask:
            # A Dask client: the function and its data go to every worker once (scatter), and
            # each task carries only a reference to them.
            self.payload, self.options = scattered(call, ledger, self.executor), {"pure": False}

    def submit(self, changes: list[tuple[Any, np.ndarray]]) -> Future:
        x = self.points.x
        try:
            return self.executor.submit(_call_changes, self.payload, x, changes, **self.options)
        except BrokenExecutor:
            self._replace_broken()
            return self.executor.submit(_call_changes, self.payload, x, changes)

    def collect(self, chunk: list[tuple[int, str]], fut: Future) -> None:
        try:
            results = fut.result()
        except Exception as exc:
            if not hasattr(exc, "gradcheck_position"):
                self._retry(chunk, exc)
                return
            self._store(chunk[: exc.gradcheck_position], getattr(exc, "gradcheck_done", []))
            where = self.points.where(chunk[exc.gradcheck_position][0])
            if isinstance(exc, FunctionTimeout):
                raise timeout_error(self.call, where) from None
            _raised_at(exc, where)
            raise
        self._store(chunk, results)

    def _store(self, chunk: list[tuple[int, str]], results: list[tuple[Any, str, bool]]) -> None:
        self.ledger.calls += len(chunk)
        for (k, key), (cost, dtype, mutated) in zip(chunk, results, strict=True):
            self.sink.store(k, key, cost, dtype, mutated, self.points.where)
        if self.sink.checkpoint is not None:  # each chunk's results on disk as it returns
            self.sink.checkpoint.flush()

    def _retry(self, chunk: list[tuple[int, str]], cause: Exception) -> None:
        """A chunk that failed without an error of f's: again point by point. On Dask, data
        lost with a dead worker (the scattered function) is sent again and does not count
        against a point; a point is blamed only when it fails on its own (on Dask, when the
        scheduler says it killed its workers: ``KilledWorker``)."""
        if isinstance(cause, BrokenExecutor):
            self._replace_broken()
        if self.dask and _lost_data(cause):
            self._rescatter()
        for k, key in chunk:
            for attempt in range(3):
                try:
                    self._store([(k, key)], self.submit([self.points.change(k)]).result())
                    break
                except Exception as exc:
                    if isinstance(exc, FunctionTimeout):
                        raise timeout_error(self.call, self.points.where(k)) from None
                    if hasattr(exc, "gradcheck_position"):
                        _raised_at(exc, self.points.where(k))
                        raise
                    if isinstance(exc, BrokenExecutor):
                        self._replace_broken()
                    if self.dask and _lost_data(exc) and attempt < 2:
                        self._rescatter()
                        continue
                    where = self.points.where(k)
                    self.sink.lost.append(
                        f"{where} ({type(cause).__name__}, then {type(exc).__name__})"
                    )
                    break

    def _rescatter(self) -> None:
        """Send f and its data to the workers again (those that held them died)."""
        self.payload = scattered(self.call, self.ledger, self.executor, again=True)

    def _replace_broken(self) -> None:
        """A pool whose worker died refuses all work: go on with one fresh process of ours."""
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        if self.own is not None:
            self.own.shutdown(wait=False, cancel_futures=True)
        self.own = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        self.executor = self.own
        if isinstance(self.payload, Call):  # threads broke? never; processes need a payload
            self.payload = payload(self.call, self.ledger)

    def close(self) -> None:
        if self.own is not None:
            self.own.shutdown(wait=True, cancel_futures=True)


def _lost_data(exc: BaseException) -> bool:
    """A Dask task that failed because data it needed was lost (its holders died), not because
    it killed its worker: a cancelled future of the scattered payload, a lost dependency."""
    return type(exc).__name__ in ("FutureCancelledError", "CancelledError", "FutureLostError") or (
        "lost" in str(exc).lower() and type(exc).__name__ != "KilledWorker"
    )


def watch_parent(parent: int) -> None:
    """Initializer of worker processes: exit as soon as the parent process is gone (a kill -9
    of the command leaves no worker behind)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.25)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="gradcheck-parent-watch").start()


def stop_pool(executor: Executor, now: bool) -> None:
    """Shut a process pool down: after its work (``now=False``), or at once, terminating its
    processes (one may be inside a call of f that never returns)."""
    if not now:
        executor.shutdown(wait=True, cancel_futures=True)
        return
    table = getattr(executor, "_processes", None)  # ProcessPoolExecutor's own (pid → process)
    processes = list(table.values()) if isinstance(table, dict) else []
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=2)
        if process.is_alive():
            process.kill()


def is_dask_client(executor: Any) -> bool:
    """A ``distributed.Client`` (its own submit and scatter), not a plain Executor."""
    return callable(getattr(executor, "scatter", None)) and callable(
        getattr(executor, "nthreads", None)
    )


def executor_workers(executor: Any, workers: int | None) -> int:
    """How many evaluations an executor runs at once: as given, as a Dask client says, or the
    number of CPUs."""
    if workers:
        return workers
    if is_dask_client(executor):
        return max(1, sum(executor.nthreads().values()))
    return os.cpu_count() or 1
